//! A stateful pod's identity (`stateful_set_utils.go`): its ordinal, name `<set>-<n>`,
//! hostname and subdomain, the labels naming it, its claims `<template>-<set>-<n>`, and the
//! revision it was made from.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::sandbox::controllers::controller_ref::new_controller_ref;
use crate::sandbox::controllers::history::CONTROLLER_REVISION_HASH;
use crate::sandbox::controllers::pod_control::pod_from_template;

/// `apps.StatefulSetPodNameLabel`.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// `apps.PodIndexLabel`.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// `getParentNameAndOrdinal`: `web-12` is ordinal 12 of `web`.
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, n) = pod_name.rsplit_once('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, n.parse().ok()?))
}

/// `getOrdinal` (-1: not a stateful pod name).
pub fn ordinal_of(pod: &Pod) -> i32 {
    pod.metadata.name.as_deref().and_then(parent_and_ordinal).map_or(-1, |(_, n)| n)
}

/// `isMemberOf`: the pod's name says it belongs to `set`.
pub fn is_member_of(set: &StatefulSet, pod: &Pod) -> bool {
    pod.metadata.name.as_deref().and_then(parent_and_ordinal).is_some_and(|(p, _)| Some(p) == set.metadata.name.as_deref())
}

/// `getPodName`.
pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.metadata.name.as_deref().unwrap_or_default())
}

/// `getStartOrdinal` (`spec.ordinals.start`, default 0).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0)
}

pub fn replicas_of(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `podInOrdinalRange`: `[start, start + replicas)`.
pub fn in_ordinal_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && ordinal < start + replicas_of(set)
}

/// `getPersistentVolumeClaimName`: `<template>-<set>-<ordinal>`.
pub fn claim_name(set: &StatefulSet, template: &str, ordinal: i32) -> String {
    format!("{template}-{}-{ordinal}", set.metadata.name.as_deref().unwrap_or_default())
}

/// `getPodRevision`: the `controller-revision-hash` label (for a StatefulSet, the
/// revision's whole name).
pub fn revision_of(pod: &Pod) -> &str {
    pod.metadata.labels.as_ref().and_then(|l| l.get(CONTROLLER_REVISION_HASH)).map_or("", String::as_str)
}

/// `identityMatches` (the labels only: storage cannot be checked from the pod cache,
/// which drops volumes).
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let labels = pod.metadata.labels.as_ref();
    is_member_of(set, pod)
        && pod.metadata.namespace == set.metadata.namespace
        && labels.and_then(|l| l.get(POD_NAME_LABEL)).map(String::as_str) == Some(name)
        && labels.and_then(|l| l.get(POD_INDEX_LABEL)) == Some(&ordinal_of(pod).to_string())
}

/// `getPersistentVolumeClaims`: the pod's claims from the templates, labelled with the
/// selector's labels, by template name. The owners follow the retention policy.
pub fn claims_for(set: &StatefulSet, pod: &Pod) -> Vec<PersistentVolumeClaim> {
    let ordinal = ordinal_of(pod);
    let Some(spec) = set.spec.as_ref() else { return vec![] };
    let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .iter()
        .flatten()
        .map(|t| {
            let mut claim = t.clone();
            let template = t.metadata.name.clone().unwrap_or_default();
            claim.metadata.name = Some(claim_name(set, &template, ordinal));
            claim.metadata.namespace = set.metadata.namespace.clone();
            claim.metadata.labels.get_or_insert_with(BTreeMap::new).extend(selector_labels.clone());
            claim.metadata.owner_references = claim_owners(set, pod);
            claim.status = None;
            claim
        })
        .collect()
}

/// `updateClaimOwnerRefForSetAndPod` for a new claim: `whenDeleted: Delete` makes the set
/// its owner, `whenScaled: Delete` the pod once it is scaled away.
pub fn claim_owners(set: &StatefulSet, pod: &Pod) -> Option<Vec<OwnerReference>> {
    let policy = set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let is_delete = |p: Option<&String>| p.map(String::as_str) == Some("Delete");
    let (when_deleted, when_scaled) =
        (is_delete(policy.and_then(|p| p.when_deleted.as_ref())), is_delete(policy.and_then(|p| p.when_scaled.as_ref())));
    let scaled_down = !in_ordinal_range(set, ordinal_of(pod));
    let mut refs = Vec::new();
    if when_scaled && scaled_down && pod.metadata.uid.is_some() {
        refs.push(new_controller_ref(pod));
    } else if when_deleted {
        refs.push(new_controller_ref(set));
    }
    (!refs.is_empty()).then_some(refs)
}

