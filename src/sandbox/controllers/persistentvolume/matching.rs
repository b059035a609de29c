//! Which volume a claim gets (`persistentVolumeOrderedIndex.findByClaim` and
//! component-helpers' `FindMatchingVolume`): a volume pre-bound to the claim wins outright;
//! otherwise the smallest Available one of the claim's class whose capacity, volume mode
//! and labels (the claim's selector) fit, searched first among volumes with exactly the
//! claim's access modes, then among those with ever more modes.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::sandbox::controllers::controller_ref::selects;
use crate::sandbox::registry::parse_quantity;

/// `v1.BetaStorageClassAnnotation`.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// `GetPersistentVolumeClaimClass`.
pub fn claim_class(claim: &PersistentVolumeClaim) -> String {
    if let Some(c) = claim.metadata.annotations.as_ref().and_then(|a| a.get(BETA_STORAGE_CLASS)) {
        return c.clone();
    }
    claim.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default()
}

/// `GetPersistentVolumeClass`.
pub fn volume_class(volume: &PersistentVolume) -> String {
    if let Some(c) = volume.metadata.annotations.as_ref().and_then(|a| a.get(BETA_STORAGE_CLASS)) {
        return c.clone();
    }
    volume.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default()
}

/// `IsVolumeBoundToClaim`: the claim reference names the claim (and its uid, if set).
pub fn is_bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else { return false };
    if r.name != claim.metadata.name || r.namespace != claim.metadata.namespace {
        return false;
    }
    r.uid.as_deref().is_none_or(|u| u.is_empty() || Some(u) == claim.metadata.uid.as_deref())
}

/// `resources.requests.storage` of a claim, in bytes.
pub fn requested_bytes(claim: &PersistentVolumeClaim) -> f64 {
    let q = claim.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage"));
    q.and_then(|q| parse_quantity(&q.0)).unwrap_or(0.0)
}

fn capacity_bytes(volume: &PersistentVolume) -> f64 {
    let q = volume.spec.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"));
    q.and_then(|q| parse_quantity(&q.0)).unwrap_or(0.0)
}

/// `CheckVolumeModeMismatches` (an unset mode is `Filesystem`).
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let claim_mode = claim.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    let volume_mode = volume.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    claim_mode != volume_mode
}

fn claim_modes(claim: &PersistentVolumeClaim) -> BTreeSet<String> {
    claim.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default().into_iter().collect()
}

fn volume_modes(volume: &PersistentVolume) -> BTreeSet<String> {
    volume.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default().into_iter().collect()
}

/// `FindMatchingVolume` over one access-mode group, on the controller's path (no node).
fn find_matching<'a>(claim: &PersistentVolumeClaim, volumes: &[&'a PersistentVolume], delay_binding: bool) -> Option<&'a PersistentVolume> {
    let requested = requested_bytes(claim);
    let class = claim_class(claim);
    let selector = claim.spec.as_ref().and_then(|s| s.selector.as_ref());
    let mut smallest: Option<&PersistentVolume> = None;
    for &v in volumes {
        let claimed = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some();
        if claimed && !is_bound_to(v, claim) {
            continue;
        }
        if capacity_bytes(v) < requested || volume_mode_mismatch(claim, v) || v.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if is_bound_to(v, claim) {
            return Some(v);
        }
        if delay_binding {
            continue;
        }
        let available = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
        if !available || selector.is_some_and(|s| !selects(s, v.metadata.labels.as_ref())) || volume_class(v) != class {
            continue;
        }
        if smallest.is_none_or(|s| capacity_bytes(s) > capacity_bytes(v)) {
            smallest = Some(v);
        }
    }
    smallest
}

