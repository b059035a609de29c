//! The built-in types' schemas, with their upstream descriptions, from k8s-openapi.
//!
//! k8s-openapi (feature `schemars`) derives a JSON Schema for every Kubernetes type, named
//! exactly as upstream names its OpenAPI definitions (`io.k8s.api.core.v1.Pod`). One schemars
//! generator, told to put its definitions under `/definitions`, therefore yields Swagger-2
//! references (`#/definitions/io.k8s.api.core.v1.Pod`) and no renaming table is needed. The
//! generation runs once per process: the schemas do not depend on what the sandbox serves,
//! only the choice of which of them a document includes does.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::Schema;
use serde_json::{Map, Value};

use super::patch_meta;

/// Where definitions live in a Swagger 2 document, and so in every `$ref` kept here.
pub const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// A kind whose schema k8s-openapi knows: the sandbox may serve it now or after a change
/// of its catalogue, so the table is wider than the built-in catalogue.
struct KnownKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    schema: fn(&mut SchemaGenerator) -> Schema,
}

macro_rules! known_kinds {
    ($($group:literal $version:literal $kind:literal => $ty:ty),* $(,)?) => {
        &[$(KnownKind { group: $group, version: $version, kind: $kind, schema: |g| g.subschema_for::<$ty>() }),*]
    };
}

