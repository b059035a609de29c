//! How lists merge: the `x-kubernetes-patch-*` and `x-kubernetes-list-*` extensions.
//!
//! A strategic merge patch (what `kubectl apply` sends for built-in kinds) merges a list of
//! containers by `name` instead of replacing it, keeps volume sources apart with
//! `retainKeys`, and so on. kubectl learns this per field from the server's OpenAPI: the
//! `x-kubernetes-patch-merge-key` and `x-kubernetes-patch-strategy` on the property. These
//! come from Go struct tags upstream, which k8s-openapi's schemas do not carry, so the
//! sandbox lists them here for the types it can serve, and adds the matching server-side
//! apply list types (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`).

use serde_json::{json, Map, Value};

/// One annotated field: on `definition`'s `property`.
struct FieldMeta {
    definition: &'static str,
    property: &'static str,
    /// `merge`, `retainKeys`, `merge,retainKeys`; empty for none.
    strategy: &'static str,
    merge_key: &'static str,
    /// `map`, `set`, `atomic`; empty to leave the list type unsaid.
    list_type: &'static str,
    list_map_keys: &'static [&'static str],
}

const fn field(
    definition: &'static str,
    property: &'static str,
    strategy: &'static str,
    merge_key: &'static str,
    list_type: &'static str,
    list_map_keys: &'static [&'static str],
) -> FieldMeta {
    FieldMeta { definition, property, strategy, merge_key, list_type, list_map_keys }
}

/// A `conditions` list merged by `type`, as every status with conditions does.
const fn conditions(definition: &'static str) -> FieldMeta {
    field(definition, "conditions", "merge", "type", "map", &["type"])
}

const CORE: &str = "io.k8s.api.core.v1.";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const APPS: &str = "io.k8s.api.apps.v1.";

/// Definitions named without their package, which [`annotate`] adds back.
const FIELDS: &[(&str, FieldMeta)] = &[
    (META, field("ObjectMeta", "finalizers", "merge", "", "set", &[])),
    (META, field("ObjectMeta", "ownerReferences", "merge", "uid", "map", &["uid"])),
    (META, field("ObjectMeta", "managedFields", "", "", "atomic", &[])),
    (CORE, field("PodSpec", "containers", "merge", "name", "map", &["name"])),
    (CORE, field("PodSpec", "initContainers", "merge", "name", "map", &["name"])),
    (CORE, field("PodSpec", "ephemeralContainers", "merge", "name", "map", &["name"])),
    (CORE, field("PodSpec", "volumes", "merge,retainKeys", "name", "map", &["name"])),
    (CORE, field("PodSpec", "imagePullSecrets", "merge", "name", "map", &["name"])),
    (CORE, field("PodSpec", "hostAliases", "merge", "ip", "map", &["ip"])),
    (CORE, field("PodSpec", "tolerations", "", "", "atomic", &[])),
    (CORE, field("PodSpec", "topologySpreadConstraints", "merge", "topologyKey", "map", &["topologyKey", "whenUnsatisfiable"])),
    (CORE, field("PodSpec", "resourceClaims", "merge,retainKeys", "name", "map", &["name"])),
    (CORE, field("PodSpec", "schedulingGates", "merge", "name", "map", &["name"])),
    (CORE, field("Container", "ports", "merge", "containerPort", "map", &["containerPort", "protocol"])),
    (CORE, field("Container", "env", "merge", "name", "map", &["name"])),
    (CORE, field("Container", "volumeMounts", "merge", "mountPath", "map", &["mountPath"])),
    (CORE, field("Container", "volumeDevices", "merge", "devicePath", "map", &["devicePath"])),
    (CORE, field("Container", "envFrom", "", "", "atomic", &[])),
    (CORE, field("Container", "resizePolicy", "", "", "atomic", &[])),
    (CORE, field("EphemeralContainer", "ports", "merge", "containerPort", "map", &["containerPort", "protocol"])),
    (CORE, field("EphemeralContainer", "env", "merge", "name", "map", &["name"])),
    (CORE, field("EphemeralContainer", "volumeMounts", "merge", "mountPath", "map", &["mountPath"])),
    (CORE, field("EphemeralContainer", "volumeDevices", "merge", "devicePath", "map", &["devicePath"])),
    (CORE, conditions("PodStatus")),
    (CORE, field("PodStatus", "podIPs", "merge", "ip", "map", &["ip"])),
    (CORE, field("PodStatus", "hostIPs", "merge", "ip", "atomic", &[])),
    (CORE, field("PodStatus", "resourceClaimStatuses", "merge,retainKeys", "name", "map", &["name"])),
    (CORE, field("ServiceSpec", "ports", "merge", "port", "map", &["port", "protocol"])),
    (CORE, conditions("ServiceStatus")),
    (CORE, field("ServiceAccount", "secrets", "merge", "name", "map", &["name"])),
    (CORE, field("ServiceAccount", "imagePullSecrets", "", "", "atomic", &[])),
    (CORE, field("NodeSpec", "podCIDRs", "merge", "", "set", &[])),
    (CORE, field("NodeSpec", "taints", "", "", "atomic", &[])),
    (CORE, conditions("NodeStatus")),
    (CORE, field("NodeStatus", "addresses", "merge", "type", "map", &["type"])),
    (CORE, conditions("NamespaceStatus")),
    (CORE, conditions("PersistentVolumeClaimStatus")),
    (CORE, conditions("ReplicationControllerStatus")),
    (APPS, field("DeploymentSpec", "strategy", "retainKeys", "", "", &[])),
    (APPS, conditions("DeploymentStatus")),
    (APPS, conditions("ReplicaSetStatus")),
    (APPS, conditions("DaemonSetStatus")),
    (APPS, conditions("StatefulSetStatus")),
    (APPS, field("StatefulSetSpec", "volumeClaimTemplates", "", "", "atomic", &[])),
    ("io.k8s.api.batch.v1.", field("JobStatus", "conditions", "", "", "atomic", &[])),
];

