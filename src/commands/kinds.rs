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

/// Every k8s-openapi type kubelab registers, the way `clientgoscheme.AddToScheme` does;
/// built once.
pub fn scheme() -> &'static [Known] {
    static SCHEME: std::sync::OnceLock<Vec<Known>> = std::sync::OnceLock::new();
    SCHEME.get_or_init(register)
}

fn register() -> Vec<Known> {
    use k8s_openapi::api::{
        admissionregistration, apps, autoscaling, batch, certificates, coordination, core, discovery, events, flowcontrol, networking,
        node, policy, rbac, scheduling, storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
    vec![
        known::<core::v1::ConfigMap>(),
        known::<core::v1::Endpoints>(),
        known::<core::v1::Event>(),
        known::<core::v1::LimitRange>(),
        known::<core::v1::Namespace>(),
        known::<core::v1::Node>(),
        known::<core::v1::PersistentVolume>(),
        known::<core::v1::PersistentVolumeClaim>(),
        known::<core::v1::Pod>(),
        known::<core::v1::PodTemplate>(),
        known::<core::v1::ReplicationController>(),
        known::<core::v1::ResourceQuota>(),
        known::<core::v1::Secret>(),
        known::<core::v1::Service>(),
        known::<core::v1::ServiceAccount>(),
        known::<apps::v1::ControllerRevision>(),
        known::<apps::v1::DaemonSet>(),
        known::<apps::v1::Deployment>(),
        known::<apps::v1::ReplicaSet>(),
        known::<apps::v1::StatefulSet>(),
        known::<autoscaling::v2::HorizontalPodAutoscaler>(),
        known::<batch::v1::CronJob>(),
        known::<batch::v1::Job>(),
        known::<certificates::v1::CertificateSigningRequest>(),
        known::<coordination::v1::Lease>(),
        known::<discovery::v1::EndpointSlice>(),
        known::<events::v1::Event>(),
        known::<flowcontrol::v1::FlowSchema>(),
        known::<flowcontrol::v1::PriorityLevelConfiguration>(),
        known::<networking::v1::Ingress>(),
        known::<networking::v1::IngressClass>(),
        known::<networking::v1::NetworkPolicy>(),
        known::<node::v1::RuntimeClass>(),
        known::<policy::v1::PodDisruptionBudget>(),
        known::<rbac::v1::ClusterRole>(),
        known::<rbac::v1::ClusterRoleBinding>(),
        known::<rbac::v1::Role>(),
        known::<rbac::v1::RoleBinding>(),
        known::<scheduling::v1::PriorityClass>(),
        known::<storage::v1::CSIDriver>(),
        known::<storage::v1::CSINode>(),
        known::<storage::v1::StorageClass>(),
        known::<storage::v1::VolumeAttachment>(),
        known::<admissionregistration::v1::MutatingWebhookConfiguration>(),
        known::<admissionregistration::v1::ValidatingWebhookConfiguration>(),
        known::<CustomResourceDefinition>(),
        known::<APIService>(),
    ]
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
