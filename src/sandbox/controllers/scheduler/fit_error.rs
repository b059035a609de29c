//! `framework.FitError`: why no node fits, as the pod's PodScheduled condition and the
//! FailedScheduling event say it (`0/3 nodes are available: 1 Insufficient cpu, 2
//! node(s) had untolerated taint(s). preemption: ...`).

use super::filters::Status;

/// `NoNodeAvailableMsg`.
const NO_NODE_AVAILABLE: &str = "0/{} nodes are available";

/// `ErrNoNodesAvailable`: the cluster has no nodes at all.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// A failed scheduling attempt over `num_all_nodes` nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// Each rejected node's status (`NodeToStatus`'s explicit nodes).
    pub node_to_status: Vec<(String, Status)>,
    /// The status of every node not listed (`AbsentNodesStatus`), if any.
    pub absent: Option<Status>,
    /// What PostFilter (preemption) said, appended after the filters' histogram.
    pub post_filter_msg: String,
}

impl std::fmt::Display for FitError {
    /// `FitError.Error()`: the reasons counted over nodes, sorted as strings ("10 x"
    /// before "2 y", as Go's `sort.Strings`), then the PostFilter message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut counts: Vec<(String, usize)> = Vec::new();
        let mut count = |reason: &str, n: usize| match counts.iter_mut().find(|(r, _)| r == reason) {
            Some((_, c)) => *c += n,
            None => counts.push((reason.to_string(), n)),
        };
        for (_, s) in &self.node_to_status {
            for r in &s.reasons {
                count(r, 1);
            }
        }
        if self.node_to_status.len() < self.num_all_nodes {
            if let Some(absent) = &self.absent {
                for r in &absent.reasons {
                    count(r, self.num_all_nodes - self.node_to_status.len());
                }
            }
        }
        let mut histogram: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
        histogram.sort();
        write!(f, "{}:", NO_NODE_AVAILABLE.replace("{}", &self.num_all_nodes.to_string()))?;
        if !histogram.is_empty() {
            write!(f, " {}.", histogram.join(", "))?;
        }
        if !self.post_filter_msg.is_empty() {
            write!(f, " {}", self.post_filter_msg)?;
        }
        Ok(())
    }
}

/// `validation.NoteLengthLimit`: an event's note is cut to this many bytes.
const NOTE_LENGTH_LIMIT: usize = 1024;

/// `truncateMessage`: what the FailedScheduling event says of a long message.
pub fn truncate_message(message: &str) -> String {
    if message.len() <= NOTE_LENGTH_LIMIT {
        return message.to_string();
    }
    let suffix = " ...";
    let mut end = NOTE_LENGTH_LIMIT - suffix.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::super::filters::Code;
    use super::*;

    fn status(plugin: &'static str, code: Code, reasons: &[&str]) -> Status {
        Status { code, reasons: reasons.iter().map(|r| r.to_string()).collect(), plugin }
    }

    #[test]
    fn fit_error_text_is_upstreams() {
        let cpu = || status("NodeResourcesFit", Code::Unschedulable, &["Insufficient cpu"]);
        let taint = || status("TaintToleration", Code::UnschedulableAndUnresolvable, &["node(s) had untolerated taint(s)"]);
        let not_helpful = status("DefaultPreemption", Code::UnschedulableAndUnresolvable, &["Preemption is not helpful for scheduling"]);
        let cases: Vec<(FitError, &str)> = vec![
            (
                FitError {
                    num_all_nodes: 2,
                    node_to_status: vec![("a".into(), cpu()), ("b".into(), cpu())],
                    absent: None,
                    post_filter_msg: "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.".into(),
                },
                "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
            ),
            (
                FitError {
                    num_all_nodes: 3,
                    node_to_status: vec![
                        ("a".into(), taint()),
                        ("b".into(), status("NodeResourcesFit", Code::Unschedulable, &["Too many pods", "Insufficient cpu", "Insufficient memory"])),
                        ("c".into(), cpu()),
                    ],
                    absent: None,
                    post_filter_msg: String::new(),
                },
                "0/3 nodes are available: 1 Insufficient memory, 1 Too many pods, 1 node(s) had untolerated taint(s), 2 Insufficient cpu.",
            ),
            (
                // The preemption FitError: nodes it did not try are "not helpful".
                FitError { num_all_nodes: 12, node_to_status: vec![("a".into(), cpu())], absent: Some(not_helpful.clone()), post_filter_msg: String::new() },
                "0/12 nodes are available: 1 Insufficient cpu, 11 Preemption is not helpful for scheduling.",
            ),
            (FitError { num_all_nodes: 0, node_to_status: vec![], absent: Some(not_helpful), post_filter_msg: String::new() }, "0/0 nodes are available:"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn long_messages_are_cut_for_the_event() {
        let long = "x".repeat(2000);
        let cut = truncate_message(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.ends_with(" ..."));
        assert_eq!(truncate_message("short"), "short");
    }
}
