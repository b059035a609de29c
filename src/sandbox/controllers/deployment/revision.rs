//! Revisions and the annotations a deployment keeps on its replica sets
//! (`deploymentutil.SetNewReplicaSetAnnotations` and friends): `revision` numbers each
//! template the deployment has had, `revision-history` lists the earlier numbers a reused
//! replica set had (a rollback), `desired-replicas` / `max-replicas` record the size the
//! deployment had when it last scaled the set (for proportional scaling), and the
//! deployment's own annotations (`kubernetes.io/change-cause`) are copied.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// `apps.DeprecatedRollbackTo`.
pub const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// `maxRevHistoryLengthInChars`.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// `skipCopyAnnotation`: the ones that belong to one object only.
pub fn is_skipped(key: &str) -> bool {
    matches!(key, LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO)
}

/// `Revision(obj)`: the revision annotation as a number (absent or bad: 0).
pub fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// `MaxRevision`.
pub fn max_revision<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    sets.into_iter().map(revision_of).max().unwrap_or(0)
}

/// `copyDeploymentAnnotationsToReplicaSet`.
fn copy_deployment_annotations(d: &Deployment, annotations: &mut BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if is_skipped(k) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// `SetReplicasAnnotations`: whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if a.get(key) != Some(&value) {
            a.insert(key.into(), value);
            changed = true;
        }
    }
    changed
}

/// `ReplicasAnnotationsNeedUpdate`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.as_ref();
    a.and_then(|a| a.get(DESIRED_REPLICAS)) != Some(&desired.to_string()) || a.and_then(|a| a.get(MAX_REPLICAS)) != Some(&max.to_string())
}

/// An annotation of a replica set as a non-negative number (`getNonNegativeInt32FromAnnotation`).
pub fn replicas_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse::<i32>().ok().filter(|n| *n >= 0)
}

/// `SetNewReplicaSetAnnotations`: copies the deployment's annotations and moves the set to
/// `new_revision`, remembering its old number in `revision-history` (bounded to
/// [`MAX_REVISION_HISTORY_CHARS`]). A set being created (`!exists`) also gets the replicas
/// annotations. Returns whether anything changed.
pub fn set_new_replica_set_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64, exists: bool, max_surge: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = copy_deployment_annotations(d, annotations);
    let old = annotations.get(REVISION).cloned().unwrap_or_default();
    let old_number = match old.parse::<i64>() {
        Ok(n) => n,
        Err(_) if old.is_empty() => 0,
        Err(_) => return false,
    };
    if old_number < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
    }
    if !old.is_empty() && old_number < new_revision {
        let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
        if history.is_empty() {
            annotations.insert(REVISION_HISTORY.into(), old.clone());
        } else {
            let mut revisions: Vec<&str> = history.split(',').collect();
            let mut total = history.len() + old.len() + 1;
            let mut start = 0;
            while total > MAX_REVISION_HISTORY_CHARS && start < revisions.len() {
                total -= revisions[start].len() + 1;
                start += 1;
            }
            if total <= MAX_REVISION_HISTORY_CHARS {
                revisions = revisions.split_off(start);
                revisions.push(&old);
                annotations.insert(REVISION_HISTORY.into(), revisions.join(","));
            }
        }
    }
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if !exists && set_replicas_annotations(rs, replicas, replicas + max_surge) {
        changed = true;
    }
    changed
}

/// `SetDeploymentRevision`: whether the deployment's annotation changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let a = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if a.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    a.insert(REVISION.into(), revision.into());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs_with(annotations: &[(&str, &str)]) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.annotations = Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        rs
    }

    #[test]
    fn new_revision_and_history() {
        let mut d = Deployment::default();
        d.metadata.annotations = Some(BTreeMap::from([
            ("kubernetes.io/change-cause".to_string(), "kubectl set image".to_string()),
            (REVISION.to_string(), "9".to_string()),
        ]));
        d.spec = Some(k8s_openapi::api::apps::v1::DeploymentSpec { replicas: Some(3), ..Default::default() });
        // (existing annotations, new revision, exists, want revision, want history)
        let cases: &[(&[(&str, &str)], i64, bool, &str, Option<&str>)] = &[
            (&[], 1, false, "1", None),
            (&[(REVISION, "1")], 3, true, "3", Some("1")),
            (&[(REVISION, "3"), (REVISION_HISTORY, "1")], 5, true, "5", Some("1,3")),
            (&[(REVISION, "5")], 4, true, "5", None),
        ];
        for (before, new, exists, want, history) in cases {
            let mut rs = rs_with(before);
            set_new_replica_set_annotations(&d, &mut rs, *new, *exists, 1);
            let a = rs.metadata.annotations.unwrap();
            assert_eq!(a[REVISION], *want, "{before:?} -> {new}");
            assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), *history, "{before:?} -> {new}");
            assert_eq!(a["kubernetes.io/change-cause"], "kubectl set image");
            assert_eq!(a.get(DESIRED_REPLICAS).is_some(), !exists, "only a new set gets the replicas annotations");
            if !exists {
                assert_eq!(a[MAX_REPLICAS], "4");
            }
        }
    }
}
