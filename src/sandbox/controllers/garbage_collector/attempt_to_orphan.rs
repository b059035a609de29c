//! The attempt-to-orphan worker (`attemptToOrphanWorker`): an owner deleted with the
//! `orphan` finalizer loses its dependents — each has its reference to the owner patched
//! out — and then the finalizer, so the owner goes and the dependents stay.

use std::sync::Arc;
use std::time::Duration;

use super::graph_builder::ORPHAN;
use super::{GarbageCollector, GcError, WHO};
use crate::machinery::rate_limiting_queue::RateLimitingQueue;

pub struct AttemptToOrphan(pub Arc<GarbageCollector>);

impl super::super::Reconciler for AttemptToOrphan {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.0.attempt_to_orphan
    }

    async fn sync(&self, uid: String) -> Result<Option<Duration>, kube::Error> {
        self.0.orphan(&uid).await.map(|()| None).map_err(GcError::into_kube)
    }
}

impl GarbageCollector {
    async fn orphan(&self, uid: &str) -> Result<(), GcError> {
        let Some(owner) = self.graph.read(uid) else { return Ok(()) };
        let what = format!("{} {}", owner.identity.kind, owner.identity.name);
        for dep in self.graph.dependents(uid) {
            match self.delete_owner_refs(&dep.identity, &[uid.to_string()]).await {
                Ok(()) => self.decisions.say(WHO, &dep.identity.key(), &format!("orphaned (removed owner reference to {what})")),
                Err(GcError::Kube(kube::Error::Api(s))) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_finalizer(&owner.identity, ORPHAN).await?;
        self.decisions.say(WHO, &owner.identity.key(), "removed finalizer orphan (dependents orphaned)");
        Ok(())
    }
}
