//! UPDATE and the machinery every write to an existing object shares: the apiserver's
//! GuaranteedUpdate (read, compute, write if nothing changed meanwhile, else again), the
//! update strategy, managedFields, and allocations given back when an attempt is not stored.

use std::sync::Mutex;

use serde_json::{json, Value};

use super::super::conversion;
use super::super::keys::object_key;
use super::super::managed_fields;
use super::super::meta;
use super::super::registry;
use super::super::request::{ApiRequest, WriteOptions};
use super::super::resources::ResourceInfo;
use super::super::status::{ApiError, FieldError};
use super::super::storage::{Change, Outcome, Stored, Write};
use super::encode::{encode_raw, encode_value};
use super::{new_object, Apiserver, Reply};

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

/// Records an Update in `metadata.managedFields` of `new` (stored form). The field manager
/// works on the object as the client sent it, so a write through events.k8s.io owns
/// `f:note` under `apiVersion: events.k8s.io/v1`, not the core `f:message`.
pub(super) fn track_update(res: &ResourceInfo, old: Option<&Value>, new: &mut Value, manager: &str, sub: Option<&str>, now: &str) {
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

/// Why an update is being made, which decides the strategy hooks that run.
pub(super) struct UpdateContext<'a> {
    pub res: &'a ResourceInfo,
    pub subresource: Option<&'a str>,
    pub manager: String,
    /// Server-side apply already recorded its own managedFields entry.
    pub applied: bool,
    /// What this update's last attempt took from the allocators (old, new), until the write
    /// lands: a retried, failed or dry-run attempt gives it back.
    pending_allocation: Mutex<Option<(Value, Value)>>,
}

impl UpdateContext<'_> {
    pub fn new<'a>(res: &'a ResourceInfo, subresource: Option<&'a str>, manager: String, applied: bool) -> UpdateContext<'a> {
        UpdateContext { res, subresource, manager, applied, pending_allocation: Mutex::new(None) }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Option<(Value, Value)>> {
        self.pending_allocation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What an attempt decided.
pub(super) enum Computed {
    Put(Value),
    Delete(Value),
    Unchanged,
}

impl Computed {
    /// A dry run stops here: it keeps what would have been stored and writes nothing.
    pub fn unless_dry_run(self, dry: bool, old: &Value, would_store: &mut Option<Value>) -> Computed {
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
    /// The apiserver's GuaranteedUpdate: read, compute the new object, write if nothing
    /// changed meanwhile, otherwise read again.
    pub(super) async fn guaranteed_update(
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
                    return Change::Stale;
                }
                match computed {
                    Computed::Unchanged => Change::Unchanged,
                    Computed::Put(mut v) => Change::Put(new_object(&res2, &mut v, rev)),
                    Computed::Delete(mut v) => Change::Delete(new_object(&res2, &mut v, rev)),
                }
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
    pub(super) fn prepare_updated(&self, ctx: &UpdateContext, old: &Value, mut new: Value) -> Result<Computed, ApiError> {
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
        registry::before_update(ctx.res, old, &mut new, strategy_sub);
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
            ctx.res.strategy.allocate_update(old, &mut new).map_err(|errs| ApiError::invalid(&ctx.res.qualified_kind(), &name, &errs))?;
            *ctx.pending() = Some((old.clone(), new.clone()));
        }
        if !ctx.applied {
            track_update(ctx.res, Some(old), &mut new, &ctx.manager, ctx.subresource, &meta::now_rfc3339());
        }
        if comparable(&new) == comparable(old) {
            return Ok(Computed::Unchanged);
        }
        if meta::deletion_timestamp(&new).is_some() && meta::finalizers(&new).is_empty() && ctx.res.strategy.deletion_may_complete(&new) {
            return Ok(Computed::Delete(new));
        }
        Ok(Computed::Put(new))
    }

    /// Gives back what an update attempt allocated that will not be stored: the object
    /// keeps what it held before.
    fn release_pending_allocation(&self, ctx: &UpdateContext) {
        if let Some((old, new)) = ctx.pending().take() {
            ctx.res.strategy.release(&new);
            ctx.res.strategy.observe(&old);
        }
    }

    /// After the last attempt: a stored update keeps its allocation, anything else gives
    /// it back.
    pub(super) fn settle_allocation(&self, ctx: &UpdateContext, outcome: &Result<Outcome, ApiError>, dry: bool) {
        match outcome {
            Ok(Outcome::Updated(_) | Outcome::Deleted(_)) if !dry => {
                ctx.pending().take();
            }
            _ => self.release_pending_allocation(ctx),
        }
    }

    pub(super) async fn update(&self, res: &ResourceInfo, req: &ApiRequest, name: &str, opts: &WriteOptions) -> Result<Reply, ApiError> {
        let mut warnings = vec![];
        let new = self.decode_body(res, req, opts.field_validation, &mut warnings)?;
        if let Some(body_name) = meta::name(&new) {
            if body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let wanted_rv = meta::resource_version(&new).map(String::from);
        let sub = req.path.subresource.as_deref();
        let ctx = UpdateContext::new(res, sub, req.field_manager(opts.field_manager.as_deref()), false);
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let dry = opts.dry_run;
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
        warnings.extend(res.strategy.warnings(&new));
        if let Some(v) = dry_result {
            return encode_value(res, req, 200, &v, warnings);
        }
        self.finish_update(res, req, name, outcome, warnings)
    }

    pub(super) fn finish_update(
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
}
