//! The strategy trait: what the generic REST verbs ask of a kind.
//!
//! kube-apiserver keeps one generic store (`registry/generic/registry/store.go`) and hands
//! it a strategy per kind (`pkg/registry/<group>/<kind>/strategy.go`): RESTCreateStrategy,
//! RESTUpdateStrategy, RESTDeleteStrategy, RESTGracefulDeleteStrategy and the status
//! strategy. [`Strategy`] is those interfaces in one trait, with the apiserver's generic
//! behaviour as defaults, so a kind states only where it differs. `rest/` calls these and
//! never names a kind; custom resources get a strategy built from their CRD at run time
//! (see `custom_resources.rs`), which is why every hook takes the object as JSON.

use std::sync::Arc;

use serde_json::Value;

use crate::sandbox::oidc::ServiceAccountIssuer;
use crate::sandbox::status::{ApiError, FieldError};

/// Where the scale subresource reads and writes a kind's replicas (a CRD's
/// `subresources.scale`; the built-in workloads use the same paths).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    /// JSON pointer of the desired replicas, e.g. `/spec/replicas`.
    pub spec_replicas: String,
    /// JSON pointer of the observed replicas, e.g. `/status/replicas`.
    pub status_replicas: String,
    /// JSON pointer of the selector. Built-in workloads keep a `LabelSelector` there
    /// (ReplicationController a plain map); a custom resource a selector string.
    pub selector: Option<String>,
}

impl ScalePaths {
    /// `spec.replicas`, `status.replicas` and the `spec.selector` of the apps workloads.
    pub fn workload() -> ScalePaths {
        ScalePaths {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            selector: Some("/spec/selector".into()),
        }
    }
}

/// One kind's rules. Every method has the generic store's behaviour as its default.
pub trait Strategy: Send + Sync {
    /// `SetDefaults_<Kind>`: Go applies these whenever it decodes a body, so on create and
    /// on every update, before the field manager looks at the object.
    fn defaults(&self, _obj: &mut Value) {}

    /// Whether `metadata.generation` counts spec changes (workloads, pods, custom resources).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether an update changed what `generation` counts.
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        old.get("spec") != new.get("spec")
    }

    /// `PrepareForCreate`: what the server sets on a new object (status, finalizers).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Mutating admission on create (ServiceAccount for pods, TaintNodesByCondition...).
    fn admit_create(&self, _obj: &mut Value) {}

    /// `Validate`: the kind's rules on create (object metadata is validated generically).
    fn validate(&self, _obj: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// `ValidateUpdate`: the kind's rules on update of the main resource.
    fn validate_update(&self, _old: &Value, new: &Value) -> Vec<FieldError> {
        self.validate(new)
    }

    /// `PrepareForUpdate` of the main resource, after defaults and after the generic
    /// store kept the stored status (for kinds with a status subresource).
    fn prepare_for_update(&self, _old: &Value, _new: &mut Value) {}

    /// `PrepareForUpdate` of a subresource write (`status`, `finalize`). The status
    /// strategy takes everything but `status` from the stored object.
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        if subresource == "status" {
            keep(old, new, "spec");
        }
    }

    /// `CheckGracefulDelete`: `Some(seconds)` when the kind deletes gracefully (pods),
    /// given the grace period the client asked for.
    fn graceful_delete(&self, _obj: &Value, _requested: Option<i64>) -> Option<i64> {
        None
    }

    /// A kind whose deletion is a lifecycle of its own (namespaces: `Terminating` until a
    /// controller empties it) answers the object to store instead of deleting it.
    fn begin_deletion(&self, _obj: &Value) -> Option<Value> {
        None
    }

    /// Whether a terminating object whose finalizers are gone may leave the store now
    /// (`ShouldDeleteDuringUpdate`): only once no grace period is left to honour.
    fn deletion_may_complete(&self, obj: &Value) -> bool {
        obj.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) == 0
    }

    /// A completed DELETE answers a `Status` (nodes, custom resources) rather than the
    /// deleted object (`ReturnDeletedObject` is false).
    fn delete_returns_status(&self) -> bool {
        false
    }

    /// Whether the kind takes from cluster-wide pools ([`Strategy::allocate`]), so the
    /// store replays existing objects through [`Strategy::observe`] at start.
    fn allocates(&self) -> bool {
        false
    }

    /// Takes what a new object needs (a service's cluster IP and node ports). Nothing stays
    /// taken when it fails.
    fn allocate(&self, _obj: &mut Value) -> Result<(), Vec<FieldError>> {
        Ok(())
    }

    /// Allocation on update; what the old object held and the new one does not is freed.
    fn allocate_update(&self, _old: &Value, _new: &mut Value) -> Result<(), Vec<FieldError>> {
        Ok(())
    }

    /// Gives back what `obj` holds: it was deleted, or an attempt was not stored.
    fn release(&self, _obj: &Value) {}

    /// Marks what a stored object holds as taken (loading the store).
    fn observe(&self, _obj: &Value) {}

    /// The scale subresource's paths, for kinds that serve `/scale`.
    fn scale(&self) -> Option<ScalePaths> {
        None
    }

    /// Selectable fields beyond `metadata.name` and `metadata.namespace`, with their values.
    fn selectable_fields(&self, _obj: &Value) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Warnings the server returns with a write of this object (`Warning: 299` headers).
    fn warnings(&self, _obj: &Value) -> Vec<String> {
        Vec::new()
    }

    /// A create the kind answers without storing anything (the access and identity
    /// reviews, `rest.Creater`s with no storage upstream): the object to answer with, or
    /// `None` for an ordinary stored create. `auth` says who tokens belong to (TokenReview).
    fn answer_create(
        &self,
        _obj: &Value,
        _auth: Option<&crate::sandbox::authenticator::TokenAuthenticator>,
    ) -> Option<Result<Value, crate::sandbox::status::ApiError>> {
        None
    }

    /// The `rest.NamedCreater` serving a `create` on `subresource` of a named object when
    /// that creates something other than the object (`serviceaccounts/<name>/token`).
    fn named_creater(&self, _subresource: &str) -> Option<&dyn NamedCreater> {
        None
    }

    /// A resource whose `create` is a create on a subresource of another kind's object,
    /// named by the body's `metadata.name` (`LegacyBindingREST`: POST `bindings` is POST
    /// `pods/<name>/binding`).
    fn create_forwards_to(&self) -> Option<ForwardedCreate> {
        None
    }

    /// The streamer serving `subresource` of a named object when that is neither the
    /// object nor stored (`pods/log`, `pods/exec`: upstream's `GetterWithOptions` and
    /// `Connecter`s, which answer from the kubelet rather than from etcd).
    fn streamer(&self, _subresource: &str) -> Option<&dyn SubresourceStreamer> {
        None
    }
}