const KNOWN_KINDS: &[KnownKind] = known_kinds![
    "" "v1" "Binding" => api::core::v1::Binding,
    "" "v1" "ComponentStatus" => api::core::v1::ComponentStatus,
    "" "v1" "ConfigMap" => api::core::v1::ConfigMap,
    "" "v1" "Endpoints" => api::core::v1::Endpoints,
    "" "v1" "Event" => api::core::v1::Event,
    "" "v1" "LimitRange" => api::core::v1::LimitRange,
    "" "v1" "Namespace" => api::core::v1::Namespace,
    "" "v1" "Node" => api::core::v1::Node,
    "" "v1" "PersistentVolume" => api::core::v1::PersistentVolume,
    "" "v1" "PersistentVolumeClaim" => api::core::v1::PersistentVolumeClaim,
    "" "v1" "Pod" => api::core::v1::Pod,
    "" "v1" "PodTemplate" => api::core::v1::PodTemplate,
    "" "v1" "ReplicationController" => api::core::v1::ReplicationController,
    "" "v1" "ResourceQuota" => api::core::v1::ResourceQuota,
    "" "v1" "Secret" => api::core::v1::Secret,
    "" "v1" "Service" => api::core::v1::Service,
    "" "v1" "ServiceAccount" => api::core::v1::ServiceAccount,
    "admissionregistration.k8s.io" "v1" "MutatingWebhookConfiguration" => api::admissionregistration::v1::MutatingWebhookConfiguration,
    "admissionregistration.k8s.io" "v1" "ValidatingAdmissionPolicy" => api::admissionregistration::v1::ValidatingAdmissionPolicy,
    "admissionregistration.k8s.io" "v1" "ValidatingAdmissionPolicyBinding" => api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    "admissionregistration.k8s.io" "v1" "ValidatingWebhookConfiguration" => api::admissionregistration::v1::ValidatingWebhookConfiguration,
    "apiextensions.k8s.io" "v1" "CustomResourceDefinition" => apiextensions::v1::CustomResourceDefinition,
    "apiregistration.k8s.io" "v1" "APIService" => apiregistration::v1::APIService,
    "apps" "v1" "ControllerRevision" => api::apps::v1::ControllerRevision,
    "apps" "v1" "DaemonSet" => api::apps::v1::DaemonSet,
    "apps" "v1" "Deployment" => api::apps::v1::Deployment,
    "apps" "v1" "ReplicaSet" => api::apps::v1::ReplicaSet,
    "apps" "v1" "StatefulSet" => api::apps::v1::StatefulSet,
    "authentication.k8s.io" "v1" "SelfSubjectReview" => api::authentication::v1::SelfSubjectReview,
    "authentication.k8s.io" "v1" "TokenRequest" => api::authentication::v1::TokenRequest,
    "authentication.k8s.io" "v1" "TokenReview" => api::authentication::v1::TokenReview,
    "authorization.k8s.io" "v1" "LocalSubjectAccessReview" => api::authorization::v1::LocalSubjectAccessReview,
    "authorization.k8s.io" "v1" "SelfSubjectAccessReview" => api::authorization::v1::SelfSubjectAccessReview,
    "authorization.k8s.io" "v1" "SelfSubjectRulesReview" => api::authorization::v1::SelfSubjectRulesReview,
    "authorization.k8s.io" "v1" "SubjectAccessReview" => api::authorization::v1::SubjectAccessReview,
    "autoscaling" "v1" "HorizontalPodAutoscaler" => api::autoscaling::v1::HorizontalPodAutoscaler,
    "autoscaling" "v1" "Scale" => api::autoscaling::v1::Scale,
    "autoscaling" "v2" "HorizontalPodAutoscaler" => api::autoscaling::v2::HorizontalPodAutoscaler,
    "batch" "v1" "CronJob" => api::batch::v1::CronJob,
    "batch" "v1" "Job" => api::batch::v1::Job,
    "certificates.k8s.io" "v1" "CertificateSigningRequest" => api::certificates::v1::CertificateSigningRequest,
    "coordination.k8s.io" "v1" "Lease" => api::coordination::v1::Lease,
    "discovery.k8s.io" "v1" "EndpointSlice" => api::discovery::v1::EndpointSlice,
    "events.k8s.io" "v1" "Event" => api::events::v1::Event,
    "flowcontrol.apiserver.k8s.io" "v1" "FlowSchema" => api::flowcontrol::v1::FlowSchema,
    "flowcontrol.apiserver.k8s.io" "v1" "PriorityLevelConfiguration" => api::flowcontrol::v1::PriorityLevelConfiguration,
    "networking.k8s.io" "v1" "IPAddress" => api::networking::v1::IPAddress,
    "networking.k8s.io" "v1" "Ingress" => api::networking::v1::Ingress,
    "networking.k8s.io" "v1" "IngressClass" => api::networking::v1::IngressClass,
    "networking.k8s.io" "v1" "NetworkPolicy" => api::networking::v1::NetworkPolicy,
    "networking.k8s.io" "v1" "ServiceCIDR" => api::networking::v1::ServiceCIDR,
    "node.k8s.io" "v1" "RuntimeClass" => api::node::v1::RuntimeClass,
    "policy" "v1" "Eviction" => api::policy::v1::Eviction,
    "policy" "v1" "PodDisruptionBudget" => api::policy::v1::PodDisruptionBudget,
    "rbac.authorization.k8s.io" "v1" "ClusterRole" => api::rbac::v1::ClusterRole,
    "rbac.authorization.k8s.io" "v1" "ClusterRoleBinding" => api::rbac::v1::ClusterRoleBinding,
    "rbac.authorization.k8s.io" "v1" "Role" => api::rbac::v1::Role,
    "rbac.authorization.k8s.io" "v1" "RoleBinding" => api::rbac::v1::RoleBinding,
    "resource.k8s.io" "v1" "DeviceClass" => api::resource::v1::DeviceClass,
    "resource.k8s.io" "v1" "ResourceClaim" => api::resource::v1::ResourceClaim,
    "resource.k8s.io" "v1" "ResourceClaimTemplate" => api::resource::v1::ResourceClaimTemplate,
    "resource.k8s.io" "v1" "ResourceSlice" => api::resource::v1::ResourceSlice,
    "scheduling.k8s.io" "v1" "PriorityClass" => api::scheduling::v1::PriorityClass,
    "storage.k8s.io" "v1" "CSIDriver" => api::storage::v1::CSIDriver,
    "storage.k8s.io" "v1" "CSINode" => api::storage::v1::CSINode,
    "storage.k8s.io" "v1" "CSIStorageCapacity" => api::storage::v1::CSIStorageCapacity,
    "storage.k8s.io" "v1" "StorageClass" => api::storage::v1::StorageClass,
    "storage.k8s.io" "v1" "VolumeAttachment" => api::storage::v1::VolumeAttachment,
    "storage.k8s.io" "v1" "VolumeAttributesClass" => api::storage::v1::VolumeAttributesClass,
];

/// The `meta/v1` types every document refers to from its operations (errors, deletes,
/// watches, patches), whatever kinds it describes.
pub const META_ROOTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
];

