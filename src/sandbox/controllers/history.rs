//! ControllerRevision history (`pkg/controller/history/controller_history.go`), shared by
//! the StatefulSet and DaemonSet controllers.
//!
//! Each template a set has had is kept as a `ControllerRevision` named `<owner>-<hash>`,
//! holding the patch that restores it (`{"spec":{"template":{…,"$patch":"replace"}}}`),
//! numbered in `revision`. `kubectl rollout history` lists them; `kubectl rollout undo`
//! applies one's `data` to the set. A template seen again reuses its revision, moved to the
//! next number. When two different templates hash alike, the set's `collisionCount` grows
//! and the name is hashed again. Revisions no pod runs are pruned to
//! `revisionHistoryLimit`.
//!
//! The hash is [`compute_hash`] of the template (as the Deployment's pod-template-hash):
//! stable and upstream-looking, but not the value a real cluster prints.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Resource;
use serde::de::DeserializeOwned;

use super::controller_ref::{controller_of, new_controller_ref, selects, ClaimError, Claimer};
use super::deployment::pod_template_hash::compute_hash;
use crate::machinery::lister::Lister;

/// `history.ControllerRevisionHashLabel`: the hash, on a StatefulSet's revisions.
pub const REVISION_HASH_LABEL: &str = "controller.kubernetes.io/hash";
/// `apps.ControllerRevisionHashLabelKey`: the revision a pod was made from.
pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";

/// `ControllerRevisionName`: `<prefix>-<hash>`, the prefix cut to 223 bytes.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// `getPatch` of both controllers: the template, marked to replace the set's whole.
pub fn template_patch(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = serde_json::to_value(template).unwrap_or_default();
    if let Some(o) = t.as_object_mut() {
        o.insert("$patch".into(), "replace".into());
    }
    serde_json::json!({"spec": {"template": t}})
}

/// `ApplyRevision`'s effect on the template: the one a revision's patch restores.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = revision.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    if let Some(o) = t.as_object_mut() {
        o.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// `NewControllerRevision`: owned by `owner`, labelled as the template plus the hash
/// under `hash_label`, named by the hash of `template` and `collision_count`.
pub fn new_revision<K: Resource<DynamicType = ()>>(
    owner: &K,
    template: &PodTemplateSpec,
    hash_label: &str,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let hash = compute_hash(template, collision_count);
    let meta = owner.meta();
    let mut labels: BTreeMap<String, String> = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(hash_label.to_string(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(meta.name.as_deref().unwrap_or_default(), &hash)),
            namespace: meta.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations.clone(),
            owner_references: Some(vec![new_controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(template_patch(template))),
        revision,
    }
}

/// `EqualRevision`: the same data.
pub fn equal_revision(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data == b.data
}

/// `SortControllerRevisions`: by revision, then creation time, then name.
pub fn sort_revisions(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.creation_timestamp.as_ref().map(|t| t.0).cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// `nextRevision`: one more than the last of the sorted `revisions`.
pub fn next_revision(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.last().map_or(1, |r| r.revision + 1)
}

/// The revisions `truncateHistory` deletes: the oldest of those no live pod runs and that
/// are neither current nor update, beyond `limit`. `revisions` is sorted.
pub fn surplus<'a>(revisions: &'a [Arc<ControllerRevision>], live: &HashSet<String>, limit: i32) -> Vec<&'a Arc<ControllerRevision>> {
    let historic: Vec<&Arc<ControllerRevision>> =
        revisions.iter().filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default())).collect();
    let keep = usize::try_from(limit).unwrap_or(0);
    let n = historic.len().saturating_sub(keep);
    historic.into_iter().take(n).collect()
}

/// The outcome of `getStatefulSetRevisions` / `constructHistory`.
pub struct Revisions {
    /// Every revision of the owner, sorted.
    pub all: Vec<Arc<ControllerRevision>>,
    pub current: Arc<ControllerRevision>,
    pub update: Arc<ControllerRevision>,
    /// The owner's `collisionCount` after any collision this sync found.
    pub collision_count: i32,
}

