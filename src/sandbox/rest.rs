//! The REST verbs over storage: get, list, create, update, patch, delete, deletecollection.
//!
//! This is the apiserver's generic registry (`registry/generic/registry/store.go`) for JSON
//! objects: metadata bookkeeping (uid, resourceVersion, timestamps, generateName,
//! finalizers, graceful deletion), optimistic concurrency, namespace lifecycle, and the
//! calls into the per-kind strategies of [`super::registry`]. Watches live in
//! [`super::watch`].

use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::conversion;
use super::managed_fields;
use super::meta;
use super::patch;
use super::registry::{self, Allocators, FieldValidation};
use super::request::{media_type, ApiPath, Format, Query};
use super::resources::{Catalogue, ResourceInfo};
use super::selectors::{self, FieldSelector, LabelSelector};
use super::status::{success_status, ApiError, FieldError};
use super::storage::{Change, NewObject, Outcome, Snapshot, Storage, Stored, Write};
use super::table::{self, IncludeObject};

/// Bodies above this size are refused with 413, as kube-apiserver's 3 MiB request limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A request the REST layer serves, already authenticated and routed.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: hyper::Method,
    pub path: ApiPath,
    pub query: Query,
    pub content_type: Option<String>,
    pub format: Format,
    pub user_agent: Option<String>,
    pub body: Bytes,
}

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

/// The apiserver proper: storage, the served resources and the service allocators.
pub struct Apiserver {
    pub storage: Arc<Storage>,
    catalogue: RwLock<Catalogue>,
    allocators: Mutex<Allocators>,
}

/// The storage key of an object: `<group>/<plural>/<namespace>/<name>`.
pub fn object_key(res: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    match (res.namespaced, namespace) {
        (true, Some(ns)) => format!("{}/{ns}/{name}", res.storage_prefix()),
        _ => format!("{}/{name}", res.storage_prefix()),
    }
}

/// The key prefix a list or watch covers.
pub fn list_prefix(res: &ResourceInfo, namespace: Option<&str>) -> String {
    match (res.namespaced, namespace) {
        (true, Some(ns)) => format!("{}/{ns}/", res.storage_prefix()),
        _ => format!("{}/", res.storage_prefix()),
    }
}

/// Which manager a write is recorded under: `?fieldManager=`, else the user agent's
/// program name, as the apiserver derives it.
fn field_manager(req: &ApiRequest) -> String {
    if let Some(m) = req.query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    req.user_agent.as_deref().and_then(|ua| ua.split('/').next()).filter(|s| !s.is_empty()).unwrap_or("unknown").to_string()
}

fn dry_run(req: &ApiRequest) -> bool {
    req.query.get("dryRun").is_some_and(|v| v == "All")
}

fn field_validation(req: &ApiRequest) -> Result<FieldValidation, ApiError> {
    match req.query.get("fieldValidation") {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some(other) => {
            Err(ApiError::bad_request(format!("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}")))
        }
    }
}

/// How Go's encoding/json names the first byte it could not parse.
fn go_quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c if (0x20..0x7f).contains(&c) => format!("'{}'", c as char),
        c => format!("'\\u{:04x}'", c),
    }
}

/// A JSON parse error worded as Go's decoder words it, for messages the apiserver passes on.
fn go_json_error(body: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let offset: usize =
        body.split(|b| *b == b'\n').take(e.line().saturating_sub(1)).map(|l| l.len() + 1).sum::<usize>() + e.column().saturating_sub(1);
    match body.get(offset) {
        Some(c) => format!("invalid character {} looking for beginning of value", go_quote_char(*c)),
        None => e.to_string(),
    }
}

/// Parses a request body by its content type into JSON.
fn parse_body(res: &ResourceInfo, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let snippet = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(30)]).into_owned();
        if b.len() > 30 {
            format!("{s} ...")
        } else {
            s
        }
    };
    match content_type {
        "application/json" | "" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {} ({})",
                res.kind,
                go_json_error(body, &e),
                snippet(body)
            ))
        }),
        "application/yaml" => serde_saphyr::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; yaml parse error: {e}",
                res.kind
            ))
        }),
        super::protobuf::MEDIA_TYPE => super::protobuf::decode(res, body),
        _ => Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        )),
    }
}

/// Refuses, warns about or ignores unknown fields, as `?fieldValidation=` asks.
fn check_unknown_fields(res: &ResourceInfo, mode: FieldValidation, unknown: &[String], warnings: &mut Vec<String>) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    match mode {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            Ok(())
        }
        FieldValidation::Strict => {
            let list: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
            Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                res.kind,
                res.version,
                res.kind,
                list.join(", ")
            )))
        }
    }
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
    let item_start = if res.schema.is_some() || rest.len() <= 2 { 0 } else { item_start };
    NewObject { raw: Bytes::from(raw), item_start, labels, fields }
}

/// The object without what changes on every write, to tell a no-op update from a real one.
fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("resourceVersion");
        if let Some(Value::Array(mf)) = m.get_mut("managedFields") {
            for e in mf.iter_mut() {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    o
}

/// Why an update is being made, which decides the strategy hooks that run.
struct UpdateContext<'a> {
    res: &'a ResourceInfo,
    subresource: Option<&'a str>,
    manager: String,
    /// Server-side apply already recorded its own managedFields entry.
    applied: bool,
    /// What this update's last attempt took from the allocators (old, new), until the write
    /// lands: a retried, failed or dry-run attempt gives it back.
    pending_allocation: Mutex<Option<(Value, Value)>>,
}

impl UpdateContext<'_> {
    fn new<'a>(res: &'a ResourceInfo, subresource: Option<&'a str>, manager: String, applied: bool) -> UpdateContext<'a> {
        UpdateContext { res, subresource, manager, applied, pending_allocation: Mutex::new(None) }
    }
}

enum Computed {
    Put(Value),
    Delete(Value),
    Unchanged,
}

impl Computed {
    /// A dry run stops here: it keeps what would have been stored and writes nothing.
    fn unless_dry_run(self, dry: bool, old: &Value, would_store: &mut Option<Value>) -> Computed {
        if !dry {
            return self;
        }
        *would_store = Some(match self {
            Computed::Put(v) | Computed::Delete(v) => v,
            Computed::Unchanged => old.clone(),
        });
        Computed::Unchanged
    }
}

impl Apiserver {
    pub fn new(storage: Arc<Storage>, catalogue: Catalogue) -> Arc<Apiserver> {
        let mut allocators = Allocators::default();
        if let Some(svc) = catalogue.find("", "v1", "services").cloned() {
            if let Ok((_, items)) = storage.list(&list_prefix(&svc, None), None, Snapshot::Current) {
                for s in items {
                    allocators.observe(&svc, &s.value());
                }
            }
        }
        let api = Arc::new(Apiserver { storage, catalogue: RwLock::new(catalogue), allocators: Mutex::new(allocators) });
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
        self.catalogue.read().unwrap().clone()
    }