/// A request to a streamed subresource: the method, the URL's namespace, name and query,
/// read access to the store for as long as the stream lasts, and the sandbox's data
/// directory (where the kubelets keep what they serve).
pub struct SubresourceStream<'a> {
    pub method: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub query: &'a crate::sandbox::request::Query,
    pub objects: std::sync::Arc<dyn ObjectReader + Send + Sync>,
    pub data_dir: &'a std::path::Path,
}

/// What a streamed subresource answers: a content type and a body that may go on
/// (`follow=true`) until the object goes or the client leaves.
pub struct Streamed {
    pub content_type: String,
    pub body: futures::stream::BoxStream<'static, bytes::Bytes>,
}

/// `rest.GetterWithOptions` / `rest.Connecter`: a subresource answered as a stream.
pub trait SubresourceStreamer: Send + Sync {
    fn open(&self, req: SubresourceStream<'_>) -> Result<Streamed, ApiError>;
}

/// Where [`Strategy::create_forwards_to`] sends a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardedCreate {
    pub group: &'static str,
    pub kind: &'static str,
    pub subresource: &'static str,
}

/// How a subresource create changes the object it is posted to, as a storage-level
/// `GuaranteedUpdate` (`BindingREST` sets a pod's node): the stored object in, the object
/// to store out, or the error that refuses the create. It may run more than once when
/// another write wins the race.
pub type ObjectChange = Box<dyn Fn(&Value) -> Result<Value, ApiError> + Send + Sync>;

/// Read access to stored objects, for a subresource that looks at other objects.
pub trait ObjectReader {
    /// The object of `kind` in `group`, or the apiserver's 404 for it.
    fn get(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Result<Value, ApiError>;
}

/// A `create` on a subresource: the URL's namespace and name, and the decoded body.
pub struct SubresourceCreate<'a> {
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub body: Value,
    pub objects: &'a dyn ObjectReader,
    /// The service-account token signer, when the server has one.
    pub issuer: Option<&'a ServiceAccountIssuer>,
}

/// What a subresource `create` answers: the object (201) and any warnings, and the
/// change it makes to the named object first, if it makes one.
pub struct Created {
    pub object: Value,
    pub warnings: Vec<String>,
    pub change: Option<ObjectChange>,
}

/// `rest.NamedCreater`: a subresource whose `create` answers an object of its own kind.
pub trait NamedCreater: Send + Sync {
    fn create(&self, req: SubresourceCreate<'_>) -> Result<Created, ApiError>;
}

/// Replaces an object's status (what `PrepareForCreate` resets).
pub fn set_status(obj: &mut Value, status: Value) {
    if let Some(m) = obj.as_object_mut() {
        m.insert("status".into(), status);
    }
}

/// The apps workloads' status strategy: only status changes, and their labels are kept
/// too (`v1.StatefulSet` etc. status updates may not relabel).
pub fn workload_status_update(subresource: &str, old: &Value, new: &mut Value) {
    if subresource != "status" {
        return;
    }
    keep(old, new, "spec");
    let labels = old.pointer("/metadata/labels").cloned();
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        match labels {
            Some(l) => meta.insert("labels".into(), l),
            None => meta.remove("labels"),
        };
    }
}

/// A selectable field's value as the field set holds it: strings as they are, absent or
/// null as `""`, anything else as its JSON text.
pub fn field_text(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A boolean selectable field as Go's `strconv.FormatBool` prints it (absent is `false`).
pub fn field_flag(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer).and_then(Value::as_bool).unwrap_or(false).to_string()
}

/// A kind with no rules of its own: the generic store's behaviour.
pub struct Generic;

impl Strategy for Generic {}

/// Keeps `old`'s value of the top-level `field` in `new` (or its absence).
pub fn keep(old: &Value, new: &mut Value, field: &str) {
    if let Some(m) = new.as_object_mut() {
        match old.get(field) {
            Some(v) => m.insert(field.to_string(), v.clone()),
            None => m.remove(field),
        };
    }
}

/// The strategy a [`crate::sandbox::resources::ResourceInfo`] carries. It follows from the
/// resource's identity, so two infos compare equal whatever their strategy instances.
#[derive(Clone)]
pub struct StrategyRef(pub Arc<dyn Strategy>);

impl StrategyRef {
    pub fn new(s: impl Strategy + 'static) -> StrategyRef {
        StrategyRef(Arc::new(s))
    }
}

impl std::ops::Deref for StrategyRef {
    type Target = dyn Strategy;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl std::fmt::Debug for StrategyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Strategy")
    }
}

impl PartialEq for StrategyRef {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
