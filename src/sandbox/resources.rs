//! The sandbox's "scheme": every resource it serves, by group, version and plural.
//!
//! client-go keeps a `runtime.Scheme` mapping Go types to GroupVersionKinds; the apiserver
//! keeps a REST storage per GroupVersionResource. The sandbox stores every object as JSON, so
//! all it needs to know about a resource is in a [`ResourceInfo`]: names, scope, verbs,
//! subresources and how `kubectl get` prints it. Discovery, routing, storage keys and tables
//! are all derived from this one list.

use std::sync::Arc;

use super::registry::StrategyRef;

/// How `kubectl get` prints a column (a CRD's `additionalPrinterColumns`, or a built-in's).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    /// A simple JSONPath such as `.spec.author` (CRDs only; built-ins compute their cells).
    pub json_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The URL segment: `pods`, `deployments`.
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    /// `status`, `scale`, ... — served as `/<plural>/<name>/<sub>`.
    pub subresources: Vec<String>,
    /// Discovery-only subresources (exec, log, proxy...) that are listed but not served.
    pub listed_subresources: Vec<(String, String, Vec<String>)>,
    pub storage_version_hash: String,
    /// Filled for custom resources; empty for built-ins (their tables are computed in code).
    pub printer_columns: Vec<PrinterColumn>,
    /// The CRD's schema for custom resources (`openAPIV3Schema`), `None` for built-ins.
    pub schema: Option<serde_json::Value>,
    /// What the generic REST verbs ask of this kind: defaults, validation, deletion...
    pub strategy: StrategyRef,
}

impl ResourceInfo {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// `pods` or `deployments.apps`: how Status messages name the resource.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
    /// `Pod` or `Deployment.apps`: how `Invalid` messages name the kind. That is the kind
    /// validated, so the stored one: an events.k8s.io Event is validated as the core Event
    /// it is stored as, and called `Event`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() || super::conversion::is_converted(self) {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
    /// The prefix under which objects are stored: the group and plural, not the version,
    /// so every served version of a resource shares one set of objects. A resource served
    /// in another group's representation (events.k8s.io Events) shares that group's
    /// storage, as in kube-apiserver: see [`super::conversion`].
    pub fn storage_prefix(&self) -> String {
        let (group, plural) = super::conversion::stored_as(self);
        format!("{group}/{plural}")
    }
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
    /// True for a custom resource (defined by a CRD, so it carries its schema).
    pub fn is_custom(&self) -> bool {
        self.schema.is_some()
    }
    /// The REST path of the collection, for `namespace` when namespaced.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{}/{}", self.group, self.version) };
        match (self.namespaced, namespace) {
            (true, Some(ns)) => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }
}

const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: &'static [&'static str],
    hash: &'static str,
}