    pub fn set_catalogue(&self, c: Catalogue) {
        *self.catalogue.write().unwrap() = c;
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
            if !res.has_subresource(sub) {
                return Err(ApiError::resource_not_found());
            }
        }
        Ok(res.clone())
    }

    /// Serves one non-watch request.
    pub async fn handle(&self, req: ApiRequest) -> Reply {
        match self.dispatch(&req).await {
            Ok(r) => r,
            Err(e) => Reply::error(&e),
        }
    }

    async fn dispatch(&self, req: &ApiRequest) -> Result<Reply, ApiError> {
        let res = self.resolve(&req.path)?;
        let p = &req.path;
        use hyper::Method;
        match (&req.method, &p.name, p.subresource.as_deref()) {
            (&Method::GET, None, _) => self.list(&res, req),
            (&Method::POST, None, _) => self.create(&res, req).await,
            (&Method::DELETE, None, _) if res.has_verb("deletecollection") => self.delete_collection(&res, req).await,
            (&Method::GET, Some(name), Some("scale")) => self.get_scale(&res, req, name),
            (&Method::PUT | &Method::PATCH, Some(name), Some("scale")) => self.update_scale(&res, req, name).await,
            (&Method::GET, Some(name), _) => self.get(&res, req, name),
            (&Method::PUT, Some(name), sub) => self.update(&res, req, name, sub).await,
            (&Method::PATCH, Some(name), sub) => self.patch(&res, req, name, sub).await,
            (&Method::DELETE, Some(name), None) => self.delete(&res, req, name).await,
            _ => Err(ApiError::method_not_allowed()),
        }
    }

    // ---- reads ----

    fn get(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let stored = self.storage.get(&key).ok_or_else(|| ApiError::not_found(&res.qualified_resource(), name))?;
        encode_raw(res, req, 200, &stored.raw, vec![])
    }

    fn list(&self, res: &ResourceInfo, req: &ApiRequest) -> Result<Reply, ApiError> {
        let opts = ListOptions::parse(res, &req.query)?;
        if opts.send_initial_events.is_some() {
            return Err(list_options_invalid("sendInitialEvents", "sendInitialEvents is forbidden for list"));
        }
        if opts.resource_version_match.is_some() && opts.resource_version.is_none() {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        let ns = req.path.namespace.as_deref();
        let prefix = list_prefix(res, ns);
        let (snapshot, start_after) = match &opts.continue_token {
            Some(c) => (Snapshot::At(c.rv), Some(c.start.clone())),
            None => (opts.snapshot(self.storage.revision())?, None),
        };
        let (rev, items) = self.storage.list(&prefix, start_after.as_deref(), snapshot).map_err(|_| {
            if opts.continue_token.is_some() {
                ApiError::gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            } else {
                ApiError::gone("The resourceVersion for the provided list is too old.")
            }
        })?;
        let mut selected: Vec<Arc<Stored>> = Vec::new();
        let mut continue_token = None;
        let mut remaining = 0usize;
        for s in items {
            if !opts.matches(&s) {
                continue;
            }
            if let Some(limit) = opts.limit {
                if selected.len() >= limit {
                    if continue_token.is_none() {
                        let last = selected.last().map(|l| l.key.clone()).unwrap_or_default();
                        continue_token = Some(ContinueToken { rv: rev, start: last }.encode());
                    }
                    remaining += 1;
                    continue;
                }
            }
            selected.push(s);
        }
        let mut list_meta = Map::new();
        list_meta.insert("resourceVersion".into(), json!(rev.to_string()));
        if let Some(c) = &continue_token {
            list_meta.insert("continue".into(), json!(c));
            // With a label selector the count is unknown to etcd; the apiserver leaves it out.
            if opts.label.is_empty() && opts.field.is_empty() {
                list_meta.insert("remainingItemCount".into(), json!(remaining));
            }
        }
        encode_list(res, req, Value::Object(list_meta), &selected)
    }

    // ---- writes ----

    /// Namespace lifecycle admission: the namespace must exist and not be terminating.
    fn admit_namespace(&self, res: &ResourceInfo, ns: &str, name: &str) -> Result<(), ApiError> {
        let cat = self.catalogue();
        let nsres = cat.find("", "v1", "namespaces").expect("namespaces are built in");
        let Some(nsobj) = self.storage.get(&object_key(nsres, None, ns)) else {
            return Err(ApiError::not_found("namespaces", ns));
        };
        if meta::deletion_timestamp(&nsobj.value()).is_some() {
            let e = ApiError::forbidden(
                &res.qualified_resource(),
                name,
                &format!("unable to create new content in namespace {ns} because it is being terminated"),
            );
            return Err(e.with_details(json!({
                "name": name, "kind": res.plural,
                "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]
            })));
        }
        Ok(())
    }

    /// Decodes a body for `res`, checking kind and namespace against the URL.
    fn decode_body(&self, res: &ResourceInfo, req: &ApiRequest, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let body = parse_body(res, &media_type(req.content_type.as_deref()), &req.body)?;
        self.decode_value(res, req, body, warnings)
    }

    fn decode_value(&self, res: &ResourceInfo, req: &ApiRequest, body: Value, warnings: &mut Vec<String>) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                res.kind,
                match body { Value::Array(_) => "array", Value::String(_) => "string", Value::Number(_) => "number", Value::Bool(_) => "bool", _ => "null" }
            )));
        }
        let (mut obj, unknown) = registry::decode(res, body)?;
        check_unknown_fields(res, field_validation(req)?, &unknown, warnings)?;
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), json!(res.api_version()));
            map.insert("kind".into(), json!(res.kind));
        }
        // From here on the object is in the form it is stored in (core, for events.k8s.io).
        let mut obj = conversion::to_stored(res, obj);
        if res.namespaced {
            if let Some(url_ns) = req.path.namespace.as_deref() {
                match meta::namespace(&obj) {
                    Some(ns) if ns != url_ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ))
                    }
                    _ => meta::set(&mut obj, "namespace", json!(url_ns)),
                }
            }
        } else {
            meta::remove(&mut obj, "namespace");
        }
        Ok(obj)
    }

    async fn create(&self, res: &ResourceInfo, req: &ApiRequest) -> Result<Reply, ApiError> {
        if req.path.subresource.is_some() {
            return Err(ApiError::method_not_allowed());
        }
        if res.namespaced && req.path.namespace.is_none() {
            return Err(ApiError::resource_not_found());
        }
        let mut warnings = vec![];
        let mut obj = self.decode_body(res, req, &mut warnings)?;
        let (stored, status) = self.create_object(res, req, &mut obj, &field_manager(req)).await?;
        match stored {
            Some(s) => encode_raw(res, req, status, &s.raw, warnings),
            None => encode_value(res, req, status, &obj, warnings),
        }
    }

    /// Fills metadata, runs the create strategy and stores `obj`. `None` for a dry run
    /// (then `obj` holds what would have been stored).
    async fn create_object(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        obj: &mut Value,
        manager: &str,
    ) -> Result<(Option<Arc<Stored>>, u16), ApiError> {
        if meta::name(obj).is_none() {
            if let Some(g) = meta::str_field(obj, "generateName").map(String::from) {
                meta::set(obj, "name", json!(meta::generate_name(&g)));
            }
        }
        let name = meta::name(obj).unwrap_or_default().to_string();
        if let Some(url_name) = req.path.name.as_deref() {
            if url_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({name}) does not match the name on the URL ({url_name})"
                )));
            }
        }
        for k in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            meta::remove(obj, k);
        }
        meta::set(obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
        let now = meta::now_rfc3339();
        meta::set(obj, "creationTimestamp", json!(now));
        // The field manager sees the object as decoded with defaults, before the strategy
        // and admission add what the client did not send (status, finalizers, volumes...).
        registry::apply_defaults(res, obj);
        track_update(res, None, obj, manager, None, &now);
        registry::prepare_create(res, obj);
        if name.is_empty() {
            let errs = vec![FieldError::required("metadata.name", "name or generateName is required")];
            return Err(ApiError::invalid(&res.qualified_kind(), &name, &errs));
        }
        if res.namespaced {
            self.admit_namespace(res, req.path.namespace.as_deref().unwrap_or_default(), &name)?;
        }
        registry::admit_create(res, obj);
        let errs = registry::validate_create(res, obj);
        if !errs.is_empty() {
            return Err(ApiError::invalid(&res.qualified_kind(), &name, &errs));
        }
        if dry_run(req) {
            return Ok((None, 201));
        }
        self.allocators.lock().unwrap().allocate(res, obj).map_err(|errs| ApiError::invalid(&res.qualified_kind(), &name, &errs))?;
        let key = object_key(res, meta::namespace(obj), &name);
        let value = obj.clone();
        let res2 = res.clone();
        let outcome = self
            .storage
            .write(
                &key,
                Write::Create(Box::new(move |rev| {
                    let mut v = value;
                    new_object(&res2, &mut v, rev)
                })),
            )
            .await?;
        match outcome {
            Outcome::Created(s) => Ok((Some(s), 201)),
            Outcome::AlreadyExists(_) => {
                self.allocators.lock().unwrap().release(res, obj);
                Err(ApiError::already_exists(&res.qualified_resource(), &name))
            }
            _ => Err(ApiError::internal("unexpected storage outcome on create")),
        }
    }

    /// The apiserver's GuaranteedUpdate: read, compute the new object, write if nothing
    /// changed meanwhile, otherwise read again.
    async fn guaranteed_update(
        &self,
        res: &ResourceInfo,
        key: &str,
        name: &str,
        mut compute: impl FnMut(&Value) -> Result<Computed, ApiError>,
    ) -> Result<Outcome, ApiError> {
        for _ in 0..64 {
            let Some(cur) = self.storage.get(key) else {
                return Ok(Outcome::NotFound);
            };
            let cur_value = cur.value();
            let computed = compute(&cur_value)?;
            let expected = cur.rv;
            let res2 = res.clone();
            let write = Write::Update(Box::new(move |now: &Stored, rev| {
                if now.rv != expected {
                    return Ok(Change::Stale);
                }
                Ok(match computed {
                    Computed::Unchanged => Change::Unchanged,
                    Computed::Put(mut v) => Change::Put(new_object(&res2, &mut v, rev)),
                    Computed::Delete(mut v) => Change::Delete(new_object(&res2, &mut v, rev)),
                })
            }));
            match self.storage.write(key, write).await? {
                Outcome::Stale => continue,
                other => return Ok(other),
            }
        }
        Err(ApiError::conflict(&res.qualified_resource(), name, "too many concurrent updates, please retry"))
    }

    /// Turns the client's desired object into the stored one: strategy, validation,
    /// managedFields, finalizers completing a deletion.
    fn prepare_updated(&self, ctx: &UpdateContext, old: &Value, mut new: Value) -> Result<Computed, ApiError> {
        let name = meta::name(old).unwrap_or_default().to_string();
        // What the server owns cannot be changed by a client.
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"] {
            match meta::metadata(old).and_then(|m| m.get(k)) {
                Some(v) => meta::set(&mut new, k, v.clone()),
                None => meta::remove(&mut new, k),
            }
        }
        if meta::generation(old) > 0 {
            meta::set(&mut new, "generation", json!(meta::generation(old)));
        }
        // `/scale` writes the main resource's spec; only managedFields records the subresource.
        let strategy_sub = ctx.subresource.filter(|s| *s != "scale");
        registry::prepare_update(ctx.res, old, &mut new, strategy_sub);
        let mut errs = registry::validate_update(ctx.res, old, &new, strategy_sub);
        if meta::deletion_timestamp(old).is_some() {
            let old_f = meta::finalizers(old);
            let added: Vec<String> = meta::finalizers(&new).into_iter().filter(|f| !old_f.contains(f)).collect();
            if !added.is_empty() {
                let e = FieldError::forbidden(
                    "metadata.finalizers",
                    format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
                    ),
                );
                // kube-apiserver checks this twice (object-meta update validation and the
                // generic update path) and reports both causes; so does the sandbox.
                let already = errs.iter().filter(|x| **x == e).count();
                for _ in already..2 {
                    errs.push(e.clone());
                }
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid(&ctx.res.qualified_kind(), &name, &errs));
        }
        if strategy_sub.is_none() {
            // A type change (ClusterIP -> NodePort) allocates; what is no longer held is freed.
            self.release_pending_allocation(ctx);
            self.allocators
                .lock()
                .unwrap()
                .allocate_update(ctx.res, old, &mut new)
                .map_err(|errs| ApiError::invalid(&ctx.res.qualified_kind(), &name, &errs))?;
            *ctx.pending_allocation.lock().unwrap() = Some((old.clone(), new.clone()));
        }
        if !ctx.applied {
            track_update(ctx.res, Some(old), &mut new, &ctx.manager, ctx.subresource, &meta::now_rfc3339());
        }
        if comparable(&new) == comparable(old) {
            return Ok(Computed::Unchanged);
        }
        if meta::deletion_timestamp(&new).is_some() && meta::finalizers(&new).is_empty() && self.deletion_may_complete(ctx.res, &new) {
            return Ok(Computed::Delete(new));
        }
        Ok(Computed::Put(new))
    }

    /// Gives back what an update attempt allocated that will not be stored: the object
    /// keeps what it held before.
    fn release_pending_allocation(&self, ctx: &UpdateContext) {
        if let Some((old, new)) = ctx.pending_allocation.lock().unwrap().take() {
            let mut allocators = self.allocators.lock().unwrap();
            allocators.release(ctx.res, &new);
            allocators.observe(ctx.res, &old);
        }
    }

    /// After the last attempt: a stored update keeps its allocation, anything else gives
    /// it back.
    fn settle_allocation(&self, ctx: &UpdateContext, outcome: &Result<Outcome, ApiError>, dry: bool) {
        match outcome {
            Ok(Outcome::Updated(_) | Outcome::Deleted(_)) if !dry => {
                ctx.pending_allocation.lock().unwrap().take();
            }
            _ => self.release_pending_allocation(ctx),
        }
    }

    /// A terminating object goes once its finalizers are gone, except a pod on a node
    /// whose grace period its kubelet still has to honour.
    fn deletion_may_complete(&self, res: &ResourceInfo, obj: &Value) -> bool {
        if res.group.is_empty() && res.plural == "namespaces" {
            // Finalized through `/finalize` by the namespace controller once empty.
            return obj.pointer("/spec/finalizers").and_then(|f| f.as_array()).is_none_or(|f| f.is_empty());
        }
        if res.group.is_empty() && res.plural == "pods" {
            let on_node = obj.pointer("/spec/nodeName").and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty());
            let grace = meta::metadata(obj).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(|g| g.as_i64()).unwrap_or(0);
            return !on_node || grace == 0;
        }
        true
    }

    async fn update(&self, res: &ResourceInfo, req: &ApiRequest, name: &str, sub: Option<&str>) -> Result<Reply, ApiError> {
        let mut warnings = vec![];
        let new = self.decode_body(res, req, &mut warnings)?;
        if let Some(body_name) = meta::name(&new) {
            if body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let wanted_rv = meta::resource_version(&new).map(String::from);
        let ctx = UpdateContext::new(res, sub, field_manager(req), false);
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let dry = dry_run(req);
        let mut dry_result = None;
        let outcome = self
            .guaranteed_update(res, &key, name, |old| {
                if let Some(rv) = &wanted_rv {
                    if meta::resource_version(old) != Some(rv.as_str()) {
                        return Err(ApiError::stale_update(&res.qualified_resource(), name));
                    }
                }
                let computed = self.prepare_updated(&ctx, old, new.clone())?;
                Ok(computed.unless_dry_run(dry, old, &mut dry_result))
            })
            .await;
        self.settle_allocation(&ctx, &outcome, dry);
        let outcome = outcome?;
        if let Some(v) = dry_result {
            return encode_value(res, req, 200, &v, warnings);
        }
        self.finish_update(res, req, name, outcome, warnings)
    }

    fn finish_update(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        name: &str,
        outcome: Outcome,
        warnings: Vec<String>,
    ) -> Result<Reply, ApiError> {
        match outcome {
            Outcome::Updated(s) | Outcome::Unchanged(s) | Outcome::Deleted(s) => encode_raw(res, req, 200, &s.raw, warnings),
            Outcome::Created(s) => encode_raw(res, req, 201, &s.raw, warnings),
            Outcome::NotFound => Err(ApiError::not_found(&res.qualified_resource(), name)),
            _ => Err(ApiError::internal("unexpected storage outcome on update")),
        }
    }

    async fn patch(&self, res: &ResourceInfo, req: &ApiRequest, name: &str, sub: Option<&str>) -> Result<Reply, ApiError> {
        let kind = PatchKind::from_content_type(&media_type(req.content_type.as_deref()), res)?;
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::too_large("the request body is too large"));
        }
        let patch_body: Value = match kind {
            PatchKind::Apply => {
                serde_saphyr::from_slice::<Value>(&req.body).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            }
            _ => serde_json::from_slice(&req.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {}", go_json_error(&req.body, &e))))?,
        };
        let manager = field_manager(req);
        if kind == PatchKind::Apply && req.query.get("fieldManager").is_none_or(|m| m.is_empty()) {
            let e = ApiError::new(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            );
            return Err(e.with_details(
                json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]}),
            ));
        }
        let force = req.query.flag("force");
        let ctx = UpdateContext::new(res, sub, manager.clone(), kind == PatchKind::Apply);
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let mut warnings = vec![];
        let dry = dry_run(req);
        let mut dry_result = None;
        let outcome = self
            .guaranteed_update(res, &key, name, |old| {
                // A patch is written against the representation the client reads.
                let seen = conversion::from_stored(res, old.clone());
                let patched = match kind {
                    PatchKind::Merge => {
                        let mut t = seen;
                        patch::merge_patch(&mut t, &patch_body);
                        t
                    }
                    PatchKind::Json => {
                        let mut t = seen;
                        patch::json_patch(&mut t, &patch_body)?;
                        t
                    }
                    PatchKind::Strategic => {
                        let mut t = seen;
                        patch::strategic_merge_patch(res, &mut t, &patch_body)?;
                        t
                    }
                    PatchKind::Apply => managed_fields::apply(res, Some(&seen), &patch_body, &manager, force, sub, &meta::now_rfc3339())?,
                };
                if let Some(rv) = meta::resource_version(&patched) {
                    if Some(rv) != meta::resource_version(old) {
                        return Err(ApiError::stale_update(&res.qualified_resource(), name));
                    }
                }
                let mut w = vec![];
                let decoded = self.decode_value(res, req, patched, &mut w)?;
                warnings = w;
                let computed = self.prepare_updated(&ctx, old, decoded)?;
                Ok(computed.unless_dry_run(dry, old, &mut dry_result))
            })
            .await;
        self.settle_allocation(&ctx, &outcome, dry);
        let outcome = outcome?;
        if let Some(v) = dry_result {
            return encode_value(res, req, 200, &v, warnings);
        }
        if matches!(outcome, Outcome::NotFound) && kind == PatchKind::Apply && sub.is_none() {
            // Server-side apply creates what does not exist yet.
            let applied = managed_fields::apply(res, None, &patch_body, &manager, force, None, &meta::now_rfc3339())?;
            let mut w = vec![];
            let mut obj = self.decode_value(res, req, applied, &mut w)?;
            if meta::name(&obj).is_none() {
                meta::set(&mut obj, "name", json!(name));
            }
            let mf = meta::metadata(&obj).and_then(|m| m.get("managedFields")).cloned();
            let (stored, status) = self.create_applied(res, req, &mut obj, mf).await?;
            return match stored {
                Some(s) => encode_raw(res, req, status, &s.raw, w),
                None => encode_value(res, req, status, &obj, w),
            };
        }
        self.finish_update(res, req, name, outcome, warnings)
    }

    /// Creates an object made by server-side apply, keeping the Apply managedFields entry.
    async fn create_applied(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        obj: &mut Value,
        managed: Option<Value>,
    ) -> Result<(Option<Arc<Stored>>, u16), ApiError> {
        // create_object records an Update entry; the apply entry replaces it.
        let manager = field_manager(req);
        let created = self.create_object(res, req, obj, &manager).await?;
        let Some(stored) = created.0 else {
            if let Some(mf) = managed {
                meta::set(obj, "managedFields", mf);
            }
            return Ok((None, 201));
        };
        let Some(mf) = managed else { return Ok((Some(stored), 201)) };
        let key = stored.key.clone();
        let res2 = res.clone();
        let expected = stored.rv;
        let mut v = stored.value();
        meta::set(&mut v, "managedFields", mf);
        // Rewrite in place: same revision semantics as the apiserver, which never stores
        // the intermediate Update entry.
        match self
            .storage
            .write(
                &key,
                Write::Update(Box::new(move |now, rev| {
                    if now.rv != expected {
                        return Ok(Change::Stale);
                    }
                    Ok(Change::Put(new_object(&res2, &mut v, rev)))
                })),
            )
            .await?
        {
            Outcome::Updated(s) => Ok((Some(s), 201)),
            _ => Ok((Some(stored), 201)),
        }
    }

    async fn delete(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let opts = DeleteOptions::parse(req)?;
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let (outcome, deleted_now) = self.delete_object(res, &key, name, &opts, dry_run(req)).await?;
        match outcome {
            Outcome::NotFound => Err(ApiError::not_found(&res.qualified_resource(), name)),
            Outcome::Deleted(s) | Outcome::Updated(s) | Outcome::Unchanged(s) => {
                if dry_run(req) || (deleted_now && returns_status_on_delete(res)) {
                    let v = s.value();
                    let body = success_status(&res.qualified_resource(), name, meta::uid(&v).unwrap_or_default());
                    return Ok(Reply::json(200, Bytes::from(serde_json::to_vec(&body).unwrap())));
                }
                encode_raw(res, req, 200, &s.raw, vec![])
            }
            _ => Err(ApiError::internal("unexpected storage outcome on delete")),
        }
    }

    /// Deletes, or starts the graceful deletion of, one object. Returns whether it is gone.
    async fn delete_object(
        &self,
        res: &ResourceInfo,
        key: &str,
        name: &str,
        opts: &DeleteOptions,
        dry: bool,
    ) -> Result<(Outcome, bool), ApiError> {
        let mut gone = false;
        let mut first_pass = true;
        loop {
            let outcome = self
                .guaranteed_update(res, key, name, |cur| {
                    opts.check_preconditions(res, cur, name)?;
                    if dry {
                        return Ok(Computed::Unchanged);
                    }
                    let plan = self.plan_delete(res, cur, opts);
                    gone = matches!(plan, Computed::Delete(_));
                    Ok(plan)
                })
                .await?;
            if let Outcome::Deleted(s) = &outcome {
                self.allocators.lock().unwrap().release(res, &s.value());
            }
            // A pod that is not on a node is marked, then removed at once: watchers see both.
            if first_pass && !dry && matches!(outcome, Outcome::Updated(_)) && self.completes_after_mark(res, &outcome) {
                first_pass = false;
                continue;
            }
            return Ok((outcome, gone));
        }
    }

    fn completes_after_mark(&self, res: &ResourceInfo, outcome: &Outcome) -> bool {
        let Outcome::Updated(s) = outcome else { return false };
        let v = s.value();
        meta::finalizers(&v).is_empty()
            && meta::deletion_timestamp(&v).is_some()
            && self.deletion_may_complete(res, &v)
            && res.plural == "pods"
    }

    /// What deleting `cur` means now: gone, or marked with a deletionTimestamp.
    fn plan_delete(&self, res: &ResourceInfo, cur: &Value, opts: &DeleteOptions) -> Computed {
        let is_pod = res.group.is_empty() && res.plural == "pods";
        let is_namespace = res.group.is_empty() && res.plural == "namespaces";
        let terminating = meta::deletion_timestamp(cur).is_some();
        let mut next = cur.clone();
        if is_namespace {
            if terminating {
                return Computed::Unchanged;
            }
            meta::set(&mut next, "deletionTimestamp", json!(meta::now_rfc3339()));
            if let Some(o) = next.as_object_mut() {
                o.insert("status".into(), json!({"phase": "Terminating"}));
            }
            return Computed::Put(next);
        }
        let mut finalizers = meta::finalizers(cur);
        match opts.propagation_policy.as_deref() {
            Some("Foreground") if !finalizers.iter().any(|f| f == "foregroundDeletion") && !terminating => {
                finalizers.push("foregroundDeletion".into())
            }
            Some("Orphan") if !finalizers.iter().any(|f| f == "orphan") && !terminating => finalizers.push("orphan".into()),
            _ => {}
        }
        if finalizers != meta::finalizers(cur) {
            meta::set(&mut next, "finalizers", json!(finalizers));
        }
        if is_pod {
            let on_node = cur.pointer("/spec/nodeName").and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty());
            let spec_grace = cur.pointer("/spec/terminationGracePeriodSeconds").and_then(|g| g.as_i64()).unwrap_or(30);
            let grace = if on_node { opts.grace_period_seconds.unwrap_or(spec_grace).max(0) } else { 0 };
            let prev_grace = meta::metadata(cur).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(|g| g.as_i64());
            if terminating && prev_grace.is_some_and(|p| p <= grace) {
                // Already terminating with a shorter or equal grace period: nothing to shorten.
                if finalizers.is_empty() && grace == 0 {
                    return Computed::Delete(next);
                }
                return Computed::Unchanged;
            }
            if terminating && grace == 0 && finalizers.is_empty() {
                meta::set(&mut next, "deletionGracePeriodSeconds", json!(0));
                return Computed::Delete(next);
            }
            let deadline = chrono::Utc::now() + chrono::Duration::seconds(grace);
            meta::set(&mut next, "deletionTimestamp", json!(meta::time_rfc3339(deadline)));
            meta::set(&mut next, "deletionGracePeriodSeconds", json!(grace));
            meta::set(&mut next, "generation", json!(meta::generation(cur) + 1));
            return Computed::Put(next);
        }
        if !finalizers.is_empty() {
            if terminating && finalizers == meta::finalizers(cur) {
                return Computed::Unchanged;
            }
            if !terminating {
                meta::set(&mut next, "deletionTimestamp", json!(meta::now_rfc3339()));
                meta::set(&mut next, "deletionGracePeriodSeconds", json!(0));
                if meta::generation(cur) > 0 {
                    meta::set(&mut next, "generation", json!(meta::generation(cur) + 1));
                }
            }
            return Computed::Put(next);
        }
        Computed::Delete(next)
    }

    async fn delete_collection(&self, res: &ResourceInfo, req: &ApiRequest) -> Result<Reply, ApiError> {
        let opts = ListOptions::parse(res, &req.query)?;
        let dopts = DeleteOptions::parse(req)?;
        let ns = req.path.namespace.as_deref();
        let (_, items) =
            self.storage.list(&list_prefix(res, ns), None, Snapshot::Current).map_err(|_| ApiError::internal("list failed"))?;
        let mut deleted = Vec::new();
        for s in items.into_iter().filter(|s| opts.matches(s)) {
            let v = s.value();
            let name = meta::name(&v).unwrap_or_default().to_string();
            // The list answers with each object as it was when the collection was deleted.
            match self.delete_object(res, &s.key, &name, &dopts, dry_run(req)).await {
                Ok((Outcome::Deleted(_) | Outcome::Updated(_) | Outcome::Unchanged(_), _)) => deleted.push(s),
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let list_meta = json!({"resourceVersion": self.storage.revision().to_string()});
        encode_list(res, req, list_meta, &deleted)
    }

    // ---- the scale subresource ----

    fn scale_of(obj: &Value) -> Value {
        let m = meta::metadata(obj).cloned().unwrap_or_default();
        let mut sm = Map::new();
        for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let Some(v) = m.get(k) {
                sm.insert(k.into(), v.clone());
            }
        }
        let selector = obj
            .pointer("/spec/selector/matchLabels")
            .and_then(|l| l.as_object())
            .map(|l| l.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": sm,
            "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
            "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector}
        })
    }

    fn get_scale(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let stored = self.storage.get(&key).ok_or_else(|| ApiError::not_found(&res.qualified_resource(), name))?;
        let scale = Self::scale_of(&stored.value());
        Ok(Reply::json(200, Bytes::from(serde_json::to_vec(&scale).unwrap())))
    }

    async fn update_scale(&self, res: &ResourceInfo, req: &ApiRequest, name: &str) -> Result<Reply, ApiError> {
        let body: Value = serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("error decoding scale: {e}")))?;
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let ctx = UpdateContext::new(res, Some("scale"), field_manager(req), false);
        let is_patch = req.method == hyper::Method::PATCH;
        let patch_kind = if is_patch { Some(PatchKind::from_content_type(&media_type(req.content_type.as_deref()), res)?) } else { None };
        let outcome = self
            .guaranteed_update(res, &key, name, |old| {
                let mut scale = Self::scale_of(old);
                match patch_kind {
                    Some(PatchKind::Json) => patch::json_patch(&mut scale, &body)?,
                    Some(PatchKind::Strategic) => patch::strategic_merge_patch(res, &mut scale, &body)?,
                    Some(_) => patch::merge_patch(&mut scale, &body),
                    None => {
                        if let Some(rv) = meta::resource_version(&body) {
                            if Some(rv) != meta::resource_version(old) {
                                return Err(ApiError::stale_update(&res.qualified_resource(), name));
                            }
                        }
                        scale = body.clone();
                    }
                }
                let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
                let mut new = old.clone();
                if let Some(spec) = new.get_mut("spec").and_then(|s| s.as_object_mut()) {
                    spec.insert("replicas".into(), replicas);
                }
                self.prepare_updated(&ctx, old, new)
            })
            .await;
        self.settle_allocation(&ctx, &outcome, false);
        let outcome = outcome?;
        match outcome {
            Outcome::Updated(s) | Outcome::Unchanged(s) => {
                let scale = Self::scale_of(&s.value());
                Ok(Reply::json(200, Bytes::from(serde_json::to_vec(&scale).unwrap())))
            }
            Outcome::NotFound => Err(ApiError::not_found(&res.qualified_resource(), name)),
            _ => Err(ApiError::internal("unexpected storage outcome on scale")),
        }
    }

    /// Used by the sandbox's own seeding and controllers: create `obj` as `manager`,
    /// bypassing HTTP. Returns the stored object (or the existing one).
    pub async fn create_internal(&self, res: &ResourceInfo, mut obj: Value, manager: &str) -> Result<Value, ApiError> {
        let ns = meta::namespace(&obj).map(String::from);
        let req = ApiRequest {
            method: hyper::Method::POST,
            path: ApiPath {
                group: res.group.clone(),
                version: res.version.clone(),
                namespace: ns,
                resource: res.plural.clone(),
                name: None,
                subresource: None,
            },
            query: Query::default(),
            content_type: Some("application/json".into()),
            format: Format::Json,
            user_agent: Some(manager.to_string()),
            body: Bytes::new(),
        };
        let mut w = vec![];
        obj = self.decode_value(res, &req, obj, &mut w)?;
        let (stored, _) = self.create_object(res, &req, &mut obj, manager).await?;
        Ok(stored.map(|s| s.value()).unwrap_or(obj))
    }
}

