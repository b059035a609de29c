//! `kubelab kinds`: what the server serves, and what this program knows how to decode.
//!
//! client-go has a `Scheme`: a runtime registry from GroupVersionKind to Go type, filled by
//! each API package's `AddToScheme` at init. Rust has no such registry at runtime: each
//! k8s-openapi type *is* its registration, carrying `GROUP`, `VERSION` and `KIND` as
//! associated constants of the `k8s_openapi::Resource` trait. [`scheme`] lists the ones
//! kubelab compiled in; anything else (custom resources, newer kinds) is handled as a
//! `DynamicObject`, the counterpart of client-go's `unstructured.Unstructured`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::ObjectList;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{CommandError, Session};
use crate::cli::{Global, OutputFormat};
use crate::narrate::{self, Narrator};
use crate::target::wire::Journal;

/// One Rust type known at compile time: the Scheme entry.
#[derive(Clone)]
pub struct Known {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub rust_type: String,
    /// `std::any::type_name`: the defining module path, as in k8s-openapi's source tree.
    pub defined_at: &'static str,
    /// serde_json into `ObjectList<T>`, keeping each item's metadata.
    pub decode_list: fn(&[u8]) -> Result<Vec<ObjectMeta>, serde_json::Error>,
    /// serde_json into `T`.
    pub decode_one: fn(&[u8]) -> Result<ObjectMeta, serde_json::Error>,
}

fn known<T>() -> Known
where
    T: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta> + DeserializeOwned + Clone,
{
    Known {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        rust_type: public_path(std::any::type_name::<T>()),
        defined_at: std::any::type_name::<T>(),
        decode_list: |bytes| {
            serde_json::from_slice::<ObjectList<T>>(bytes).map(|l| l.items.into_iter().map(|i| i.metadata().clone()).collect())
        },
        decode_one: |bytes| serde_json::from_slice::<T>(bytes).map(|o| o.metadata().clone()),
    }
}

/// The path a user writes: `std::any::type_name` gives the defining module,
/// `k8s_openapi::v1_34::api::core::v1::pod::Pod`, while k8s-openapi re-exports it as
/// `k8s_openapi::api::core::v1::Pod` (the version module is chosen by a cargo feature, the
/// per-type module is private).
pub fn public_path(defined_at: &str) -> String {
    let mut segments: Vec<&str> =
        defined_at.split("::").filter(|s| !(s.starts_with("v1_") && s[3..].chars().all(|c| c.is_ascii_digit()))).collect();
    let n = segments.len();
    if n >= 3 && segments[n - 3].strip_prefix('v').is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())) {
        segments.remove(n - 2);
    }
    segments.join("::")
}

/// Every k8s-openapi type with object metadata, registered the way
/// `clientgoscheme.AddToScheme` does; built once.
pub fn scheme() -> &'static [Known] {
    static SCHEME: std::sync::OnceLock<Vec<Known>> = std::sync::OnceLock::new();
    SCHEME.get_or_init(register)
}

/// `module: Type, Type;` for each k8s-openapi module (under `k8s_openapi::`) holding kinds.
macro_rules! scheme {
    ($($($module:ident)::+ : $($ty:ident),+ ;)+) => {
        [$({
            use k8s_openapi::$($module)::+ as m;
            vec![$(known::<m::$ty>()),+]
        }),+]
        .concat()
    };
}

