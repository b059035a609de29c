//! The sandbox's "scheme": every resource it serves, by group, version and plural.
//!
//! client-go keeps a `runtime.Scheme` mapping Go types to GroupVersionKinds; the apiserver
//! keeps a REST storage per GroupVersionResource. The sandbox stores every object as JSON, so
//! all it needs to know about a resource is in a [`ResourceInfo`]: names, scope, verbs,
//! subresources and how `kubectl get` prints it. Discovery, routing, storage keys and tables
//! are all derived from this one list.

use std::sync::{Arc, OnceLock};

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
    /// Subresources discovery lists that the generic store does not serve (exec, log,
    /// proxy...); a kind's strategy may serve some of them (`Strategy::streamer`).
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
    /// storage, as in kube-apiserver: see [`super::conversion`]. A version the sandbox
    /// cannot convert to and from the stored one keeps objects of its own
    /// ([`UNCONVERTED_VERSIONS`]).
    pub fn storage_prefix(&self) -> String {
        if !self.is_custom() && UNCONVERTED_VERSIONS.contains(&(self.group.as_str(), self.version.as_str(), self.plural.as_str())) {
            return format!("{}/{}/{}", self.group, self.version, self.plural);
        }
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

/// Served versions that kube-apiserver converts from the stored version and the sandbox
/// does not (yet): autoscaling/v1 HorizontalPodAutoscalers are stored as v2 upstream, with
/// what v1 cannot say kept in annotations. Until that conversion exists, each such version
/// is stored under its own prefix, so an object reads back in the version it was written in
/// (and a v1 HPA is not listed through v2).
const UNCONVERTED_VERSIONS: &[(&str, &str, &str)] = &[("autoscaling", "v1", "horizontalpodautoscalers")];

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
    /// `<group>/<version>` of the representation kube-apiserver stores (`/v1` for core);
    /// empty for a resource that is not stored (reviews, bindings), which has no hash.
    stored_as: &'static str,
    /// `discovery.StorageVersionHash`: base64 of the first 8 bytes of
    /// sha256(`<stored_as>/<Kind>`), as kube-apiserver v1.34 publishes it.
    hash: &'static str,
}