/// Nodes and custom resources answer a completed delete with `Status Success`; the other
/// built-ins with the deleted object.
fn returns_status_on_delete(res: &ResourceInfo) -> bool {
    res.schema.is_some() || (res.group.is_empty() && res.plural == "nodes")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchKind {
    fn from_content_type(ct: &str, res: &ResourceInfo) -> Result<PatchKind, ApiError> {
        match ct {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            // Custom resources have no Go struct to carry patch strategies.
            "application/strategic-merge-patch+json" if res.schema.is_none() => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" => Ok(PatchKind::Apply),
            _ => Err(ApiError::unsupported_media_type("415: Unsupported Media Type").with_details(json!({}))),
        }
    }
}

/// The parts of `DeleteOptions` the sandbox honours, from the body or the query.
#[derive(Debug, Default)]
struct DeleteOptions {
    grace_period_seconds: Option<i64>,
    propagation_policy: Option<String>,
    precondition_uid: Option<String>,
    precondition_rv: Option<String>,
}

impl DeleteOptions {
    fn parse(req: &ApiRequest) -> Result<DeleteOptions, ApiError> {
        let mut o = DeleteOptions::default();
        if !req.body.is_empty() {
            let body: Value =
                serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?;
            o.grace_period_seconds = body.get("gracePeriodSeconds").and_then(|g| g.as_i64());
            o.propagation_policy = body.get("propagationPolicy").and_then(|p| p.as_str()).map(String::from);
            if body.get("orphanDependents").and_then(|b| b.as_bool()) == Some(true) {
                o.propagation_policy = Some("Orphan".into());
            }
            o.precondition_uid = body.pointer("/preconditions/uid").and_then(|u| u.as_str()).map(String::from);
            o.precondition_rv = body.pointer("/preconditions/resourceVersion").and_then(|u| u.as_str()).map(String::from);
        }
        if let Some(g) = req.query.get("gracePeriodSeconds") {
            o.grace_period_seconds = Some(g.parse().map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds: {g:?}")))?);
        }
        if let Some(p) = req.query.get("propagationPolicy") {
            o.propagation_policy = Some(p.to_string());
        }
        if let Some(p) = &o.propagation_policy {
            if !["Orphan", "Background", "Foreground"].contains(&p.as_str()) {
                let e = FieldError::not_supported("propagationPolicy", &json!(p), &["Foreground", "Background", "Orphan", "nil"]);
                return Err(ApiError::invalid("DeleteOptions.meta.k8s.io", "", &[e]));
            }
        }
        Ok(o)
    }

    fn check_preconditions(&self, res: &ResourceInfo, cur: &Value, name: &str) -> Result<(), ApiError> {
        let kind = res.qualified_kind();
        let conflict = |message: String| {
            ApiError::new(409, "Conflict", format!("Operation cannot be fulfilled on {kind} \"{name}\": {message}"))
                .with_details(json!({"name": name, "kind": res.kind}))
        };
        if let Some(uid) = &self.precondition_uid {
            let have = meta::uid(cur).unwrap_or_default();
            if uid != have {
                return Err(conflict(format!("the UID in the precondition ({uid}) does not match the UID in record ({have}). The object might have been deleted and then recreated")));
            }
        }
        if let Some(rv) = &self.precondition_rv {
            let have = meta::resource_version(cur).unwrap_or_default();
            if rv != have {
                return Err(conflict(format!("the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({have}). The object might have been modified")));
            }
        }
        Ok(())
    }
}

/// A 422 about `ListOptions`, as the apiserver phrases option errors.
pub fn list_options_invalid(field: &str, detail: &str) -> ApiError {
    let e = ApiError::new(422, "Invalid", format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {detail}"));
    e.with_details(
        json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{"reason": "FieldValueForbidden", "message": format!("Forbidden: {detail}"), "field": field}]}),
    )
}

