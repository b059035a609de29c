//! The namespace's deletion conditions (`status_condition_utils.go`): five condition types,
//! each `False` with an ok reason unless this pass found the failure it names.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NamespaceCondition, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// `conditionTypes` with their ok reason and message.
const CONDITION_TYPES: &[(&str, &str, &str)] = &[
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
];

/// What one deletion pass found (`namespaceConditionUpdater`).
#[derive(Debug, Default)]
pub struct ConditionUpdater {
    failures: Vec<(&'static str, &'static str, String)>,
    delete_content_errors: Vec<String>,
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl ConditionUpdater {
    pub fn discovery_failed(&mut self, err: &str) {
        self.failures.push(("NamespaceDeletionDiscoveryFailure", "DiscoveryFailed", err.to_string()));
    }

    pub fn delete_content_failed(&mut self, err: String) {
        self.delete_content_errors.push(err);
    }

    /// `ProcessContentTotals`: resources (`pods.` for the core group) and finalizers left.
    pub fn content_totals(&mut self, remaining: &BTreeMap<String, usize>, finalizers: &BTreeMap<String, usize>) {
        let mut resources: Vec<String> =
            remaining.iter().filter(|(_, n)| **n > 0).map(|(r, n)| format!("{r} has {n} resource instances")).collect();
        if !resources.is_empty() {
            resources.sort();
            self.failures.push((
                "NamespaceContentRemaining",
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", resources.join(", ")),
            ));
        }
        let mut by_finalizer: Vec<String> =
            finalizers.iter().filter(|(_, n)| **n > 0).map(|(f, n)| format!("{f} in {n} resource instances")).collect();
        if !by_finalizer.is_empty() {
            by_finalizer.sort();
            self.failures.push((
                "NamespaceFinalizersRemaining",
                "SomeFinalizersRemain",
                format!("Some content in the namespace has finalizers remaining: {}", by_finalizer.join(", ")),
            ));
        }
    }

    /// `Update`: brings `status.conditions` to this pass's findings; whether anything changed.
    pub fn update(mut self, status: &mut NamespaceStatus) -> bool {
        if !self.delete_content_errors.is_empty() {
            let mut msgs = std::mem::take(&mut self.delete_content_errors);
            msgs.sort();
            self.failures.push((
                "NamespaceDeletionContentFailure",
                "ContentDeletionFailed",
                format!("Failed to delete all resource types, {} remaining: {}", msgs.len(), msgs.join(", ")),
            ));
        }
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        let mut changed = false;
        for (kind, ok_reason, ok_message) in CONDITION_TYPES {
            let (status_value, reason, message) = match self.failures.iter().find(|(t, _, _)| t == kind) {
                Some((_, reason, message)) => ("True", *reason, message.clone()),
                None => ("False", *ok_reason, ok_message.to_string()),
            };
            match conditions.iter_mut().find(|c| c.type_ == *kind) {
                None => {
                    conditions.push(NamespaceCondition {
                        type_: kind.to_string(),
                        status: status_value.into(),
                        reason: Some(reason.into()),
                        message: Some(message),
                        last_transition_time: Some(now()),
                    });
                    changed = true;
                }
                Some(old) => {
                    if old.status != status_value
                        || old.reason.as_deref() != Some(reason)
                        || old.message.as_deref() != Some(message.as_str())
                    {
                        if old.status != status_value {
                            old.last_transition_time = Some(now());
                        }
                        old.status = status_value.into();
                        old.reason = Some(reason.into());
                        old.message = Some(message);
                        changed = true;
                    }
                }
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(s: &'a NamespaceStatus, t: &str) -> &'a NamespaceCondition {
        s.conditions.as_ref().and_then(|c| c.iter().find(|c| c.type_ == t)).expect("the condition is there")
    }

    #[test]
    fn conditions_say_what_remains_then_that_all_is_gone() {
        let mut status = NamespaceStatus::default();
        let mut u = ConditionUpdater::default();
        u.content_totals(
            &BTreeMap::from([("pods.".to_string(), 2), ("configmaps.".to_string(), 0)]),
            &BTreeMap::from([("example.com/hold".to_string(), 2)]),
        );
        assert!(u.update(&mut status));
        assert_eq!(status.conditions.as_ref().map(Vec::len), Some(5));
        let remaining = find(&status, "NamespaceContentRemaining");
        assert_eq!((remaining.status.as_str(), remaining.reason.as_deref()), ("True", Some("SomeResourcesRemain")));
        assert_eq!(remaining.message.as_deref(), Some("Some resources are remaining: pods. has 2 resource instances"));
        let finalizers = find(&status, "NamespaceFinalizersRemaining");
        assert_eq!(
            finalizers.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances")
        );
        let content = find(&status, "NamespaceDeletionContentFailure");
        assert_eq!((content.status.as_str(), content.reason.as_deref()), ("False", Some("ContentDeleted")));
        // The same findings again change nothing.
        let mut again = ConditionUpdater::default();
        again.content_totals(&BTreeMap::from([("pods.".to_string(), 2)]), &BTreeMap::from([("example.com/hold".to_string(), 2)]));
        assert!(!again.update(&mut status));
        // Nothing left: every condition False with its ok reason.
        assert!(ConditionUpdater::default().update(&mut status));
        let remaining = find(&status, "NamespaceContentRemaining");
        assert_eq!((remaining.status.as_str(), remaining.reason.as_deref()), ("False", Some("ContentRemoved")));
        assert_eq!(find(&status, "NamespaceFinalizersRemaining").reason.as_deref(), Some("ContentHasNoFinalizers"));
    }

    #[test]
    fn delete_errors_are_summed_up() {
        let mut status = NamespaceStatus::default();
        let mut u = ConditionUpdater::default();
        u.delete_content_failed("b failed".into());
        u.delete_content_failed("a failed".into());
        u.update(&mut status);
        let c = find(&status, "NamespaceDeletionContentFailure");
        assert_eq!(c.reason.as_deref(), Some("ContentDeletionFailed"));
        assert_eq!(c.message.as_deref(), Some("Failed to delete all resource types, 2 remaining: a failed, b failed"));
    }
}
