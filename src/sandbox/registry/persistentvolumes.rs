//! PersistentVolumes: a volume is born `Pending` until the volume controller has seen it.

use serde_json::{json, Value};

use super::strategy::{set_status, Strategy};

/// The volume strategy.
pub struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({"phase": "Pending"}));
    }
}