/// A continue token: the revision the first page was read at and the last key served.
/// Encoded like the apiserver's (base64 of a small JSON document), opaque to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinueToken {
    pub rv: u64,
    pub start: String,
}

impl ContinueToken {
    pub fn encode(&self) -> String {
        use base64::Engine;
        let doc = json!({"v": "meta.k8s.io/v1", "rv": self.rv, "start": self.start});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
    }

    pub fn decode(s: &str) -> Result<ContinueToken, ApiError> {
        use base64::Engine;
        let invalid = |why: String| ApiError::bad_request(format!("invalid continue token: {why}"));
        // Lenient like Go's RawURLEncoding: trailing bits are not checked.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine.decode(s).map_err(|e| invalid(format!("continue key is not valid: {e}")))?;
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("continue key is not valid: {}", go_json_error(&bytes, &e))))?;
        if doc.get("v").and_then(|v| v.as_str()) != Some("meta.k8s.io/v1") {
            return Err(invalid("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()));
        }
        let rv = doc
            .get("rv")
            .and_then(|r| r.as_u64())
            .ok_or_else(|| invalid("continue key is not valid: incorrect encoded start resourceVersion".into()))?;
        let start = doc.get("start").and_then(|r| r.as_str()).unwrap_or_default().to_string();
        Ok(ContinueToken { rv, start })
    }
}

