//! kube-apiserver's storage admission plugins on create: DefaultStorageClass
//! (`plugin/pkg/admission/storage/storageclass/setdefault`) gives a claim that names no
//! class the default one, and StorageObjectInUseProtection
//! (`plugin/pkg/admission/storage/storageobjectinuseprotection`) puts the protection
//! finalizer on every claim and volume, so that deleting one in use only marks it
//! `Terminating` until the protection controllers see it is safe to go.

use serde_json::{json, Value};

use crate::sandbox::keys::list_prefix;
use crate::sandbox::resources::{Catalogue, ResourceInfo};

/// `storagehelpers.PVCProtectionFinalizer`.
pub const PVC_PROTECTION_FINALIZER: &str = "kubernetes.io/pvc-protection";
/// `storagehelpers.PVProtectionFinalizer`.
pub const PV_PROTECTION_FINALIZER: &str = "kubernetes.io/pv-protection";
/// `storageutil.IsDefaultStorageClassAnnotation` and its beta spelling.
pub const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// `v1.BetaStorageClassAnnotation`: the class a claim named before `storageClassName`.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// StorageObjectInUseProtection: adds `finalizer` unless the object already has it.
pub fn protect(obj: &mut Value, finalizer: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let list = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Value::Array(fs) = list {
        if !fs.iter().any(|f| f.as_str() == Some(finalizer)) {
            fs.push(json!(finalizer));
        }
    }
}

/// `helper.PersistentVolumeClaimHasClass`: an explicit `storageClassName`, even `""`, or
/// the beta annotation, is the user's choice.
fn has_class(pvc: &Value) -> bool {
    pvc.pointer("/spec/storageClassName").is_some_and(|c| !c.is_null())
        || pvc.pointer("/metadata/annotations").and_then(|a| a.get(BETA_STORAGE_CLASS)).is_some()
}

fn is_default(class: &Value) -> bool {
    let annotations = class.pointer("/metadata/annotations");
    [IS_DEFAULT_CLASS, BETA_IS_DEFAULT_CLASS].iter().any(|k| annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true"))
}

/// `util.GetDefaultClass`: of the classes marked default, the newest (then by name).
pub fn default_class(classes: &[Value]) -> Option<&str> {
    let created = |c: &Value| c.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = |c: &Value| c.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    classes
        .iter()
        .filter(|c| is_default(c))
        .min_by(|a, b| created(b).cmp(&created(a)).then_with(|| name(a).cmp(&name(b))))
        .and_then(|c| c.pointer("/metadata/name").and_then(Value::as_str))
}

/// DefaultStorageClass on a claim's create; `list` reads every stored object under a key
/// prefix (the plugin's StorageClass lister).
pub fn admit_default_storage_class(cat: &Catalogue, list: impl Fn(&str) -> Vec<Value>, res: &ResourceInfo, pvc: &mut Value) {
    if !res.group.is_empty() || res.kind != "PersistentVolumeClaim" || has_class(pvc) {
        return;
    }
    let Some(classes) = cat.find("storage.k8s.io", "v1", "storageclasses") else { return };
    let stored = list(&list_prefix(classes, None));
    let Some(name) = default_class(&stored) else { return };
    if let Some(spec) = pvc.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("storageClassName".into(), json!(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: bool) -> Value {
        let ann = if default { json!({IS_DEFAULT_CLASS: "true"}) } else { json!({}) };
        json!({"metadata": {"name": name, "creationTimestamp": created, "annotations": ann}})
    }

    #[test]
    fn the_newest_default_class_wins_then_the_first_name() {
        let classes = vec![
            class("old", "2026-01-01T00:00:00Z", true),
            class("plain", "2026-03-01T00:00:00Z", false),
            class("b-new", "2026-02-01T00:00:00Z", true),
            class("a-new", "2026-02-01T00:00:00Z", true),
        ];
        assert_eq!(default_class(&classes), Some("a-new"));
        assert_eq!(default_class(&classes[1..2]), None);
    }

    #[test]
    fn an_explicit_class_even_empty_is_kept() {
        assert!(has_class(&json!({"spec": {"storageClassName": ""}})));
        assert!(has_class(&json!({"metadata": {"annotations": {BETA_STORAGE_CLASS: "x"}}, "spec": {}})));
        assert!(!has_class(&json!({"spec": {}})));
    }

    #[test]
    fn protection_adds_its_finalizer_once() {
        let mut pvc = json!({"metadata": {"name": "c", "finalizers": ["a"]}});
        protect(&mut pvc, PVC_PROTECTION_FINALIZER);
        protect(&mut pvc, PVC_PROTECTION_FINALIZER);
        assert_eq!(pvc["metadata"]["finalizers"], json!(["a", PVC_PROTECTION_FINALIZER]));
    }
}
