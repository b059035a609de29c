//! DELETE and DELETECOLLECTION: preconditions, propagation finalizers, graceful deletion
//! (the kind's `graceful_delete`), lifecycles of their own (`begin_deletion`), and whether a
//! deletion answers the object or a `Status`.

use bytes::Bytes;
use serde_json::{json, Value};

use super::super::keys::{list_prefix, object_key};
use super::super::meta;
use super::super::request::{ApiRequest, DeleteOptions, ListOptions, Propagation};
use super::super::resources::ResourceInfo;
use super::super::status::{success_status, ApiError};
use super::super::storage::{Outcome, Snapshot};
use super::encode::{encode_list, encode_value};
use super::list::selected;
use super::update::Computed;
use super::{Apiserver, Reply};

/// How a deletion went: stored, or what a dry run would have stored.
enum Deletion {
    Done(Outcome),
    DryRun(Value),
}

/// The `Preconditions` of a delete, checked against the stored object.
fn check_preconditions(opts: &DeleteOptions, res: &ResourceInfo, cur: &Value, name: &str) -> Result<(), ApiError> {
    let kind = res.qualified_kind();
    let conflict = |message: String| {
        ApiError::new(409, "Conflict", format!("Operation cannot be fulfilled on {kind} \"{name}\": {message}"))
            .with_details(json!({"name": name, "kind": res.kind}))
    };
    if let Some(uid) = &opts.precondition_uid {
        let have = meta::uid(cur).unwrap_or_default();
        if uid != have {
            return Err(conflict(format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({have}). The object might have been deleted and then recreated"
            )));
        }
    }
    if let Some(rv) = &opts.precondition_rv {
        let have = meta::resource_version(cur).unwrap_or_default();
        if rv != have {
            return Err(conflict(format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({have}). The object might have been modified"
            )));
        }
    }
    Ok(())
}

/// The finalizer a propagation policy asks the garbage collector to honour.
fn propagation_finalizer(p: Option<Propagation>) -> Option<&'static str> {
    match p {
        Some(Propagation::Foreground) => Some("foregroundDeletion"),
        Some(Propagation::Orphan) => Some("orphan"),
        _ => None,
    }
}

/// What deleting `cur` means now: gone, or marked with a deletionTimestamp.
fn plan_delete(res: &ResourceInfo, cur: &Value, opts: &DeleteOptions) -> Computed {
    let terminating = meta::deletion_timestamp(cur).is_some();
    if let Some(marked) = res.strategy.begin_deletion(cur) {
        return if terminating { Computed::Unchanged } else { Computed::Put(marked) };
    }
    let mut next = cur.clone();
    let mut finalizers = meta::finalizers(cur);
    if let Some(f) = propagation_finalizer(opts.propagation_policy) {
        if !terminating && !finalizers.iter().any(|x| x == f) {
            finalizers.push(f.into());
        }
    }
    if finalizers != meta::finalizers(cur) {
        meta::set(&mut next, "finalizers", json!(finalizers));
    }
    if let Some(grace) = res.strategy.graceful_delete(cur, opts.grace_period_seconds) {
        let prev_grace = meta::metadata(cur).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(Value::as_i64);
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

impl Apiserver {
    pub(super) async fn delete(&self, res: &ResourceInfo, req: &ApiRequest, name: &str, opts: &DeleteOptions) -> Result<Reply, ApiError> {
        let key = object_key(res, req.path.namespace.as_deref(), name);
        let (outcome, deleted_now) = self.delete_object(res, &key, name, opts).await?;
        match outcome {
            Deletion::Done(Outcome::NotFound) => Err(ApiError::not_found(&res.qualified_resource(), name)),
            Deletion::Done(Outcome::Deleted(s) | Outcome::Updated(s) | Outcome::Unchanged(s)) => {
                self.deleted_reply(res, req, name, &s.value(), deleted_now)
            }
            Deletion::DryRun(v) => self.deleted_reply(res, req, name, &v, deleted_now),
            Deletion::Done(_) => Err(ApiError::internal("unexpected storage outcome on delete")),
        }
    }

    /// What a DELETE answers: a `Status` once the object is gone from a kind that says so,
    /// else the object (deleted, or marked for deletion).
    fn deleted_reply(&self, res: &ResourceInfo, req: &ApiRequest, name: &str, obj: &Value, gone: bool) -> Result<Reply, ApiError> {
        if gone && res.strategy.delete_returns_status() {
            let body = success_status(&res.qualified_resource(), name, meta::uid(obj).unwrap_or_default());
            return Ok(Reply::json(200, Bytes::from(serde_json::to_vec(&body).expect("a Status serializes"))));
        }
        encode_value(res, req, 200, obj, vec![])
    }

    /// Deletes, or starts the graceful deletion of, one object. Returns whether it is gone
    /// (for a dry run: would be).
    async fn delete_object(&self, res: &ResourceInfo, key: &str, name: &str, opts: &DeleteOptions) -> Result<(Deletion, bool), ApiError> {
        let mut gone = false;
        let mut first_pass = true;
        let mut dry_result = None;
        loop {
            let outcome = self
                .guaranteed_update(res, key, name, |cur| {
                    check_preconditions(opts, res, cur, name)?;
                    let plan = plan_delete(res, cur, opts);
                    gone = matches!(plan, Computed::Delete(_));
                    Ok(plan.unless_dry_run(opts.dry_run, cur, &mut dry_result))
                })
                .await?;
            if let Some(v) = dry_result.take() {
                return Ok((Deletion::DryRun(v), gone));
            }
            if let Outcome::Deleted(s) = &outcome {
                res.strategy.release(&s.value());
            }
            // A graceful deletion with nothing left to wait for is marked, then removed at
            // once (`deleteImmediately`): watchers see both.
            if first_pass && self.completes_after_mark(res, &outcome) {
                first_pass = false;
                continue;
            }
            return Ok((Deletion::Done(outcome), gone));
        }
    }

    fn completes_after_mark(&self, res: &ResourceInfo, outcome: &Outcome) -> bool {
        let Outcome::Updated(s) = outcome else { return false };
        let v = s.value();
        res.strategy.graceful_delete(&v, None).is_some()
            && meta::finalizers(&v).is_empty()
            && meta::deletion_timestamp(&v).is_some()
            && res.strategy.deletion_may_complete(&v)
    }

    pub(super) async fn delete_collection(
        &self,
        res: &ResourceInfo,
        req: &ApiRequest,
        dopts: &DeleteOptions,
        lopts: &ListOptions,
    ) -> Result<Reply, ApiError> {
        let ns = req.path.namespace.as_deref();
        let (_, items) =
            self.storage.list(&list_prefix(res, ns), None, Snapshot::Current).map_err(|_| ApiError::internal("list failed"))?;
        let mut deleted = Vec::new();
        for s in items.into_iter().filter(|s| selected(lopts, s)) {
            let v = s.value();
            let name = meta::name(&v).unwrap_or_default().to_string();
            // The list answers with each object as it was when the collection was deleted.
            match self.delete_object(res, &s.key, &name, dopts).await {
                Ok((Deletion::Done(Outcome::Deleted(_) | Outcome::Updated(_) | Outcome::Unchanged(_)) | Deletion::DryRun(_), _)) => {
                    deleted.push(s)
                }
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let list_meta = json!({"resourceVersion": self.storage.revision().to_string()});
        encode_list(res, req, list_meta, &deleted)
    }
}