/// A controller's view of its owner's revisions: the cache to list them, a client to write.
pub struct History<'a> {
    pub client: &'a kube::Client,
    pub revisions: &'a Lister<ControllerRevision>,
}

impl History<'_> {
    /// `ListControllerRevisions` + `ClaimControllerRevisions`: the revisions selected by
    /// `selector` that are `owner`'s (adopting orphans, releasing strays).
    pub async fn claim<K>(&self, owners: &Api<K>, owner: &K, selector: &LabelSelector) -> Result<Vec<Arc<ControllerRevision>>, ClaimError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let ns = owner.meta().namespace.clone().unwrap_or_default();
        let uid = owner.meta().uid.clone().unwrap_or_default();
        let candidates = self
            .revisions
            .namespaced(&ns)
            .list_matching(|r| controller_of(&r.metadata).map_or_else(|| selects(selector, r.metadata.labels.as_ref()), |o| o.uid == uid));
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &ns);
        let mut claimed = Claimer { owner, selector }.claim(owners, candidates, &api).await?;
        sort_revisions(&mut claimed);
        Ok(claimed)
    }

    /// `CreateControllerRevision`: creates `revision`, hashing again with a larger
    /// `collision_count` while the name is taken by different data. Returns the revision
    /// (the existing one if it holds the same data).
    pub async fn create<K: Resource<DynamicType = ()>>(
        &self,
        owner: &K,
        template: &PodTemplateSpec,
        hash_label: &str,
        number: i64,
        collision_count: &mut i32,
    ) -> Result<ControllerRevision, kube::Error> {
        let ns = owner.meta().namespace.clone().unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &ns);
        // A name is hashed anew at most this many times (each is a request that found a
        // different revision under the name), so a loop cannot spin forever.
        for _ in 0..32 {
            let revision = new_revision(owner, template, hash_label, number, Some(*collision_count));
            match api.create(&PostParams::default(), &revision).await {
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let name = revision.metadata.name.clone().unwrap_or_default();
                    let exists = api.get(&name).await?;
                    if equal_revision(&exists, &revision) {
                        return Ok(exists);
                    }
                    *collision_count += 1;
                }
                other => return other,
            }
        }
        Err(kube::Error::Service("too many ControllerRevision hash collisions".into()))
    }

    /// `UpdateControllerRevision`: renumbers a revision (a template seen again).
    pub async fn renumber(&self, revision: &ControllerRevision, number: i64) -> Result<ControllerRevision, kube::Error> {
        if revision.revision == number {
            return Ok(revision.clone());
        }
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), revision.metadata.namespace.as_deref().unwrap_or_default());
        let mut next = revision.clone();
        next.revision = number;
        api.replace(revision.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &next).await
    }

    /// `DeleteControllerRevision` (already gone is fine).
    pub async fn delete(&self, revision: &ControllerRevision) -> Result<(), kube::Error> {
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), revision.metadata.namespace.as_deref().unwrap_or_default());
        match api.delete(revision.metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The shared part of `getStatefulSetRevisions` and the DaemonSet's `constructHistory`:
    /// finds or makes the revision of `template` (the update revision), numbered last, and
    /// the current one (named `current_name`, else the update revision).
    pub async fn revisions<K: Resource<DynamicType = ()>>(
        &self,
        owner: &K,
        mut all: Vec<Arc<ControllerRevision>>,
        template: &PodTemplateSpec,
        hash_label: &str,
        current_name: Option<&str>,
        collision_count: i32,
    ) -> Result<Revisions, kube::Error> {
        let mut collision_count = collision_count;
        let number = next_revision(&all);
        let wanted = new_revision(owner, template, hash_label, number, Some(collision_count));
        let equal: Vec<usize> = (0..all.len()).filter(|i| equal_revision(&all[*i], &wanted)).collect();
        let update = match equal.last() {
            // The template of the last revision: nothing changed.
            Some(&i) if i + 1 == all.len() => all[i].clone(),
            // An earlier template again (a rollback): it becomes the newest.
            Some(&i) => {
                let renumbered = Arc::new(self.renumber(&all[i], number).await?);
                all[i] = renumbered.clone();
                sort_revisions(&mut all);
                renumbered
            }
            None => {
                let created = Arc::new(self.create(owner, template, hash_label, number, &mut collision_count).await?);
                if !all.iter().any(|r| r.metadata.name == created.metadata.name) {
                    all.push(created.clone());
                }
                created
            }
        };
        let current =
            current_name.and_then(|n| all.iter().find(|r| r.metadata.name.as_deref() == Some(n)).cloned()).unwrap_or(update.clone());
        Ok(Revisions { all, current, update, collision_count })
    }

    /// `truncateHistory`: deletes the surplus of revisions no pod in `live` runs.
    pub async fn truncate(&self, revisions: &[Arc<ControllerRevision>], live: &HashSet<String>, limit: i32) -> Result<(), kube::Error> {
        for r in surplus(revisions, live, limit) {
            self.delete(r).await?;
        }
        Ok(())
    }
}