/// Rust cannot enumerate a trait's implementations, so this lists them; the test
/// `every_k8s_openapi_kind_is_registered` reads k8s-openapi's own source (each
/// `impl crate::Resource for` with `ObjectMeta`) and fails on any type left out, so an upgrade
/// of k8s-openapi cannot silently turn kinds back into `DynamicObject`.
fn register() -> Vec<Known> {
    scheme! {
        api::admissionregistration::v1: MutatingWebhookConfiguration, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingWebhookConfiguration;
        api::admissionregistration::v1alpha1: MutatingAdmissionPolicy, MutatingAdmissionPolicyBinding;
        api::admissionregistration::v1beta1: MutatingAdmissionPolicy, MutatingAdmissionPolicyBinding;
        api::apiserverinternal::v1alpha1: StorageVersion;
        api::apps::v1: ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet;
        api::authentication::v1: SelfSubjectReview, TokenRequest, TokenReview;
        api::authorization::v1: LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview;
        api::autoscaling::v1: HorizontalPodAutoscaler, Scale;
        api::autoscaling::v2: HorizontalPodAutoscaler;
        api::batch::v1: CronJob, Job;
        api::certificates::v1: CertificateSigningRequest;
        api::certificates::v1alpha1: ClusterTrustBundle, PodCertificateRequest;
        api::certificates::v1beta1: ClusterTrustBundle;
        api::coordination::v1: Lease;
        api::coordination::v1alpha2: LeaseCandidate;
        api::coordination::v1beta1: LeaseCandidate;
        api::core::v1: Binding, ComponentStatus, ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, PersistentVolume,
            PersistentVolumeClaim, Pod, PodTemplate, ReplicationController, ResourceQuota, Secret, Service, ServiceAccount;
        api::discovery::v1: EndpointSlice;
        api::events::v1: Event;
        api::flowcontrol::v1: FlowSchema, PriorityLevelConfiguration;
        api::networking::v1: Ingress, IngressClass, IPAddress, NetworkPolicy, ServiceCIDR;
        api::networking::v1beta1: IPAddress, ServiceCIDR;
        api::node::v1: RuntimeClass;
        api::policy::v1: Eviction, PodDisruptionBudget;
        api::rbac::v1: ClusterRole, ClusterRoleBinding, Role, RoleBinding;
        api::resource::v1: DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice;
        api::resource::v1alpha3: DeviceTaintRule;
        api::resource::v1beta1: DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice;
        api::resource::v1beta2: DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice;
        api::scheduling::v1: PriorityClass;
        api::storage::v1: CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment, VolumeAttributesClass;
        api::storage::v1alpha1: VolumeAttributesClass;
        api::storage::v1beta1: VolumeAttributesClass;
        api::storagemigration::v1alpha1: StorageVersionMigration;
        apiextensions_apiserver::pkg::apis::apiextensions::v1: CustomResourceDefinition;
        kube_aggregator::pkg::apis::apiregistration::v1: APIService;
    }
}

/// The compiled-in type for a group/version/kind, if any.
pub fn lookup(group: &str, version: &str, kind: &str) -> Option<&'static Known> {
    scheme().iter().find(|k| k.group == group && k.version == version && k.kind == kind)
}

/// One resource as aggregated discovery describes it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Served {
    pub group: String,
    pub version: String,
    /// Whether `version` is the group's preferred (first listed) one.
    pub preferred: bool,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl Served {
    /// kube's `ApiResource`: what `Api<DynamicObject>` needs to build its URLs.
    pub fn api_resource(&self) -> kube::api::ApiResource {
        kube::api::ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    pub fn known(&self) -> Option<&'static Known> {
        lookup(&self.group, &self.version, &self.kind)
    }
}

/// Aggregated discovery: `GET /api` and `GET /apis`, each asking (by Accept header) for the
/// whole `APIGroupDiscoveryList` at once — two requests where the legacy protocol needs one per
/// group version. Subresources (`pods/log`, `deployments/scale`) are left out.
pub async fn discover(client: &kube::Client) -> Result<Vec<Served>, kube::Error> {
    let core = client.list_core_api_versions_aggregated().await?;
    let groups = client.list_api_groups_aggregated().await?;
    let mut served = Vec::new();
    for group in core.items.iter().chain(groups.items.iter()) {
        let name = group.metadata.as_ref().and_then(|m| m.name.clone()).unwrap_or_default();
        for (i, version) in group.versions.iter().enumerate() {
            let v = version.version.clone().unwrap_or_default();
            for r in &version.resources {
                let Some(kind) = r.response_kind.as_ref().and_then(|k| k.kind.clone()) else {
                    continue;
                };
                served.push(Served {
                    group: name.clone(),
                    version: v.clone(),
                    preferred: i == 0,
                    kind,
                    plural: r.resource.clone().unwrap_or_default(),
                    singular: r.singular_resource.clone().unwrap_or_default(),
                    short_names: r.short_names.clone(),
                    namespaced: r.scope.as_deref() == Some("Namespaced"),
                    verbs: r.verbs.clone(),
                });
            }
        }
    }
    Ok(served)
}

/// Narrates the discovery requests recorded since `from`.
pub fn narrate_discovery(n: &Narrator, journal: &Journal, from: usize, headers: bool) {
    for ex in journal.since(from) {
        n.request(&ex, headers);
        n.response(&ex, headers);
    }
}