/// List and watch options shared by both verbs.
#[derive(Debug)]
pub struct ListOptions {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<ContinueToken>,
    pub send_initial_events: Option<bool>,
    pub allow_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
}

impl ListOptions {
    pub fn parse(res: &ResourceInfo, q: &Query) -> Result<ListOptions, ApiError> {
        let label = match q.get("labelSelector") {
            Some(s) if !s.is_empty() => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
            _ => LabelSelector::default(),
        };
        let field = match q.get("fieldSelector") {
            Some(s) if !s.is_empty() => FieldSelector::parse(s, res).map_err(ApiError::bad_request)?,
            _ => FieldSelector::default(),
        };
        let resource_version = q.get("resourceVersion").filter(|s| !s.is_empty()).map(String::from);
        let resource_version_match = q.get("resourceVersionMatch").filter(|s| !s.is_empty()).map(String::from);
        let limit = match q.get("limit") {
            Some(l) if !l.is_empty() => match l.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as usize),
                Ok(_) => None,
                Err(_) => return Err(ApiError::bad_request(format!("invalid limit: {l:?}"))),
            },
            _ => None,
        };
        let continue_token = match q.get("continue") {
            Some(c) if !c.is_empty() => Some(ContinueToken::decode(c)?),
            _ => None,
        };
        let send_initial_events = q.get("sendInitialEvents").map(|v| v == "true");
        let timeout_seconds = q.get("timeoutSeconds").and_then(|t| t.parse().ok());
        Ok(ListOptions {
            label,
            field,
            resource_version,
            resource_version_match,
            limit,
            continue_token,
            send_initial_events,
            allow_bookmarks: q.flag("allowWatchBookmarks"),
            timeout_seconds,
        })
    }

    pub fn matches(&self, s: &Stored) -> bool {
        (self.label.is_empty() || self.label.matches(&s.labels)) && (self.field.is_empty() || self.field.matches(&s.fields))
    }

    /// Which revision a list reads, from `resourceVersion` and `resourceVersionMatch`.
    fn snapshot(&self, current: u64) -> Result<Snapshot, ApiError> {
        let Some(rv) = &self.resource_version else { return Ok(Snapshot::Current) };
        let n: u64 = rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
        match self.resource_version_match.as_deref() {
            Some("Exact") => {
                if n > current {
                    return Err(too_large_resource_version(n, current));
                }
                Ok(Snapshot::At(n))
            }
            None | Some("NotOlderThan") => {
                if n > current {
                    return Err(too_large_resource_version(n, current));
                }
                Ok(Snapshot::Current)
            }
            Some(other) => Err(ApiError::new(422, "Invalid", format!("ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""))),
        }
    }
}

pub fn too_large_resource_version(asked: u64, current: u64) -> ApiError {
    ApiError::new(504, "Timeout", format!("Too large resource version: {asked}, current: {current}")).with_details(
        json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
    )
}

/// Encodes an object that was not stored (a dry run) in the negotiated format.
fn encode_value(res: &ResourceInfo, req: &ApiRequest, status: u16, v: &Value, warnings: Vec<String>) -> Result<Reply, ApiError> {
    encode_raw(res, req, status, &Bytes::from(serde_json::to_vec(v).expect("JSON values serialize")), warnings)
}

/// Records an Update in `metadata.managedFields` of `new` (stored form). The field manager
/// works on the object as the client sent it, so a write through events.k8s.io owns
/// `f:note` under `apiVersion: events.k8s.io/v1`, not the core `f:message`.
fn track_update(res: &ResourceInfo, old: Option<&Value>, new: &mut Value, manager: &str, sub: Option<&str>, now: &str) {
    if !conversion::is_converted(res) {
        return managed_fields::track_update(res, old, new, manager, sub, now);
    }
    let old = old.map(|o| conversion::from_stored(res, o.clone()));
    let mut seen = conversion::from_stored(res, new.clone());
    managed_fields::track_update(res, old.as_ref(), &mut seen, manager, sub, now);
    match seen.pointer("/metadata/managedFields") {
        Some(mf) => meta::set(new, "managedFields", mf.clone()),
        None => meta::remove(new, "managedFields"),
    }
}

/// A stored object's bytes in the representation `res` is served in.
pub fn served_bytes(res: &ResourceInfo, raw: &Bytes) -> Bytes {
    if !conversion::is_converted(res) {
        return raw.clone();
    }
    let v: Value = serde_json::from_slice(raw).expect("stored objects are valid JSON");
    Bytes::from(serde_json::to_vec(&conversion::from_stored(res, v)).expect("JSON values serialize"))
}

/// Encodes one object (raw JSON, stored form) in the negotiated format and the
/// representation `res` is served in.
pub fn encode_raw(res: &ResourceInfo, req: &ApiRequest, status: u16, raw: &Bytes, warnings: Vec<String>) -> Result<Reply, ApiError> {
    let raw = &served_bytes(res, raw);
    let (content_type, body) = match req.format {
        super::request::Format::Json => ("application/json".to_string(), raw.clone()),
        super::request::Format::Yaml => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::internal(e.to_string()))?;
            ("application/yaml".to_string(), Bytes::from(serde_saphyr::to_string(&v).map_err(|e| ApiError::internal(e.to_string()))?))
        }
        super::request::Format::Table => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::internal(e.to_string()))?;
            let rv = meta::resource_version(&v).unwrap_or_default().to_string();
            let t = table::to_table(res, &[v], json!({"resourceVersion": rv}), include_object(&req.query), std::time::SystemTime::now());
            (super::request::Format::Table.content_type().to_string(), Bytes::from(serde_json::to_vec(&t).unwrap()))
        }
        super::request::Format::Metadata => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| ApiError::internal(e.to_string()))?;
            let m = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(json!({}))});
            (super::request::Format::Metadata.content_type().to_string(), Bytes::from(serde_json::to_vec(&m).unwrap()))
        }
    };
    Ok(Reply { status, content_type, body, warnings })
}