/// Served, stored built-in resources. Hashes are the ones kube-apiserver v1.34 publishes.
const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        short: &["cm"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "qFsyl6wFWjQ=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        namespaced: true,
        short: &["ep"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "fWeeMqaN/OA=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short: &["ev"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "r2yiGXH7wu8=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        namespaced: true,
        short: &["limits"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "EBKMFVe6cwo=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short: &["ns"],
        categories: &[],
        verbs: &["create", "delete", "get", "list", "patch", "update", "watch"],
        subresources: &["status", "finalize"],
        hash: "Q3oi5N2YM8M=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        namespaced: false,
        short: &["no"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "XwShjMxG9Fs=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        namespaced: true,
        short: &["pvc"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "QWTyNDq0dC4=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        namespaced: false,
        short: &["pv"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "HN/zwEC+JgM=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        short: &["po"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "xPOwRZ+Yhw8=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "LIXB2x4IFpk=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
        namespaced: true,
        short: &["rc"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "Jond2If31h0=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        namespaced: true,
        short: &["quota"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "8uhSgffRX6w=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "S6u1pOWzb84=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
        short: &["sa"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "pbx9ZvyFpBE=",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
        short: &["svc"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "0/CO1lhkEBI=",
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "85nkx63pcBU=",
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
        short: &["ds"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        hash: "dd7pWHUlMKQ=",
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        short: &["deploy"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["scale", "status"],
        hash: "8aSe+NMegvE=",
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        namespaced: true,
        short: &["rs"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["scale", "status"],
        hash: "P1RzHs8/mWQ=",
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        namespaced: true,
        short: &["sts"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["scale", "status"],
        hash: "H+vl74LkKdo=",
    },
    Builtin {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "gqkMMb/YqFM=",
    },
    Builtin {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short: &["ev"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        hash: "r2yiGXH7wu8=",
    },
];

/// Subresources listed by discovery that the sandbox does not serve (no kubelet to exec in).
fn listed_subresources(group: &str, plural: &str) -> Vec<(String, String, Vec<String>)> {
    let e = |name: &str, kind: &str, verbs: &[&str]| (name.to_string(), kind.to_string(), verbs.iter().map(|v| v.to_string()).collect());
    match (group, plural) {
        ("", "pods") => vec![
            e("attach", "PodAttachOptions", &["create", "get"]),
            e("binding", "Binding", &["create"]),
            e("ephemeralcontainers", "Pod", STATUS_VERBS),
            e("eviction", "Eviction", &["create"]),
            e("exec", "PodExecOptions", &["create", "get"]),
            e("log", "Pod", &["get"]),
            e("portforward", "PodPortForwardOptions", &["create", "get"]),
            e("proxy", "PodProxyOptions", &["create", "delete", "get", "patch", "update"]),
            e("resize", "Pod", STATUS_VERBS),
        ],
        ("", "nodes") => vec![e("proxy", "NodeProxyOptions", &["create", "delete", "get", "patch", "update"])],
        ("", "services") => vec![e("proxy", "ServiceProxyOptions", &["create", "delete", "get", "patch", "update"])],
        ("", "serviceaccounts") => vec![e("token", "TokenRequest", &["create"])],
        ("", "replicationcontrollers") => vec![e("scale", "Scale", STATUS_VERBS)],
        _ => vec![],
    }
}

/// Naive English singular, good for every built-in plural served here.
fn singular_of(kind: &str) -> String {
    kind.to_lowercase()
}

pub fn builtins() -> Vec<ResourceInfo> {
    BUILTINS
        .iter()
        .map(|b| ResourceInfo {
            group: b.group.into(),
            version: b.version.into(),
            kind: b.kind.into(),
            plural: b.plural.into(),
            singular: singular_of(b.kind),
            namespaced: b.namespaced,
            short_names: b.short.iter().map(|s| s.to_string()).collect(),
            categories: b.categories.iter().map(|s| s.to_string()).collect(),
            verbs: b.verbs.iter().map(|s| s.to_string()).collect(),
            subresources: b.subresources.iter().map(|s| s.to_string()).collect(),
            listed_subresources: listed_subresources(b.group, b.plural),
            storage_version_hash: b.hash.into(),
            printer_columns: vec![],
            schema: None,
            strategy: super::registry::strategy_for(b.group, b.kind),
        })
        .collect()
}

/// All resources currently served: the built-ins plus established custom resources.
/// Cheap to clone (an `Arc`); replaced wholesale when a CRD comes or goes.
#[derive(Debug, Clone)]
pub struct Catalogue {
    resources: Arc<Vec<ResourceInfo>>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::new(builtins())
    }
}

impl Catalogue {
    pub fn new(resources: Vec<ResourceInfo>) -> Self {
        Self { resources: Arc::new(resources) }
    }
    pub fn all(&self) -> &[ResourceInfo] {
        &self.resources
    }
    /// True when `other` serves exactly the same resources: the same catalogue, or one
    /// rebuilt with equal content. Lets documents derived from a catalogue be cached.
    pub fn same_as(&self, other: &Catalogue) -> bool {
        Arc::ptr_eq(&self.resources, &other.resources) || self.resources == other.resources
    }
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
    }
    pub fn find_kind(&self, group: &str, kind: &str) -> Option<&ResourceInfo> {
        self.resources.iter().find(|r| r.group == group && r.kind == kind)
    }
    /// Groups in the order discovery lists them (core excluded), each with its versions.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.resources.iter().filter(|r| !r.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone())
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }
    /// True when `group/version` is served at all (for `/apis/<g>/<v>` vs `404 page not found`).
    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        self.resources.iter().any(|r| r.group == group && r.version == version)
    }
    /// The blog's `books.example.com` as a custom resource with `schema`, for tests.
    #[cfg(test)]
    pub fn book_for_tests(schema: serde_json::Value) -> ResourceInfo {
        let mut book = Self::default().find("", "v1", "configmaps").expect("built in").clone();
        book.group = "example.com".into();
        book.kind = "Book".into();
        book.plural = "books".into();
        book.singular = "book".into();
        book.short_names = vec![];
        book.subresources = vec!["status".into()];
        book.schema = Some(schema);
        book.strategy = StrategyRef::new(super::registry::CustomResourceStrategy);
        book
    }

    /// The built-ins of this catalogue (with their strategies' state, such as the service
    /// allocators) plus `extra`.
    pub fn with(&self, extra: Vec<ResourceInfo>) -> Self {
        let mut all: Vec<ResourceInfo> = self.resources.iter().filter(|r| !r.is_custom()).cloned().collect();
        all.extend(extra);
        Self::new(all)
    }
}
