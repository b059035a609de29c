//! PersistentVolumeClaims: a claim is born `Pending`, in filesystem mode unless it asks
//! for a block device, and protected from deletion while a pod uses it.

use serde_json::{json, Value};

use super::storage_admission::{protect, PVC_PROTECTION_FINALIZER};
use super::strategy::{set_status, Strategy};
use super::wire_shape::ensure;

/// The claim strategy.
pub struct PersistentVolumeClaimStrategy;

impl Strategy for PersistentVolumeClaimStrategy {
    /// `SetDefaults_PersistentVolumeClaimSpec`.
    fn defaults(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
            ensure(spec, "volumeMode", json!("Filesystem"));
        }
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"phase": "Pending"}));
    }
    /// StorageObjectInUseProtection (DefaultStorageClass needs the store: see
    /// `rest/create.rs`).
    fn admit_create(&self, obj: &mut Value) {
        protect(obj, PVC_PROTECTION_FINALIZER);
    }
}
