//! CronJobs (batch/v1): a Job template and a cron schedule. Defaults are
//! `SetDefaults_CronJob`; validation is `ValidateCronJobCreate`/`Update`, with the schedule
//! parsed as the controller will parse it and `TZ=` prefixes refused in favour of
//! `spec.timeZone`.

use serde_json::{json, Value};

use super::jobs::{default_job_template, validate_job_spec};
use super::pod_template::validate_nonnegative;
use super::strategy::{set_status, Strategy};
use super::wire_shape::ensure;
use crate::sandbox::controllers::cronjob::schedule::{time_zone, Schedule};
use crate::sandbox::status::FieldError;

/// `SetDefaults_CronJob`.
pub fn default_cron_job(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    if spec.get("concurrencyPolicy").and_then(Value::as_str).is_none_or(str::is_empty) {
        spec["concurrencyPolicy"] = json!("Allow");
    }
    ensure(spec, "suspend", json!(false));
    ensure(spec, "successfulJobsHistoryLimit", json!(3));
    ensure(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) = ensure(spec, "jobTemplate", json!({})).and_then(|t| ensure(t, "spec", json!({}))) {
        default_job_template(job_spec);
    }
}

/// `validateScheduleFormat`.
fn validate_schedule(schedule: &str, allow_tz: bool, time_zone: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Err(e) = Schedule::parse(schedule) {
        errs.push(FieldError::invalid("spec.schedule", &json!(schedule), e.to_string()));
    }
    let has_tz = schedule.contains("TZ");
    if allow_tz && has_tz && time_zone.is_some_and(|z| !z.is_null()) {
        errs.push(FieldError::invalid("spec.schedule", &json!(schedule), "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
    } else if !allow_tz && has_tz {
        errs.push(FieldError::invalid(
            "spec.schedule",
            &json!(schedule),
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    }
}

/// `validateTimeZone`.
fn validate_time_zone(zone: &str, errs: &mut Vec<FieldError>) {
    let path = "spec.timeZone";
    if zone.is_empty() {
        return errs.push(FieldError::invalid(path, &json!(zone), "timeZone must be nil or non-empty string"));
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c))
    };
    if !zone.split('/').all(part_ok) {
        return errs.push(FieldError::invalid(path, &json!(zone), format!("unknown time zone {zone}")));
    }
    if zone.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path,
            &json!(zone),
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if time_zone(zone).is_none() {
        errs.push(FieldError::invalid(path, &json!(zone), format!("unknown time zone {zone}")));
    }
}

/// `validateCronJobSpec`; `old` is the stored spec on update.
fn validate_cron_job_spec(spec: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match spec.get("schedule").and_then(Value::as_str).unwrap_or_default() {
        "" => errs.push(FieldError::required("spec.schedule", "")),
        schedule => {
            let allow_tz = old.and_then(|o| o.get("schedule")).and_then(Value::as_str).is_some_and(|s| s.contains("TZ"));
            validate_schedule(schedule, allow_tz, spec.get("timeZone"), &mut errs);
        }
    }
    validate_nonnegative(spec, "startingDeadlineSeconds", &mut errs);
    if old.is_none_or(|o| o.get("timeZone") != spec.get("timeZone")) {
        if let Some(zone) = spec.get("timeZone").and_then(Value::as_str) {
            validate_time_zone(zone, &mut errs);
        }
    }
    match spec.get("concurrencyPolicy").and_then(Value::as_str).unwrap_or_default() {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported("spec.concurrencyPolicy", &json!(other), &["Allow", "Forbid", "Replace"])),
    }
    // ValidateJobTemplateSpec: the job spec's rules, and the selector is always generated.
    let job_spec = spec.pointer("/jobTemplate/spec").cloned().unwrap_or(json!({}));
    errs.extend(validate_job_spec(&job_spec, "spec.jobTemplate.spec"));
    if let Some(s) = job_spec.get("selector").filter(|s| !s.is_null()) {
        errs.push(FieldError::invalid("spec.jobTemplate.spec.selector", s, "`selector` will be auto-generated"));
    }
    if job_spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(FieldError::not_supported("spec.jobTemplate.spec.manualSelector", &json!(true), &["nil", "false"]));
    }
    validate_nonnegative(spec, "successfulJobsHistoryLimit", &mut errs);
    validate_nonnegative(spec, "failedJobsHistoryLimit", &mut errs);
    errs
}

/// `ValidateCronJobCreate`: the spec, and a name short enough for its Jobs' names.
pub fn validate_cron_job(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_cron_job_spec(&obj["spec"], None);
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    // The controller appends `-<minutes since the epoch>` (11 characters) to name a Job.
    if name.len() > 52 {
        errs.push(FieldError::invalid("metadata.name", &json!(name), "must be no more than 52 characters"));
    }
    errs
}

/// The cron job strategy.
pub struct CronJobStrategy;

impl Strategy for CronJobStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_cron_job(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_cron_job(obj)
    }
    /// The 52-character limit is not checked again, so older long names stay editable.
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_cron_job_spec(&new["spec"], Some(&old["spec"]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron_job(schedule: &str, extra: Value) -> Value {
        let mut spec = json!({"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        let mut cj = json!({"metadata": {"name": "hello"}, "spec": spec});
        default_cron_job(&mut cj);
        cj
    }

    #[test]
    fn defaults() {
        let cj = cron_job("*/1 * * * *", json!({}));
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["suspend"], false);
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert!(validate_cron_job(&cj).is_empty(), "{:?}", validate_cron_job(&cj));
    }

    #[test]
    fn validation_rules() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("", json!({}), "spec.schedule: Required value"),
            ("* * *", json!({}), "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"),
            (
                "TZ=UTC 0 * * * *",
                json!({}),
                "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ),
            (
                "0 * * * *",
                json!({"timeZone": "Mars/Olympus"}),
                "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus",
            ),
            ("0 * * * *", json!({"timeZone": ""}), "spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string"),
            (
                "0 * * * *",
                json!({"concurrencyPolicy": "Sometimes"}),
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            ),
            (
                "0 * * * *",
                json!({"startingDeadlineSeconds": -1}),
                "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "0 * * * *",
                json!({"successfulJobsHistoryLimit": -1}),
                "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            ),
        ];
        for (schedule, extra, want) in cases {
            let got: Vec<String> = validate_cron_job(&cron_job(schedule, extra.clone())).iter().map(|e| e.to_message()).collect();
            assert!(got.iter().any(|m| m == want), "{schedule:?} {extra}: {got:?}");
        }
        let mut always = cron_job("0 * * * *", json!({}));
        always["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let got: Vec<String> = validate_cron_job(&always).iter().map(|e| e.to_message()).collect();
        assert_eq!(got, vec!["spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]);
        assert!(validate_cron_job(&cron_job("0 9 * * *", json!({"timeZone": "Etc/UTC"}))).is_empty());
        let mut long = cron_job("0 * * * *", json!({}));
        long["metadata"]["name"] = json!("x".repeat(53));
        assert_eq!(validate_cron_job(&long)[0].field, "metadata.name");
    }

    #[test]
    fn an_old_tz_schedule_stays_editable() {
        let old = cron_job("TZ=UTC 0 * * * *", json!({}));
        let mut new = old.clone();
        new["spec"]["suspend"] = json!(true);
        assert!(CronJobStrategy.validate_update(&old, &new).is_empty());
    }
}