pub async fn run(global: &Global, group: Option<&str>) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    s.n.step("discovery: what does this server serve?");
    s.n.note("Go: discoveryClient.ServerGroupsAndResources(); Rust: Client::list_api_groups_aggregated()");
    let before = s.journal.len();
    let served = discover(&s.client).await.map_err(|e| s.explain(e))?;
    narrate_discovery(&s.n, &s.journal, before, false);

    let wanted = group.map(|g| if g == "core" { "" } else { g });
    let mut rows: Vec<&Served> = served.iter().filter(|r| r.preferred && wanted.is_none_or(|g| r.group == g)).collect();
    rows.sort_by(|a, b| (&a.group, &a.kind).cmp(&(&b.group, &b.kind)));
    if rows.is_empty() {
        let hint = "`kubelab kinds` without --group lists them all";
        return Err(CommandError::new(format!("the server serves no API group {:?}", group.unwrap_or(""))).hint(hint));
    }

    let typed = rows.iter().filter(|r| r.known().is_some()).count();
    s.n.step("the scheme: kind <-> Rust type");
    s.n.note("client-go's Scheme maps GroupVersionKind <-> Go type at run time. Here each k8s-openapi type carries\nits GVK as consts of the Resource trait; kinds without one are decoded as DynamicObject.");
    s.n.detail("kinds served", rows.len());
    s.n.detail("with a type", typed);
    s.n.detail("dynamic only", rows.len() - typed);

    match s.n.output() {
        OutputFormat::Table => {
            let table = rows
                .iter()
                .map(|r| {
                    vec![
                        r.kind.clone(),
                        r.api_version(),
                        r.plural.clone(),
                        if r.namespaced { "true".into() } else { "false".into() },
                        r.verbs.join(","),
                        r.known()
                            .map_or_else(|| "DynamicObject".to_string(), |k| k.rust_type.trim_start_matches("k8s_openapi::").to_string()),
                    ]
                })
                .collect();
            narrate::print_result(&narrate::table(
                &["KIND", "APIVERSION", "RESOURCE", "NAMESPACED", "VERBS", "RUST TYPE (k8s_openapi::)"],
                table,
            ));
        }
        format => {
            let doc: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    v["rustType"] = json!(r.known().map(|k| &k.rust_type));
                    v
                })
                .collect();
            narrate::print_document(format, &json!(doc));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// The `impl crate::Resource for` types of k8s-openapi's source that are not objects (no
    /// `ObjectMeta`): discovery documents and `Status`, never listed or watched.
    const NOT_OBJECTS: &[&str] = &["APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "Status"];

    /// k8s-openapi's source for the version module kubelab is built with (`v1_34`), found
    /// from Cargo.lock's version in cargo's registry.
    fn k8s_openapi_source(version_module: &str) -> PathBuf {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).expect("Cargo.lock");
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"k8s-openapi\"\n"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"').to_string())
            .expect("k8s-openapi in Cargo.lock");
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
        let registry = cargo_home.join("registry/src");
        std::fs::read_dir(&registry)
            .into_iter()
            .flatten()
            .flatten()
            .map(|index| index.path().join(format!("k8s-openapi-{version}/src/{version_module}")))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| panic!("k8s-openapi {version}'s source is not under {} (set CARGO_HOME)", registry.display()))
    }

    /// `(type_name path, has ObjectMeta)` of every `impl crate::Resource for T` under `dir`.
    fn resources_in(dir: &Path, module: &str, out: &mut Vec<(String, bool)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                resources_in(&path, &format!("{module}::{name}"), out);
            } else if path.extension().is_some_and(|e| e == "rs") && name != "mod" {
                let text = std::fs::read_to_string(&path).unwrap();
                for ty in text.lines().filter_map(|l| l.strip_prefix("impl crate::Resource for ")?.strip_suffix(" {")) {
                    let meta =
                        format!("impl crate::Metadata for {ty} {{\n    type Ty = crate::apimachinery::pkg::apis::meta::v1::ObjectMeta;");
                    out.push((format!("{module}::{name}::{ty}"), text.contains(&meta)));
                }
            }
        }
    }

    #[test]
    fn every_k8s_openapi_kind_is_registered() {
        let pod = std::any::type_name::<k8s_openapi::api::core::v1::Pod>();
        let version_module = pod.split("::").nth(1).expect("k8s_openapi::v1_NN::...");
        let mut found = Vec::new();
        resources_in(&k8s_openapi_source(version_module), &format!("k8s_openapi::{version_module}"), &mut found);
        assert!(found.len() > 90, "k8s-openapi's source was read: {found:?}");

        let registered: BTreeSet<&str> = super::scheme().iter().map(|k| k.defined_at).collect();
        let objects: BTreeSet<&str> = found.iter().filter(|(_, meta)| *meta).map(|(p, _)| p.as_str()).collect();
        let missing: Vec<_> = objects.difference(&registered).collect();
        assert!(missing.is_empty(), "k8s-openapi types missing from scheme!: {missing:#?}");
        let unknown: Vec<_> = registered.difference(&objects).collect();
        assert!(unknown.is_empty(), "registered but not a k8s-openapi object type: {unknown:#?}");

        let others: BTreeSet<&str> = found.iter().filter(|(_, meta)| !meta).filter_map(|(p, _)| p.rsplit("::").next()).collect();
        assert_eq!(others, NOT_OBJECTS.iter().copied().collect(), "a new non-object Resource type: classify it");
    }

    #[test]
    fn each_group_version_kind_is_registered_once() {
        let mut seen = BTreeSet::new();
        for k in super::scheme() {
            assert!(seen.insert((k.group, k.version, k.kind)), "{}/{} {} twice", k.group, k.version, k.kind);
        }
    }

    #[test]
    fn the_kinds_a_real_v1_34_server_serves_have_types() {
        // (group, version, kind, public path): kinds a kube-apiserver v1.34 serves that were
        // once shown as DynamicObject.
        let cases = [
            ("", "v1", "Binding", "k8s_openapi::api::core::v1::Binding"),
            ("", "v1", "ComponentStatus", "k8s_openapi::api::core::v1::ComponentStatus"),
            (
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingAdmissionPolicy",
                "k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy",
            ),
            ("authentication.k8s.io", "v1", "TokenReview", "k8s_openapi::api::authentication::v1::TokenReview"),
            ("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "k8s_openapi::api::authorization::v1::SelfSubjectAccessReview"),
            ("networking.k8s.io", "v1", "ServiceCIDR", "k8s_openapi::api::networking::v1::ServiceCIDR"),
            ("resource.k8s.io", "v1", "ResourceClaim", "k8s_openapi::api::resource::v1::ResourceClaim"),
            ("storage.k8s.io", "v1", "CSIStorageCapacity", "k8s_openapi::api::storage::v1::CSIStorageCapacity"),
            ("storage.k8s.io", "v1", "VolumeAttributesClass", "k8s_openapi::api::storage::v1::VolumeAttributesClass"),
        ];
        for (group, version, kind, path) in cases {
            let known = super::lookup(group, version, kind).unwrap_or_else(|| panic!("{group}/{version} {kind} has no type"));
            assert_eq!(known.rust_type, path);
        }
    }

    #[test]
    fn the_scheme_maps_gvk_to_k8s_openapi_types() {
        let pod = super::lookup("", "v1", "Pod").expect("Pod is registered");
        assert_eq!(pod.rust_type, "k8s_openapi::api::core::v1::Pod");
        let deploy = super::lookup("apps", "v1", "Deployment").expect("Deployment is registered");
        assert_eq!(deploy.rust_type, "k8s_openapi::api::apps::v1::Deployment");
        assert!(super::lookup("example.com", "v1", "Widget").is_none());
    }

    #[test]
    fn type_paths_are_the_public_ones() {
        assert_eq!(
            super::public_path("k8s_openapi::v1_34::api::apps::v1::stateful_set::StatefulSet"),
            "k8s_openapi::api::apps::v1::StatefulSet"
        );
        assert_eq!(super::public_path("k8s_openapi::api::core::v1::Pod"), "k8s_openapi::api::core::v1::Pod");
    }

    #[test]
    fn typed_decoding_keeps_the_metadata() {
        let pod = super::lookup("", "v1", "Pod").unwrap();
        let meta = (pod.decode_one)(br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}"#).unwrap();
        assert_eq!(meta.name.as_deref(), Some("web"));
        let names =
            (pod.decode_list)(br#"{"apiVersion":"v1","kind":"PodList","metadata":{},"items":[{"metadata":{"name":"a"}}]}"#).unwrap();
        assert_eq!(names[0].name.as_deref(), Some("a"));
    }
}
