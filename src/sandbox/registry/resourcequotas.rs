//! ResourceQuotas: the quota controller fills in the status; a new quota has an empty one.

use serde_json::{json, Value};

use super::strategy::{set_status, Strategy};

/// The quota strategy.
pub struct ResourceQuotaStrategy;

impl Strategy for ResourceQuotaStrategy {
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({}));
    }
}