/// Every built-in definition, by upstream name, with Swagger-2 references and the patch
/// strategies kubectl needs already applied.
pub struct Builtins {
    pub definitions: Map<String, Value>,
    /// `(group, version, kind)` -> definition name.
    by_kind: HashMap<(&'static str, &'static str, &'static str), String>,
}

impl Builtins {
    /// The definition name of a built-in kind, when k8s-openapi knows it.
    pub fn name_of(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.by_kind.iter().find(|((g, v, k), _)| *g == group && *v == version && *k == kind).map(|(_, name)| name.as_str())
    }
}

/// The built-in definitions, generated on first use (a few tens of milliseconds).
pub fn builtins() -> &'static Builtins {
    static BUILTINS: OnceLock<Builtins> = OnceLock::new();
    BUILTINS.get_or_init(generate)
}

fn generate() -> Builtins {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
    });
    let mut generator = settings.into_generator();
    let mut by_kind = HashMap::new();
    for known in KNOWN_KINDS {
        let reference = (known.schema)(&mut generator);
        if let Some(name) = reference.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(DEFINITIONS_PREFIX)) {
            by_kind.insert((known.group, known.version, known.kind), name.to_string());
        }
    }
    generator.subschema_for::<meta::v1::Status>();
    generator.subschema_for::<meta::v1::DeleteOptions>();
    generator.subschema_for::<meta::v1::WatchEvent<api::core::v1::Pod>>();
    generator.subschema_for::<meta::v1::Patch>();
    generator.subschema_for::<meta::v1::ListMeta>();
    generator.subschema_for::<meta::v1::APIVersions>();
    generator.subschema_for::<meta::v1::APIGroupList>();
    generator.subschema_for::<meta::v1::APIGroup>();
    generator.subschema_for::<k8s_openapi::apimachinery::pkg::version::Info>();
    let mut definitions = generator.take_definitions(true);
    for schema in definitions.values_mut() {
        to_swagger_types(schema);
        metadata_optional(schema);
    }
    patch_meta::annotate(&mut definitions);
    Builtins { definitions, by_kind }
}

/// k8s-openapi describes `IntOrString` and `Quantity` by `x-kubernetes-int-or-string` alone,
/// as OpenAPI v3 does; Swagger 2 readers (and kubectl's v2 models) want a `type`, which
/// upstream's v2 document gives as `string`.
fn to_swagger_types(schema: &mut Value) {
    if let Value::Object(m) = schema {
        if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) && !m.contains_key("type") {
            m.insert("type".into(), Value::String("string".into()));
            m.insert("format".into(), Value::String("int-or-string".into()));
        }
    }
}

/// k8s-openapi's structs hold `metadata` without an `Option`, so their schemas list it as
/// required; upstream's never do (`kubectl create -f` of an object without metadata, a
/// TokenReview say, passes kubectl's validation).
fn metadata_optional(schema: &mut Value) {
    let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) else { return };
    required.retain(|r| r != "metadata");
    if required.is_empty() {
        schema.as_object_mut().map(|m| m.remove("required"));
    }
}

/// The names of every definition reachable from `roots` through `$ref`s, `roots` included.
pub fn closure<'a>(definitions: &'a Map<String, Value>, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = roots.into_iter().map(str::to_string).collect();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = definitions.get(&name) {
            collect_refs(schema, &mut pending);
        }
    }
    seen.retain(|name| definitions.contains_key(name));
    seen
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(DEFINITIONS_PREFIX) {
                            out.push(name.to_string());
                        }
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_is_named_like_upstream_and_references_object_meta() {
        let b = builtins();
        assert_eq!(b.name_of("", "v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
        let pod = &b.definitions["io.k8s.api.core.v1.Pod"];
        assert_eq!(pod["properties"]["metadata"]["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
        assert!(pod["description"].as_str().unwrap().starts_with("Pod is a collection of containers"));
    }

    #[test]
    fn closure_of_pod_reaches_container_and_quantity() {
        let b = builtins();
        let names = closure(&b.definitions, ["io.k8s.api.core.v1.Pod"]);
        assert!(names.contains("io.k8s.api.core.v1.Container"));
        assert!(names.contains("io.k8s.apimachinery.pkg.api.resource.Quantity"));
        assert!(!names.contains("io.k8s.api.apps.v1.Deployment"));
    }

    #[test]
    fn int_or_string_gets_a_swagger_type() {
        let ios = &builtins().definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(ios["type"], "string");
        assert_eq!(ios["format"], "int-or-string");
    }
}
