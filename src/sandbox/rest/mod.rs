//! The generic REST verbs over storage, kind-blind like the apiserver's generic registry
//! store (`registry/generic/registry/store.go`): metadata bookkeeping (uid,
//! resourceVersion, timestamps, generateName, finalizers, graceful deletion), optimistic
//! concurrency and the calls into each kind's [`Strategy`](super::registry::Strategy).
//! One file per verb; nothing here names a kind.

mod body;
mod create;
mod delete;
pub mod encode;
mod get;
mod list;
mod patch;
mod scale;
mod stream;
mod subresource;
mod update;
pub mod watch;

use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use serde_json::{json, Value};

use super::authenticator::TokenAuthenticator;
use super::keys::list_prefix;
use super::meta;
use super::oidc::ServiceAccountIssuer;
use super::request::{self, ApiPath, ApiRequest, HttpRequest, Verb};
use super::resources::{Catalogue, ResourceInfo};
use super::selectors;
use super::status::ApiError;
use super::storage::{NewObject, Snapshot, Storage};

pub use list::ContinueToken;

/// Bodies above this size are refused with 413, as kube-apiserver's 3 MiB request limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A finished, non-streaming answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
    pub warnings: Vec<String>,
}

impl Reply {
    pub fn json(status: u16, body: Bytes) -> Reply {
        Reply { status, content_type: "application/json".into(), body, warnings: vec![] }
    }
    pub fn error(e: &ApiError) -> Reply {
        if e.plain_text {
            return Reply {
                status: e.code,
                content_type: "text/plain; charset=utf-8".into(),
                body: Bytes::from(e.message.clone()),
                warnings: vec![],
            };
        }
        Reply::json(e.code, Bytes::from(serde_json::to_vec(&e.to_status()).expect("a Status serializes")))
    }
}

/// The apiserver proper: storage and the served resources.
pub struct Apiserver {
    pub storage: Arc<Storage>,
    catalogue: RwLock<Catalogue>,
    /// Signs service-account tokens; set once at start.
    issuer: OnceLock<Arc<ServiceAccountIssuer>>,
    /// Who bearer tokens belong to; set once at start.
    authenticator: OnceLock<Arc<TokenAuthenticator>>,
}

/// What the store indexes for selectors.
fn index_of(res: &ResourceInfo, obj: &Value) -> (selectors::Labels, Vec<(String, String)>) {
    (meta::labels(obj), selectors::field_set(res, obj))
}

fn new_object(res: &ResourceInfo, obj: &mut Value, rev: u64) -> NewObject {
    meta::set(obj, "resourceVersion", json!(rev.to_string()));
    stored_form(res, obj)
}

/// Serializes an object for the store: `apiVersion` and `kind` first, so that a list can
/// serve built-in items without them by skipping a prefix.
pub fn stored_form(res: &ResourceInfo, obj: &Value) -> NewObject {
    let (labels, fields) = index_of(res, obj);
    let mut body = obj.as_object().cloned().unwrap_or_default();
    // `shift_remove` keeps the other keys in the order they were written (`remove` would
    // swap the last key into the freed slot, moving it to the front).
    let api_version = body.shift_remove("apiVersion").unwrap_or_else(|| json!(res.api_version()));
    let kind = body.shift_remove("kind").unwrap_or_else(|| json!(res.kind));
    let rest = serde_json::to_vec(&body).expect("JSON values serialize");
    let mut raw = format!("{{\"apiVersion\":{api_version},\"kind\":{kind}").into_bytes();
    let item_start = raw.len() + 1;
    if rest.len() > 2 {
        raw.push(b',');
        raw.extend_from_slice(&rest[1..]);
    } else {
        raw.push(b'}');
    }
    // Custom resources keep apiVersion and kind in lists (they are unstructured).
    let item_start = if res.is_custom() || rest.len() <= 2 { 0 } else { item_start };
    NewObject { raw: Bytes::from(raw), item_start, labels, fields }
}

impl Apiserver {
    pub fn new(storage: Arc<Storage>, catalogue: Catalogue) -> Arc<Apiserver> {
        // Cluster-wide pools (service IPs, node ports) learn what stored objects hold.
        for res in catalogue.all().iter().filter(|r| r.strategy.allocates()) {
            if let Ok((_, items)) = storage.list(&list_prefix(res, None), None, Snapshot::Current) {
                for s in items {
                    res.strategy.observe(&s.value());
                }
            }
        }
        let api =
            Arc::new(Apiserver { storage, catalogue: RwLock::new(catalogue), issuer: OnceLock::new(), authenticator: OnceLock::new() });
        // Labels and selectable fields are not persisted: compute them for what was loaded.
        let cat = api.catalogue();
        api.storage.reindex(|s| {
            let v = s.value();
            let group = v.get("apiVersion").and_then(|a| a.as_str()).map(|a| a.split_once('/').map(|(g, _)| g).unwrap_or("")).unwrap_or("");
            let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("");
            match cat.find_kind(group, kind) {
                Some(res) => stored_form(res, &v),
                None => NewObject { raw: s.raw.clone(), item_start: 0, labels: meta::labels(&v), fields: vec![] },
            }
        });
        api
    }