/// `findBestMatchForClaim`: the volume groups by access modes that include the claim's,
/// fewest modes first; the first group with a match decides.
pub fn find_best_match<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &'a [impl AsRef<PersistentVolume>],
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let wanted = claim_modes(claim);
    let mut groups: Vec<BTreeSet<String>> = volumes.iter().map(|v| volume_modes(v.as_ref())).filter(|m| m.is_superset(&wanted)).collect();
    groups.sort_by_key(BTreeSet::len);
    groups.dedup();
    groups.iter().find_map(|modes| {
        let members: Vec<&PersistentVolume> = volumes.iter().map(AsRef::as_ref).filter(|v| &volume_modes(v) == modes).collect();
        find_matching(claim, &members, delay_binding)
    })
}

/// `checkVolumeSatisfyClaim`: why a volume the claim names cannot be its volume.
pub fn check_volume_satisfies_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), String> {
    if volume.metadata.deletion_timestamp.is_some() {
        return Err(format!("the volume is marked for deletion {:?}", volume.metadata.name.as_deref().unwrap_or_default()));
    }
    if capacity_bytes(volume) < requested_bytes(claim) {
        return Err("requested PV is too small".into());
    }
    if claim_class(claim) != volume_class(volume) {
        return Err("storageClassName does not match".into());
    }
    if volume_mode_mismatch(claim, volume) {
        return Err("incompatible volumeMode".into());
    }
    if !volume_modes(volume).is_superset(&claim_modes(claim)) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn pv(name: &str, size: &str, modes: &[&str], extra: serde_json::Value) -> PersistentVolume {
        let mut v = json!({
            "metadata": {"name": name, "labels": {"tier": "fast"}},
            "spec": {"capacity": {"storage": size}, "accessModes": modes, "storageClassName": "", "hostPath": {"path": "/x"}},
            "status": {"phase": "Available"},
        });
        merge(&mut v, extra);
        serde_json::from_value(v).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn pvc(extra: serde_json::Value) -> PersistentVolumeClaim {
        let mut c = json!({
            "metadata": {"name": "data", "namespace": "default", "uid": "c-1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "", "volumeMode": "Filesystem"},
        });
        merge(&mut c, extra);
        serde_json::from_value(c).unwrap()
    }

    #[test]
    fn the_best_match_follows_upstreams_rules() {
        let none = json!({});
        let cases: Vec<(&str, PersistentVolumeClaim, Vec<PersistentVolume>, Option<&str>)> = vec![
            (
                "smallest that fits",
                pvc(none.clone()),
                vec![
                    pv("big", "10Gi", &["ReadWriteOnce"], json!({})),
                    pv("small", "2Gi", &["ReadWriteOnce"], json!({})),
                    pv("tiny", "500Mi", &["ReadWriteOnce"], json!({})),
                ],
                Some("small"),
            ),
            ("too small", pvc(none.clone()), vec![pv("tiny", "500Mi", &["ReadWriteOnce"], json!({}))], None),
            (
                "exact access modes before more modes",
                pvc(none.clone()),
                vec![pv("rwo-rox", "1Gi", &["ReadWriteOnce", "ReadOnlyMany"], json!({})), pv("rwo", "5Gi", &["ReadWriteOnce"], json!({}))],
                Some("rwo"),
            ),
            (
                "a superset of modes when nothing exact fits",
                pvc(none.clone()),
                vec![
                    pv("rwo-rox", "1Gi", &["ReadWriteOnce", "ReadOnlyMany"], json!({})),
                    pv("rwo", "500Mi", &["ReadWriteOnce"], json!({})),
                ],
                Some("rwo-rox"),
            ),
            ("missing access mode", pvc(none.clone()), vec![pv("rox", "5Gi", &["ReadOnlyMany"], json!({}))], None),
            (
                "class must be equal",
                pvc(json!({"spec": {"storageClassName": "gold"}})),
                vec![
                    pv("plain", "5Gi", &["ReadWriteOnce"], json!({})),
                    pv("gold", "5Gi", &["ReadWriteOnce"], json!({"spec": {"storageClassName": "gold"}})),
                ],
                Some("gold"),
            ),
            (
                "selector",
                pvc(json!({"spec": {"selector": {"matchLabels": {"tier": "slow"}}}})),
                vec![
                    pv("fast", "5Gi", &["ReadWriteOnce"], json!({})),
                    pv("slow", "5Gi", &["ReadWriteOnce"], json!({"metadata": {"labels": {"tier": "slow"}}})),
                ],
                Some("slow"),
            ),
            (
                "volume mode",
                pvc(json!({"spec": {"volumeMode": "Block"}})),
                vec![
                    pv("fs", "5Gi", &["ReadWriteOnce"], json!({})),
                    pv("block", "5Gi", &["ReadWriteOnce"], json!({"spec": {"volumeMode": "Block"}})),
                ],
                Some("block"),
            ),
            (
                "only Available volumes",
                pvc(none.clone()),
                vec![pv("released", "5Gi", &["ReadWriteOnce"], json!({"status": {"phase": "Released"}}))],
                None,
            ),
            (
                "claimed by another",
                pvc(none.clone()),
                vec![pv("other", "5Gi", &["ReadWriteOnce"], json!({"spec": {"claimRef": {"name": "x", "namespace": "default"}}}))],
                None,
            ),
            (
                "pre-bound by claimRef wins over smaller",
                pvc(none.clone()),
                vec![
                    pv("small", "1Gi", &["ReadWriteOnce"], json!({})),
                    pv(
                        "mine",
                        "9Gi",
                        &["ReadWriteOnce"],
                        json!({"spec": {"claimRef": {"name": "data", "namespace": "default"}, "storageClassName": "other"}, "status": {"phase": "Pending"}}),
                    ),
                ],
                Some("mine"),
            ),
            (
                "pre-bound to an older claim of the same name",
                pvc(none.clone()),
                vec![pv(
                    "stale",
                    "1Gi",
                    &["ReadWriteOnce"],
                    json!({"spec": {"claimRef": {"name": "data", "namespace": "default", "uid": "old"}}}),
                )],
                None,
            ),
            (
                "being deleted",
                pvc(none.clone()),
                vec![pv("going", "5Gi", &["ReadWriteOnce"], json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}))],
                None,
            ),
        ];
        for (name, claim, volumes, want) in cases {
            let volumes: Vec<Arc<PersistentVolume>> = volumes.into_iter().map(Arc::new).collect();
            let got = find_best_match(&claim, &volumes, false).and_then(|v| v.metadata.name.as_deref());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn delayed_binding_only_takes_pre_bound_volumes() {
        let claim = pvc(json!({}));
        let free = [Arc::new(pv("free", "5Gi", &["ReadWriteOnce"], json!({})))];
        assert!(find_best_match(&claim, &free, true).is_none());
        let mine =
            [Arc::new(pv("mine", "5Gi", &["ReadWriteOnce"], json!({"spec": {"claimRef": {"name": "data", "namespace": "default"}}})))];
        assert_eq!(find_best_match(&claim, &mine, true).and_then(|v| v.metadata.name.as_deref()), Some("mine"));
    }

    #[test]
    fn a_named_volume_is_checked_against_the_claim() {
        let claim = pvc(json!({}));
        assert_eq!(
            check_volume_satisfies_claim(&pv("v", "500Mi", &["ReadWriteOnce"], json!({})), &claim),
            Err("requested PV is too small".into())
        );
        assert_eq!(
            check_volume_satisfies_claim(&pv("v", "5Gi", &["ReadWriteOnce"], json!({"spec": {"storageClassName": "gold"}})), &claim),
            Err("storageClassName does not match".into())
        );
        assert_eq!(
            check_volume_satisfies_claim(&pv("v", "5Gi", &["ReadOnlyMany"], json!({})), &claim),
            Err("incompatible accessMode".into())
        );
        assert_eq!(check_volume_satisfies_claim(&pv("v", "5Gi", &["ReadWriteOnce"], json!({})), &claim), Ok(()));
    }
}