/// `newStatefulSetPod` + `setPodRevision`: the pod of `ordinal` from `template`, with its
/// identity, its claims mounted, and the revision label.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let mut pod = pod_from_template(template, &ns, set.metadata.name.as_deref().unwrap_or_default(), new_controller_ref(set));
    let name = pod_name(set, ordinal);
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(name.clone());
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(CONTROLLER_REVISION_HASH.into(), revision.into());
    let claims = claims_for(set, &pod);
    let templates: Vec<String> = set
        .spec
        .iter()
        .flat_map(|s| s.volume_claim_templates.iter().flatten())
        .map(|t| t.metadata.name.clone().unwrap_or_default())
        .collect();
    if let Some(spec) = pod.spec.as_mut() {
        spec.hostname = Some(name);
        spec.subdomain = set.spec.as_ref().and_then(|s| s.service_name.clone()).filter(|s| !s.is_empty());
        // updateStorage: each template's volume is its claim, replacing one of that name.
        let volumes = spec.volumes.get_or_insert_with(Vec::new);
        for (template, claim) in templates.iter().zip(&claims) {
            volumes.retain(|v| &v.name != template);
            volumes.push(Volume {
                name: template.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.metadata.name.clone().unwrap_or_default(),
                    read_only: None,
                }),
                ..Default::default()
            });
        }
        if volumes.is_empty() {
            spec.volumes = None;
        }
    }
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(policy: serde_json::Value) -> StatefulSet {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "s1"},
            "spec": {
                "replicas": 2, "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
                "persistentVolumeClaimRetentionPolicy": policy
            }
        }))
        .unwrap()
    }

    #[test]
    fn names_and_ordinals() {
        let cases = [("web-0", Some(("web", 0))), ("my-web-12", Some(("my-web", 12))), ("web", None), ("web-", None), ("web-x1", None)];
        for (name, want) in cases {
            assert_eq!(parent_and_ordinal(name), want, "{name}");
        }
    }

    #[test]
    fn a_new_pod_carries_its_identity_and_claims() {
        let s = set(serde_json::json!({}));
        let template = s.spec.as_ref().unwrap().template.clone();
        let pod = new_pod(&s, &template, 1, "web-abc");
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
        assert_eq!(labels[POD_NAME_LABEL], "web-1");
        assert_eq!(labels[POD_INDEX_LABEL], "1");
        assert_eq!(labels[CONTROLLER_REVISION_HASH], "web-abc");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("web-1"), Some("nginx")));
        let v = &spec.volumes.as_ref().unwrap()[0];
        assert_eq!((v.name.as_str(), v.persistent_volume_claim.as_ref().unwrap().claim_name.as_str()), ("www", "www-web-1"));
        assert!(identity_matches(&s, &pod));
    }

    #[test]
    fn claim_owners_follow_the_retention_policy() {
        // (policy, ordinal, the owner kind)
        let cases = [
            (serde_json::json!({}), 0, None),
            (serde_json::json!({"whenDeleted": "Delete"}), 0, Some("StatefulSet")),
            (serde_json::json!({"whenScaled": "Delete"}), 0, None),
            (serde_json::json!({"whenScaled": "Delete"}), 5, Some("Pod")),
            (serde_json::json!({"whenScaled": "Delete", "whenDeleted": "Delete"}), 5, Some("Pod")),
            (serde_json::json!({"whenScaled": "Delete", "whenDeleted": "Delete"}), 1, Some("StatefulSet")),
        ];
        for (policy, ordinal, want) in cases {
            let s = set(policy.clone());
            let mut pod = new_pod(&s, &s.spec.as_ref().unwrap().template, ordinal, "r");
            pod.metadata.uid = Some("p1".into());
            let claims = claims_for(&s, &pod);
            assert_eq!(claims[0].metadata.name, Some(format!("www-web-{ordinal}")));
            assert_eq!(claims[0].metadata.labels.as_ref().unwrap()["app"], "web");
            let kind = claims[0].metadata.owner_references.as_ref().map(|r| r[0].kind.clone());
            assert_eq!(kind.as_deref(), want, "{policy} ordinal {ordinal}");
        }
    }
}