/// Adds the extensions to the definitions present; definitions absent are skipped, so the
/// table may name types a given document does not include.
pub fn annotate(definitions: &mut Map<String, Value>) {
    for (package, f) in FIELDS {
        let name = format!("{package}{}", f.definition);
        let Some(property) = definitions.get_mut(&name).and_then(|d| d.get_mut("properties")).and_then(|p| p.get_mut(f.property)) else {
            continue;
        };
        let Some(property) = property.as_object_mut() else { continue };
        if !f.merge_key.is_empty() {
            property.insert("x-kubernetes-patch-merge-key".into(), json!(f.merge_key));
        }
        if !f.strategy.is_empty() {
            property.insert("x-kubernetes-patch-strategy".into(), json!(f.strategy));
        }
        if !f.list_type.is_empty() {
            property.insert("x-kubernetes-list-type".into(), json!(f.list_type));
        }
        if !f.list_map_keys.is_empty() {
            property.insert("x-kubernetes-list-map-keys".into(), json!(f.list_map_keys));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schemas::builtins;

    fn property(definition: &str, property: &str) -> &'static serde_json::Value {
        &builtins().definitions[definition]["properties"][property]
    }

    #[test]
    fn containers_merge_by_name_and_volumes_retain_keys() {
        let containers = property("io.k8s.api.core.v1.PodSpec", "containers");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(property("io.k8s.api.core.v1.PodSpec", "volumes")["x-kubernetes-patch-strategy"], "merge,retainKeys");
    }

    #[test]
    fn container_lists_and_metadata_lists_have_their_keys() {
        assert_eq!(property("io.k8s.api.core.v1.Container", "ports")["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(property("io.k8s.api.core.v1.Container", "volumeMounts")["x-kubernetes-patch-merge-key"], "mountPath");
        assert_eq!(property("io.k8s.api.core.v1.Container", "env")["x-kubernetes-list-map-keys"], serde_json::json!(["name"]));
        let meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        assert_eq!(property(meta, "finalizers")["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(property(meta, "ownerReferences")["x-kubernetes-patch-merge-key"], "uid");
        assert_eq!(property("io.k8s.api.core.v1.PodStatus", "conditions")["x-kubernetes-patch-merge-key"], "type");
    }

    #[test]
    fn every_listed_field_exists_in_its_definition() {
        for (package, f) in super::FIELDS {
            let name = format!("{package}{}", f.definition);
            let definition = &builtins().definitions[&name];
            assert!(definition["properties"].get(f.property).is_some(), "{name}.{} is not a field", f.property);
        }
    }
}