/// The owner reference of a revision, if a controller has one (for the event handlers).
pub fn owner_of(revision: &ControllerRevision) -> Option<&OwnerReference> {
    controller_of(&revision.metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .unwrap()
    }

    fn owner() -> StatefulSet {
        let mut s = StatefulSet::default();
        s.metadata.name = Some("web".into());
        s.metadata.namespace = Some("default".into());
        s.metadata.uid = Some("u1".into());
        s
    }

    fn numbered(name: &str, n: i64) -> Arc<ControllerRevision> {
        let mut r = ControllerRevision { revision: n, ..Default::default() };
        r.metadata.name = Some(name.into());
        Arc::new(r)
    }

    #[test]
    fn a_revision_is_named_by_its_hash_labelled_and_restores_its_template() {
        let t = template("nginx:1.27");
        let r = new_revision(&owner(), &t, REVISION_HASH_LABEL, 3, Some(0));
        let hash = compute_hash(&t, Some(0));
        assert_eq!(r.metadata.name.as_deref(), Some(format!("web-{hash}").as_str()));
        let labels = r.metadata.labels.clone().unwrap();
        assert_eq!((labels["app"].as_str(), labels[REVISION_HASH_LABEL].as_str()), ("web", hash.as_str()));
        assert_eq!(r.revision, 3);
        assert_eq!(r.data.as_ref().unwrap().0["spec"]["template"]["$patch"], "replace");
        assert_eq!(template_of(&r), Some(t.clone()));
        let owner_ref = &r.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner_ref.kind.as_str(), owner_ref.controller), ("StatefulSet", Some(true)));
        assert_ne!(r.metadata.name, new_revision(&owner(), &t, REVISION_HASH_LABEL, 3, Some(1)).metadata.name, "a collision renames");
        assert!(equal_revision(&r, &new_revision(&owner(), &t, REVISION_HASH_LABEL, 9, Some(1))), "same data, any number");
        assert_eq!(revision_name(&"x".repeat(300), "h").len(), 225);
    }

    #[test]
    fn the_oldest_revisions_no_pod_runs_are_the_surplus() {
        let all: Vec<_> = (1..=5).map(|n| numbered(&format!("r{n}"), n)).collect();
        let live: HashSet<String> = ["r1".to_string(), "r5".to_string()].into();
        // (limit, the names deleted)
        let cases: &[(i32, &[&str])] = &[(0, &["r2", "r3", "r4"]), (1, &["r2", "r3"]), (3, &[]), (10, &[])];
        for (limit, want) in cases {
            let got: Vec<&str> = surplus(&all, &live, *limit).iter().map(|r| r.metadata.name.as_deref().unwrap()).collect();
            assert_eq!(got, *want, "limit {limit}");
        }
        assert_eq!(next_revision(&all), 6);
        assert_eq!(next_revision(&[]), 1);
    }
}
