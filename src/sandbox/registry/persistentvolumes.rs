//! PersistentVolumes: a volume is born `Pending` until the volume controller has seen it,
//! and protected from deletion while it is bound.

use serde_json::{json, Value};

use super::storage_admission::{protect, PV_PROTECTION_FINALIZER};
use super::strategy::{set_status, Strategy};

/// The volume strategy.
pub struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"phase": "Pending"}));
    }
    /// StorageObjectInUseProtection.
    fn admit_create(&self, obj: &mut Value) {
        protect(obj, PV_PROTECTION_FINALIZER);
    }
}