/// Every resource a default kube-apiserver v1.34 serves (`--runtime-config` untouched:
/// GA versions only), as its discovery lists it. Ported from upstream's
/// `pkg/registry/<group>/rest/storage_<group>.go` (resources per version) and each kind's
/// `storage.go` (short names, categories, status). Storage versions follow
/// `emulatedStorageVersion` for emulation 1.34 / compatibility 1.33 and the overrides of
/// `default_storage_factory_builder.go`: so resource.k8s.io is stored as v1beta2 (v1 is new
/// in 1.34 and v1beta2 comes first in its version priority), VolumeAttributesClass as
/// v1beta1, and both autoscaling versions as v2.
const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "Binding",
        plural: "bindings",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ComponentStatus",
        plural: "componentstatuses",
        namespaced: false,
        short: &["cs"],
        categories: &[],
        verbs: &["get", "list"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
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
        stored_as: "/v1",
        hash: "0/CO1lhkEBI=",
    },
    Builtin {
        group: "apiregistration.k8s.io",
        version: "v1",
        kind: "APIService",
        plural: "apiservices",
        namespaced: false,
        short: &[],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "apiregistration.k8s.io/v1",
        hash: "InPBPD7+PqM=",
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
        stored_as: "apps/v1",
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
        stored_as: "apps/v1",
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
        stored_as: "apps/v1",
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
        stored_as: "apps/v1",
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
        stored_as: "apps/v1",
        hash: "H+vl74LkKdo=",
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
        stored_as: "/v1",
        hash: "r2yiGXH7wu8=",
    },
    Builtin {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: &["create"],
        subresources: &[],
        stored_as: "",
        hash: "",
    },
    Builtin {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        namespaced: true,
        short: &["hpa"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "autoscaling/v2",
        hash: "qwQve8ut294=",
    },
    Builtin {
        group: "autoscaling",
        version: "v1",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        namespaced: true,
        short: &["hpa"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "autoscaling/v2",
        hash: "qwQve8ut294=",
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        namespaced: true,
        short: &["cj"],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "batch/v1",
        hash: "sd5LIXh4Fjs=",
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        namespaced: true,
        short: &[],
        categories: &["all"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "batch/v1",
        hash: "mudhfqk/qZY=",
    },
    Builtin {
        group: "certificates.k8s.io",
        version: "v1",
        kind: "CertificateSigningRequest",
        plural: "certificatesigningrequests",
        namespaced: false,
        short: &["csr"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["approval", "status"],
        stored_as: "certificates.k8s.io/v1",
        hash: "95fRKMXA+00=",
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "networking.k8s.io/v1",
        hash: "l/iqIbDgFyQ=",
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        namespaced: true,
        short: &["ing"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "networking.k8s.io/v1",
        hash: "39NQlfNR+bo=",
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IPAddress",
        plural: "ipaddresses",
        namespaced: false,
        short: &["ip"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "networking.k8s.io/v1",
        hash: "3f/plJFChNE=",
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        namespaced: true,
        short: &["netpol"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "networking.k8s.io/v1",
        hash: "YpfwF18m1G8=",
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "ServiceCIDR",
        plural: "servicecidrs",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "networking.k8s.io/v1",
        hash: "gNLvruQhW2g=",
    },
    Builtin {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        namespaced: true,
        short: &["pdb"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "policy/v1",
        hash: "EVWiDmWqyJw=",
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "rbac.authorization.k8s.io/v1",
        hash: "48tpQ8gZHFc=",
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "rbac.authorization.k8s.io/v1",
        hash: "bYE5ZWDrJ44=",
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "rbac.authorization.k8s.io/v1",
        hash: "eGsCzGH6b1g=",
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "rbac.authorization.k8s.io/v1",
        hash: "7FuwZcIIItM=",
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIDriver",
        plural: "csidrivers",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "storage.k8s.io/v1",
        hash: "hL6j/rwBV5w=",
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSINode",
        plural: "csinodes",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "storage.k8s.io/v1",
        hash: "Pe62DkZtjuo=",
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIStorageCapacity",
        plural: "csistoragecapacities",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "storage.k8s.io/v1",
        hash: "xeVl+2Ly1kE=",
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        namespaced: false,
        short: &["sc"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "storage.k8s.io/v1",
        hash: "K+m6uJwbjGY=",
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttachment",
        plural: "volumeattachments",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "storage.k8s.io/v1",
        hash: "tJx/ezt6UDU=",
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttributesClass",
        plural: "volumeattributesclasses",
        namespaced: false,
        short: &["vac"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "storage.k8s.io/v1beta1",
        hash: "Bl3MtjZ/n/s=",
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        namespaced: false,
        short: &[],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "admissionregistration.k8s.io/v1",
        hash: "Sqi0GUgDaX0=",
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicy",
        plural: "validatingadmissionpolicies",
        namespaced: false,
        short: &[],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "admissionregistration.k8s.io/v1",
        hash: "6OxvlMmQ6is=",
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicyBinding",
        plural: "validatingadmissionpolicybindings",
        namespaced: false,
        short: &[],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "admissionregistration.k8s.io/v1",
        hash: "v9715VZqakg=",
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        namespaced: false,
        short: &[],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "admissionregistration.k8s.io/v1",
        hash: "B0wHjQmsGNk=",
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
        short: &["crd", "crds"],
        categories: &["api-extensions"],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "apiextensions.k8s.io/v1",
        hash: "M5uH+AlWATY=",
    },
    Builtin {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        namespaced: false,
        short: &["pc"],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "scheduling.k8s.io/v1",
        hash: "1QwjyaZjj3Y=",
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
        stored_as: "coordination.k8s.io/v1",
        hash: "gqkMMb/YqFM=",
    },
    Builtin {
        group: "node.k8s.io",
        version: "v1",
        kind: "RuntimeClass",
        plural: "runtimeclasses",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "node.k8s.io/v1",
        hash: "WQTu1GL3T2Q=",
    },
    Builtin {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "discovery.k8s.io/v1",
        hash: "qgS0xkrxYAI=",
    },
    Builtin {
        group: "resource.k8s.io",
        version: "v1",
        kind: "DeviceClass",
        plural: "deviceclasses",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "resource.k8s.io/v1beta2",
        hash: "weQRMT6DeYM=",
    },
    Builtin {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceClaim",
        plural: "resourceclaims",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "resource.k8s.io/v1beta2",
        hash: "EJAWH5WrAYg=",
    },
    Builtin {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceClaimTemplate",
        plural: "resourceclaimtemplates",
        namespaced: true,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "resource.k8s.io/v1beta2",
        hash: "24m0okHrUtk=",
    },
    Builtin {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceSlice",
        plural: "resourceslices",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &[],
        stored_as: "resource.k8s.io/v1beta2",
        hash: "z6Bc9vgk6yE=",
    },
    Builtin {
        group: "flowcontrol.apiserver.k8s.io",
        version: "v1",
        kind: "FlowSchema",
        plural: "flowschemas",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "flowcontrol.apiserver.k8s.io/v1",
        hash: "GJVAJZSZBIw=",
    },
    Builtin {
        group: "flowcontrol.apiserver.k8s.io",
        version: "v1",
        kind: "PriorityLevelConfiguration",
        plural: "prioritylevelconfigurations",
        namespaced: false,
        short: &[],
        categories: &[],
        verbs: ALL_VERBS,
        subresources: &["status"],
        stored_as: "flowcontrol.apiserver.k8s.io/v1",
        hash: "Kir5PVfvNeI=",
    },
];

/// Subresources discovery lists beyond `status`/`scale`: served, if at all, by the kind's
/// strategy (`pods/log` and the refused `exec`, `attach`, `portforward` are the pod
/// strategy's streamers), never by the generic store.
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

fn info(b: &Builtin) -> ResourceInfo {
    ResourceInfo {
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
    }
}

/// Whether the REST layer serves a built-in: the stored ones, the reviews, which it
/// answers without storing, and `bindings`, a create on another kind's object.
fn served(b: &Builtin) -> bool {
    !b.stored_as.is_empty()
        || super::registry::is_review(b.group, b.kind)
        || super::registry::strategy_for(b.group, b.kind).create_forwards_to().is_some()
}

/// The built-in resources the REST layer serves: the stored ones and the reviews.
pub fn builtins() -> Vec<ResourceInfo> {
    BUILTINS.iter().filter(|b| served(b)).map(info).collect()
}

/// Built-in resources kube-apiserver lists but the sandbox does not serve (the deprecated
/// `componentstatuses`: there are no components to report on). Discovery and OpenAPI list them with their verbs; they are not in
/// [`Catalogue::all`], so the REST layer answers them `404` as a resource it does not serve.
pub fn listed_only() -> &'static [ResourceInfo] {
    static LISTED: OnceLock<Vec<ResourceInfo>> = OnceLock::new();
    LISTED.get_or_init(|| BUILTINS.iter().filter(|b| !served(b)).map(info).collect())
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
    /// What discovery lists: the served resources, then the [`listed_only`] built-ins.
    pub fn discoverable(&self) -> impl Iterator<Item = &ResourceInfo> {
        self.resources.iter().chain(listed_only())
    }
    /// Groups in the order discovery lists them (core excluded), each with its versions.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.discoverable().filter(|r| !r.group.is_empty()) {
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
    /// True when `group/version` is served at all (for `/apis/<g>/<v>` vs `404 page not found`),
    /// if only by resources that are not stored (authentication.k8s.io).
    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        self.discoverable().any(|r| r.group == group && r.version == version)
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
        book.strategy = StrategyRef::new(super::registry::CustomResourceStrategy::default());
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// SHA-256 from the TLS stack's provider (ring), which the sandbox already links.
    fn sha256(data: &[u8]) -> Vec<u8> {
        let provider = rustls::crypto::ring::default_provider();
        let hash = provider
            .cipher_suites
            .iter()
            .filter_map(|s| match s {
                rustls::SupportedCipherSuite::Tls13(s) => Some(s.common.hash_provider),
                _ => None,
            })
            .find(|h| h.algorithm() == rustls::crypto::hash::HashAlgorithm::SHA256)
            .expect("ring has SHA-256");
        hash.hash(data).as_ref().to_vec()
    }

    /// apiserver's `discovery.StorageVersionHash(group, version, kind)`.
    fn storage_version_hash(stored_as: &str, kind: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(&sha256(format!("{stored_as}/{kind}").as_bytes())[..8])
    }

    #[test]
    fn every_hash_is_the_storage_version_hash_of_what_is_stored() {
        // The formula, on hashes the recorded kube-apiserver published (p01-discovery).
        assert_eq!(storage_version_hash("/v1", "Pod"), "xPOwRZ+Yhw8=");
        assert_eq!(storage_version_hash("apps/v1", "Deployment"), "8aSe+NMegvE=");
        for b in BUILTINS {
            let want = if b.stored_as.is_empty() { String::new() } else { storage_version_hash(b.stored_as, b.kind) };
            assert_eq!(b.hash, want, "{}/{} {}", b.group, b.version, b.kind);
        }
    }

    #[test]
    fn every_resource_is_listed_once_per_version() {
        let mut seen = std::collections::BTreeSet::new();
        for b in BUILTINS {
            assert!(seen.insert((b.group, b.version, b.plural)), "{} {} {} twice", b.group, b.version, b.plural);
            assert!(b.verbs.windows(2).all(|w| w[0] < w[1]), "verbs of {} are sorted as discovery sorts them", b.plural);
        }
    }

    #[test]
    fn reviews_are_served_and_componentstatuses_only_listed() {
        let c = Catalogue::default();
        assert!(c.find("authentication.k8s.io", "v1", "tokenreviews").is_some());
        assert!(c.find("", "v1", "componentstatuses").is_none());
        assert!(c.serves_group_version("authentication.k8s.io", "v1"));
        let review = c.discoverable().find(|r| r.plural == "tokenreviews").expect("listed");
        assert_eq!((review.verbs.clone(), review.storage_version_hash.as_str()), (vec!["create".to_string()], ""));
        assert!(listed_only().iter().all(|r| r.storage_version_hash.is_empty()));
        assert!(c.groups().iter().any(|(g, _)| g == "authorization.k8s.io"));
    }

    #[test]
    fn autoscaling_v1_keeps_its_own_objects_until_it_is_converted() {
        let c = Catalogue::default();
        let v1 = c.find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let v2 = c.find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        assert_eq!(v1.storage_version_hash, v2.storage_version_hash, "both are stored as v2 upstream");
        assert_ne!(v1.storage_prefix(), v2.storage_prefix());
        assert!(!v1.storage_prefix().starts_with(&format!("{}/", v2.storage_prefix())));
        assert_eq!(c.find("batch", "v1", "jobs").unwrap().storage_prefix(), "batch/jobs");
    }
}