pub fn include_object(q: &Query) -> IncludeObject {
    match q.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

/// Encodes a list. JSON is assembled from the stored bytes without re-parsing them, which
/// is what keeps a LIST of 10,000 pods fast; a resource served in another representation
/// than its stored one has its items converted first.
pub fn encode_list(res: &ResourceInfo, req: &ApiRequest, list_meta: Value, items: &[Arc<Stored>]) -> Result<Reply, ApiError> {
    if conversion::is_converted(res) {
        let served: Vec<Arc<Stored>> = items.iter().map(|s| Arc::new(served_item(res, s))).collect();
        return encode_list_as_stored(res, req, list_meta, &served);
    }
    encode_list_as_stored(res, req, list_meta, items)
}

/// A stored item converted to `res`'s representation, laid out as the store lays out items.
fn served_item(res: &ResourceInfo, s: &Stored) -> Stored {
    let served = stored_form(res, &conversion::from_stored(res, s.value()));
    Stored {
        key: s.key.clone(),
        rv: s.rv,
        raw: served.raw,
        item_start: served.item_start,
        labels: s.labels.clone(),
        fields: s.fields.clone(),
    }
}

fn encode_list_as_stored(res: &ResourceInfo, req: &ApiRequest, list_meta: Value, items: &[Arc<Stored>]) -> Result<Reply, ApiError> {
    match req.format {
        super::request::Format::Json => {
            let total: usize = items.iter().map(|s| s.raw.len() + 1).sum();
            let mut out = Vec::with_capacity(total + 256);
            out.extend_from_slice(b"{\"kind\":");
            out.extend_from_slice(serde_json::to_string(&res.list_kind()).unwrap().as_bytes());
            out.extend_from_slice(b",\"apiVersion\":");
            out.extend_from_slice(serde_json::to_string(&res.api_version()).unwrap().as_bytes());
            out.extend_from_slice(b",\"metadata\":");
            out.extend_from_slice(list_meta.to_string().as_bytes());
            out.extend_from_slice(b",\"items\":[");
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let (open, rest) = s.item_parts();
                out.extend_from_slice(open);
                out.extend_from_slice(rest);
            }
            out.extend_from_slice(b"]}");
            Ok(Reply::json(200, Bytes::from(out)))
        }
        super::request::Format::Yaml => {
            let values: Vec<Value> = items.iter().map(|s| s.value()).collect();
            let list = json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": list_meta, "items": values});
            let body = serde_saphyr::to_string(&list).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(Reply { status: 200, content_type: "application/yaml".into(), body: Bytes::from(body), warnings: vec![] })
        }
        super::request::Format::Table => {
            let values: Vec<Value> = items.iter().map(|s| s.value()).collect();
            let t = table::to_table(res, &values, list_meta, include_object(&req.query), std::time::SystemTime::now());
            Ok(Reply {
                status: 200,
                content_type: super::request::Format::Table.content_type().into(),
                body: Bytes::from(serde_json::to_vec(&t).unwrap()),
                warnings: vec![],
            })
        }
        super::request::Format::Metadata => {
            let values: Vec<Value> = items
                .iter()
                .map(|s| {
                    let v = s.value();
                    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(json!({}))})
                })
                .collect();
            let list = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "items": values});
            Ok(Reply {
                status: 200,
                content_type: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".into(),
                body: Bytes::from(serde_json::to_vec(&list).unwrap()),
                warnings: vec![],
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_garbage_is_a_400() {
        let t = ContinueToken { rv: 42, start: "/configmaps/ns/b".into() };
        assert_eq!(ContinueToken::decode(&t.encode()).unwrap(), t);
        let e = ContinueToken::decode("not-a-token").unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "invalid continue token: continue key is not valid: invalid character '\\u009e' looking for beginning of value"
        );
    }

    #[test]
    fn go_json_errors_read_like_go() {
        let body = br#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"#;
        let e = serde_json::from_slice::<Value>(body).unwrap_err();
        assert_eq!(go_json_error(body, &e), "unexpected end of JSON input");
    }
}
