//! How the lists and maps of built-in kinds merge: the `patchStrategy`/`patchMergeKey` and
//! `listType`/`listMapKey`/`mapType` markers of the Kubernetes Go types, as a lookup table.
//!
//! The sandbox keeps objects as JSON without Go structs, so the markers the real apiserver reads
//! from its OpenAPI schema are written down here, keyed by the path of field names from the
//! object's root (list indices left out): `["spec", "containers", "ports"]`. Strategic merge
//! patch and server-side apply both consult this one table, which is why it lives in one place.
//! The two mechanisms occasionally disagree (a container port merges by `containerPort` in a
//! strategic patch, but is identified by `containerPort` *and* `protocol` in managedFields), so
//! each gets its own function.

/// How a strategic merge patch treats a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchStrategy {
    /// The patch's list replaces the live one (no `patchStrategy` in the Go type).
    Replace,
    /// Items are objects matched by this key (`patchStrategy:"merge" patchMergeKey:"name"`).
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (`metadata.finalizers`).
    MergeSet,
}

/// How server-side apply and managedFields identify a list's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value, owned as a whole (`f:command: {}`).
    Atomic,
    /// Scalars identified by value (`v:"example.com/hold"`).
    Set,
    /// Objects identified by these keys (`k:{"name":"app"}`).
    Map(&'static [&'static str]),
}

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

fn last_two<'a>(path: &[&'a str]) -> (Option<&'a str>, Option<&'a str>) {
    let n = path.len();
    (n.checked_sub(2).map(|i| path[i]), path.last().copied())
}

/// `kind` is the object's kind (`Pod`, `Service`); `path` names the list field.
pub fn patch_strategy(kind: &str, path: &[&str]) -> PatchStrategy {
    let (parent, field) = last_two(path);
    let Some(field) = field else { return PatchStrategy::Replace };
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => PatchStrategy::MergeByKey("name"),
        "volumeMounts" => PatchStrategy::MergeByKey("mountPath"),
        "volumeDevices" => PatchStrategy::MergeByKey("devicePath"),
        "ports" if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => PatchStrategy::MergeByKey("containerPort"),
        "ports" if kind == "Service" && path == ["spec", "ports"] => PatchStrategy::MergeByKey("port"),
        "finalizers" if parent == Some("metadata") => PatchStrategy::MergeSet,
        "ownerReferences" if parent == Some("metadata") => PatchStrategy::MergeByKey("uid"),
        "conditions" if parent == Some("status") => PatchStrategy::MergeByKey("type"),
        "addresses" if kind == "Node" => PatchStrategy::MergeByKey("type"),
        "hostAliases" => PatchStrategy::MergeByKey("ip"),
        "podIPs" | "hostIPs" if parent == Some("status") => PatchStrategy::MergeByKey("ip"),
        "topologySpreadConstraints" => PatchStrategy::MergeByKey("topologyKey"),
        _ => PatchStrategy::Replace,
    }
}

/// The list's identity for managedFields; `custom` is true for custom resources, whose lists
/// are atomic unless their schema says otherwise (the sandbox keeps no such markers).
pub fn list_type(kind: &str, path: &[&str], custom: bool) -> ListType {
    if custom {
        return ListType::Atomic;
    }
    let (parent, field) = last_two(path);
    let Some(field) = field else { return ListType::Atomic };
    match field {
        "ports" if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => ListType::Map(&["containerPort", "protocol"]),
        "ports" if kind == "Service" && path == ["spec", "ports"] => ListType::Map(&["port", "protocol"]),
        "addresses" if kind == "Node" => ListType::Atomic,
        "topologySpreadConstraints" => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        _ => match patch_strategy(kind, path) {
            PatchStrategy::MergeByKey(k) => ListType::Map(match k {
                "name" => &["name"],
                "mountPath" => &["mountPath"],
                "devicePath" => &["devicePath"],
                "uid" => &["uid"],
                "type" => &["type"],
                "ip" => &["ip"],
                _ => return ListType::Atomic,
            }),
            PatchStrategy::MergeSet => ListType::Set,
            PatchStrategy::Replace => ListType::Atomic,
        },
    }
}

/// Maps and structs owned as a whole (`+mapType=atomic`, `+structType=atomic`): a label
/// selector, a Service's selector, an event's `involvedObject`, a pod's `nodeSelector`.
pub fn is_atomic_map(kind: &str, path: &[&str], custom: bool) -> bool {
    if custom {
        return false;
    }
    let _ = kind;
    match path.last().copied() {
        // Every `selector` of a built-in is atomic: LabelSelector, Service and RC selectors.
        Some("selector") | Some("nodeSelector") | Some("involvedObject") | Some("regarding") | Some("related") => true,
        Some("labelSelector") | Some("namespaceSelector") => true,
        Some("configMapKeyRef") | Some("secretKeyRef") | Some("fieldRef") | Some("resourceFieldRef") => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_depend_on_where_they_are() {
        assert_eq!(patch_strategy("Pod", &["spec", "containers", "ports"]), PatchStrategy::MergeByKey("containerPort"));
        assert_eq!(
            patch_strategy("Deployment", &["spec", "template", "spec", "containers", "ports"]),
            PatchStrategy::MergeByKey("containerPort")
        );
        assert_eq!(patch_strategy("Service", &["spec", "ports"]), PatchStrategy::MergeByKey("port"));
        // p15 svc / p16 patch-image managedFields: k:{"port":80,"protocol":"TCP"}, k:{"containerPort":80,"protocol":"TCP"}
        assert_eq!(list_type("Service", &["spec", "ports"], false), ListType::Map(&["port", "protocol"]));
        assert_eq!(
            list_type("Deployment", &["spec", "template", "spec", "containers", "ports"], false),
            ListType::Map(&["containerPort", "protocol"])
        );
    }

    #[test]
    fn other_lists() {
        assert_eq!(patch_strategy("Pod", &["spec", "tolerations"]), PatchStrategy::Replace);
        assert_eq!(patch_strategy("ConfigMap", &["metadata", "finalizers"]), PatchStrategy::MergeSet);
        assert_eq!(list_type("ConfigMap", &["metadata", "finalizers"], false), ListType::Set);
        assert_eq!(list_type("Pod", &["spec", "containers", "command"], false), ListType::Atomic);
        assert_eq!(list_type("Pod", &["status", "conditions"], false), ListType::Map(&["type"]));
        assert_eq!(list_type("Book", &["spec", "containers"], true), ListType::Atomic);
    }

    #[test]
    fn atomic_maps() {
        assert!(is_atomic_map("Service", &["spec", "selector"], false));
        assert!(is_atomic_map("Deployment", &["spec", "selector"], false));
        assert!(is_atomic_map("Event", &["involvedObject"], false));
        assert!(!is_atomic_map("Pod", &["metadata", "labels"], false));
        assert!(!is_atomic_map("Book", &["spec", "selector"], true));
    }
}