    pub fn catalogue(&self) -> Catalogue {
        self.catalogue.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_catalogue(&self, c: Catalogue) {
        *self.catalogue.write().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// Gives the server its service-account token signer (once; later calls are ignored).
    pub fn set_service_account_issuer(&self, issuer: Arc<ServiceAccountIssuer>) {
        let _ = self.issuer.set(issuer);
    }

    pub fn service_account_issuer(&self) -> Option<Arc<ServiceAccountIssuer>> {
        self.issuer.get().cloned()
    }

    /// Gives the server its token authenticator (once; later calls are ignored).
    pub fn set_authenticator(&self, authenticator: Arc<TokenAuthenticator>) {
        let _ = self.authenticator.set(authenticator);
    }

    /// The token authenticator; `None` until the sandbox sets one (then no token is known).
    pub fn authenticator(&self) -> Option<&TokenAuthenticator> {
        self.authenticator.get().map(Arc::as_ref)
    }

    /// The resource a path names, or the apiserver's 404.
    pub fn resolve(&self, path: &ApiPath) -> Result<ResourceInfo, ApiError> {
        let cat = self.catalogue();
        if !cat.serves_group_version(&path.group, &path.version) {
            return Err(ApiError::page_not_found());
        }
        let res = cat.find(&path.group, &path.version, &path.resource).ok_or_else(ApiError::resource_not_found)?;
        // A cluster-scoped resource under /namespaces/<ns>/ does not exist.
        if path.namespace.is_some() && !res.namespaced {
            return Err(ApiError::resource_not_found());
        }
        if let Some(sub) = &path.subresource {
            if !res.has_subresource(sub) && res.strategy.named_creater(sub).is_none() && res.strategy.streamer(sub).is_none() {
                // The custom resource handler answers a subresource its CRD lacks as the
                // object not found.
                if res.is_custom() {
                    return Err(ApiError::not_found(&res.qualified_resource(), path.name.as_deref().unwrap_or_default()));
                }
                return Err(ApiError::resource_not_found());
            }
        }
        Ok(res.clone())
    }

    /// Resolves and parses a request: the resource it names and its typed form.
    pub fn understand(&self, req: HttpRequest) -> Result<(ResourceInfo, ApiRequest), ApiError> {
        let res = self.resolve(&req.path)?;
        let req = request::parse(req, &res)?;
        Ok((res, req))
    }

    /// Serves one non-watch request.
    pub async fn handle(&self, req: HttpRequest) -> Reply {
        let (res, req) = match self.understand(req) {
            Ok(understood) => understood,
            Err(e) => return Reply::error(&e),
        };
        let mut reply = self.dispatch(&res, &req).await.unwrap_or_else(|e| Reply::error(&e));
        if let Some(w) = super::deprecation::warning(&res) {
            reply.warnings.insert(0, w);
        }
        reply
    }

    async fn dispatch(&self, res: &ResourceInfo, req: &ApiRequest) -> Result<Reply, ApiError> {
        let p = &req.path;
        let scale = p.subresource.as_deref() == Some("scale");
        // A subresource served only by a strategy's `named_creater` takes nothing but a create.
        let create_only = p.subresource.as_deref().is_some_and(|s| !res.has_subresource(s));
        // A verb the resource does not serve (a review takes only `create`) is refused.
        if p.subresource.is_none() && !res.has_verb(req.verb.name()) {
            return Err(ApiError::method_not_allowed());
        }
        match (&req.verb, p.name.as_deref()) {
            (Verb::List(opts), None) => self.list(res, req, opts),
            (Verb::Watch(_), _) => Err(ApiError::method_not_allowed()),
            (Verb::Create(opts), None) => self.create(res, req, opts).await,
            (Verb::Create(_), Some(name)) if p.subresource.is_some() => self.create_on_subresource(res, req, name).await,
            _ if create_only => Err(ApiError::method_not_allowed()),
            (Verb::DeleteCollection(dopts, lopts), None) if res.has_verb("deletecollection") => {
                self.delete_collection(res, req, dopts, lopts).await
            }
            (Verb::Get(_), Some(name)) if scale => self.get_scale(res, req, name),
            (Verb::Update(opts), Some(name)) if scale => self.update_scale(res, req, name, &opts.clone(), None).await,
            (Verb::Patch(opts), Some(name)) if scale => self.update_scale(res, req, name, &opts.write, Some(opts.patch_type)).await,
            (Verb::Get(_), Some(name)) => self.get(res, req, name),
            (Verb::Update(opts), Some(name)) => self.update(res, req, name, opts).await,
            (Verb::Patch(opts), Some(name)) => self.patch(res, req, name, opts).await,
            (Verb::Delete(opts), Some(name)) if p.subresource.is_none() => self.delete(res, req, name, opts).await,
            _ => Err(ApiError::method_not_allowed()),
        }
    }

    /// Used by the sandbox's own seeding and controllers: create `obj` as `manager`,
    /// bypassing HTTP. Returns the stored object (or what a dry run would store).
    pub async fn create_internal(&self, res: &ResourceInfo, obj: Value, manager: &str) -> Result<Value, ApiError> {
        let ns = meta::namespace(&obj).map(String::from);
        let opts = request::WriteOptions { field_manager: Some(manager.to_string()), ..Default::default() };
        let req = ApiRequest::internal(res, ns, Verb::Create(opts.clone()), manager);
        let mut w = vec![];
        let mut obj = self.decode_value(res, &req, obj, opts.field_validation, &mut w)?;
        let (stored, _) = self.create_object(res, &req, &mut obj, manager, false).await?;
        Ok(stored.map(|s| s.value()).unwrap_or(obj))
    }
}
