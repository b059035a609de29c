//! Per-kind strategies, as the apiserver's registry: one [`Strategy`] per kind, each in the
//! kind's own file, and the one table ([`strategy_for`]) that says which kind has which.
//!
//! The generic REST verbs run them in the apiserver's order. Create: [`decode`] ->
//! `defaults` -> (metadata bookkeeping, the field manager) -> [`before_create`] ->
//! `admit_create` -> [`validate_create`] -> `allocate` -> store. Update: [`decode`] ->
//! [`before_update`] -> [`validate_update`] -> `allocate_update` -> store. Kinds without
//! rules of their own get [`Generic`]; custom resources [`CustomResourceStrategy`].

mod allocators;
mod configmaps;
#[cfg(test)]
mod corpus_tests;
mod cronjobs;
mod custom_resources;
mod daemonsets;
pub mod decode;
mod deployments;
mod events;
mod jobs;
pub(crate) mod label_selector;
mod namespaces;
mod nodes;
mod persistentvolumeclaims;
mod persistentvolumes;
mod pod_admission;
mod pod_binding;
mod pod_connect;
mod pod_log;
mod pod_template;
mod pod_update;
mod pods;
mod qos;
mod replicasets;
mod resourcequotas;
mod reviews;
mod secrets;
mod serviceaccount_token;
mod services;
mod statefulsets;
pub mod storage_admission;
pub mod strategy;
#[cfg(test)]
mod strategy_tests;
pub mod validation;
mod wire_shape;

use serde_json::{json, Value};

use super::resources::ResourceInfo;
use super::status::{ApiError, FieldError};

pub use allocators::Allocators;
pub use custom_resources::{intern as intern_field_name, CustomResourceStrategy};
pub use namespaces::admit_namespace_lifecycle;
pub use storage_admission::admit_default_storage_class;
pub use qos::parse_quantity;
pub use reviews::is_review;
pub use strategy::{
    Created, ForwardedCreate, Generic, NamedCreater, ObjectChange, ObjectReader, ScalePaths, Strategy, StrategyRef, Streamed,
    SubresourceCreate, SubresourceStream, SubresourceStreamer,
};

/// What the client asked for with `?fieldValidation=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// The strategy of a built-in kind: the one place that maps kinds to their rules.
pub fn strategy_for(group: &str, kind: &str) -> StrategyRef {
    if let Some(review) = reviews::ReviewStrategy::for_kind(kind).filter(|_| is_review(group, kind)) {
        return StrategyRef::new(review);
    }
    match (group, kind) {
        ("", "Pod") => StrategyRef::new(pods::PodStrategy),
        ("", "Binding") => StrategyRef::new(pod_binding::BindingsStrategy),
        ("", "PodTemplate") => StrategyRef::new(pods::PodTemplateStrategy),
        ("", "ReplicationController") => StrategyRef::new(replicasets::ReplicationControllerStrategy),
        ("", "Service") => StrategyRef::new(services::ServiceStrategy::default()),
        ("", "Namespace") => StrategyRef::new(namespaces::NamespaceStrategy),
        ("", "Node") => StrategyRef::new(nodes::NodeStrategy),
        ("", "ConfigMap") => StrategyRef::new(configmaps::ConfigMapStrategy),
        ("", "Secret") => StrategyRef::new(secrets::SecretStrategy),
        ("", "ServiceAccount") => StrategyRef::new(serviceaccount_token::ServiceAccountStrategy),
        ("", "Event") => StrategyRef::new(events::EventStrategy(events::EventApi::CoreV1)),
        // stored, and so validated, as the core Event it converts to
        ("events.k8s.io", "Event") => StrategyRef::new(events::EventStrategy(events::EventApi::EventsV1)),
        ("", "PersistentVolumeClaim") => StrategyRef::new(persistentvolumeclaims::PersistentVolumeClaimStrategy),
        ("", "PersistentVolume") => StrategyRef::new(persistentvolumes::PersistentVolumeStrategy),
        ("", "ResourceQuota") => StrategyRef::new(resourcequotas::ResourceQuotaStrategy),
        ("apps", "Deployment") => StrategyRef::new(deployments::DeploymentStrategy),
        ("apps", "ReplicaSet") => StrategyRef::new(replicasets::ReplicaSetStrategy),
        ("apps", "StatefulSet") => StrategyRef::new(statefulsets::StatefulSetStrategy),
        ("apps", "DaemonSet") => StrategyRef::new(daemonsets::DaemonSetStrategy),
        ("batch", "Job") => StrategyRef::new(jobs::JobStrategy),
        ("batch", "CronJob") => StrategyRef::new(cronjobs::CronJobStrategy),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => StrategyRef::new(crate::sandbox::apiextensions::CrdStrategy),
        _ => StrategyRef::new(Generic),
    }
}

/// Decodes a request body into the stored form of `res`: a typed round trip through the
/// k8s-openapi struct where one exists. Unknown fields are returned (as paths such as
/// `spec.x`) so the caller can refuse, warn or ignore them.
pub fn decode(res: &ResourceInfo, body: Value) -> Result<(Value, Vec<String>), ApiError> {
    decode::decode(res, body)
}

fn set_generation(obj: &mut Value, generation: i64) {
    if let Some(meta) = wire_shape::ensure(obj, "metadata", json!({})).filter(|m| m.is_object()) {
        meta["generation"] = json!(generation);
    }
}

/// `rest.BeforeCreate`, after defaults: a cluster-scoped object loses any namespace it was
/// sent with, the strategy prepares it, and a kind that counts generations starts at 1.
pub fn before_create(res: &ResourceInfo, obj: &mut Value) {
    if !res.namespaced {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
    }
    res.strategy.prepare_for_create(obj);
    if res.strategy.tracks_generation() {
        set_generation(obj, 1);
    }
}

pub fn validate_create(res: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errs = validation::validate_object_meta(res, obj);
    errs.extend(res.strategy.validate(obj));
    errs
}

/// `rest.BeforeUpdate`: a write to the main resource gets defaults and keeps the stored
/// status (when status is a subresource); a subresource write goes to the kind's status or
/// finalize strategy; `generation` moves when the spec did.
pub fn before_update(res: &ResourceInfo, old: &Value, new: &mut Value, subresource: Option<&str>) {
    match subresource {
        Some(sub) => res.strategy.prepare_for_subresource_update(sub, old, new),
        None => {
            res.strategy.defaults(new);
            if res.has_subresource("status") {
                strategy::keep(old, new, "status");
            }
            res.strategy.prepare_for_update(old, new);
        }
    }
    if res.strategy.tracks_generation() {
        let old_generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        set_generation(new, old_generation + i64::from(res.strategy.spec_changed(old, new)));
    }
}

pub fn validate_update(res: &ResourceInfo, old: &Value, new: &Value, subresource: Option<&str>) -> Vec<FieldError> {
    let mut errs = validation::validate_object_meta_update(res, old, new);
    // A custom resource's status strategy validates the whole object against its schema too.
    if subresource.is_none() || (res.is_custom() && subresource == Some("status")) {
        errs.extend(res.strategy.validate_update(old, new));
    }
    errs
}
