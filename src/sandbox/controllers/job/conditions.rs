//! A Job's conditions (`pkg/controller/job/job_controller.go`): since v1.31 a job is
//! first marked `SuccessCriteriaMet` or `FailureTarget`, its remaining pods are stopped,
//! and only then does it get the terminal `Complete` or `Failed` (so a client waiting for
//! `complete` knows no pod of it still runs). `Suspended` says whether it is paused.

use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUSPENDED: &str = "Suspended";

/// Why a job ends: the reason and message its conditions and Event carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `CompletionsReached`.
    Completed,
    /// `BackoffLimitExceeded`.
    BackoffLimitExceeded,
    /// `DeadlineExceeded` (`activeDeadlineSeconds`).
    DeadlineExceeded,
}

impl Outcome {
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Completed => "CompletionsReached",
            Outcome::BackoffLimitExceeded => "BackoffLimitExceeded",
            Outcome::DeadlineExceeded => "DeadlineExceeded",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            Outcome::Completed => "Reached expected number of succeeded pods",
            Outcome::BackoffLimitExceeded => "Job has reached the specified backoff limit",
            Outcome::DeadlineExceeded => "Job was active longer than specified deadline",
        }
    }
    /// The interim condition, set as soon as the outcome is known.
    pub fn interim(self) -> &'static str {
        if self == Outcome::Completed {
            SUCCESS_CRITERIA_MET
        } else {
            FAILURE_TARGET
        }
    }
    /// The terminal condition, set once no pod of the job runs.
    pub fn terminal(self) -> &'static str {
        if self == Outcome::Completed {
            COMPLETE
        } else {
            FAILED
        }
    }
    /// The outcome an interim condition already records.
    pub fn recorded(status: &JobStatus) -> Option<Outcome> {
        let c = status
            .conditions
            .iter()
            .flatten()
            .find(|c| (c.type_ == SUCCESS_CRITERIA_MET || c.type_ == FAILURE_TARGET) && c.status == "True")?;
        Some(match c.reason.as_deref() {
            Some("DeadlineExceeded") => Outcome::DeadlineExceeded,
            Some("BackoffLimitExceeded") => Outcome::BackoffLimitExceeded,
            _ if c.type_ == SUCCESS_CRITERIA_MET => Outcome::Completed,
            _ => Outcome::BackoffLimitExceeded,
        })
    }
}

pub fn is_true(status: &JobStatus, type_: &str) -> bool {
    status.conditions.iter().flatten().any(|c| c.type_ == type_ && c.status == "True")
}

/// `IsJobFinished`: `Complete` or `Failed` is true.
pub fn is_finished(status: &JobStatus) -> bool {
    is_true(status, COMPLETE) || is_true(status, FAILED)
}

/// `ensureJobConditionStatus`: adds the condition or updates it in place; the transition
/// time moves only when the status does. Returns whether anything changed.
pub fn ensure(status: &mut JobStatus, type_: &str, value: &str, reason: &str, message: &str, now: Timestamp) -> bool {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status == value && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message) {
                return false;
            }
            if c.status != value {
                c.last_transition_time = Some(Time(now));
            }
            c.status = value.into();
            c.reason = Some(reason.into());
            c.message = Some(message.into());
            c.last_probe_time = Some(Time(now));
            true
        }
        None => {
            // A `False` condition the job never had is not worth adding.
            if value == "False" {
                return false;
            }
            conds.push(JobCondition {
                type_: type_.into(),
                status: value.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_probe_time: Some(Time(now)),
                last_transition_time: Some(Time(now)),
            });
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interim_then_terminal() {
        let now = Timestamp::UNIX_EPOCH;
        let mut st = JobStatus::default();
        assert!(ensure(&mut st, Outcome::Completed.interim(), "True", "CompletionsReached", Outcome::Completed.message(), now));
        assert_eq!(Outcome::recorded(&st), Some(Outcome::Completed));
        assert!(!is_finished(&st));
        assert!(!ensure(&mut st, SUCCESS_CRITERIA_MET, "True", "CompletionsReached", Outcome::Completed.message(), now), "no change");
        assert!(ensure(&mut st, COMPLETE, "True", "CompletionsReached", Outcome::Completed.message(), now));
        assert!(is_finished(&st));
        assert!(!ensure(&mut st, SUSPENDED, "False", "JobResumed", "Job resumed", now), "a new False condition is not added");
        let mut failed = JobStatus::default();
        ensure(&mut failed, FAILURE_TARGET, "True", "DeadlineExceeded", Outcome::DeadlineExceeded.message(), now);
        assert_eq!(Outcome::recorded(&failed), Some(Outcome::DeadlineExceeded));
    }
}
