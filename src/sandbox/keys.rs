//! The storage key layout: `<group>/<plural>/<namespace>/<name>`, as etcd keys are laid out
//! under `/registry` (the version is not part of it: every served version of a resource
//! shares one set of objects).

use super::resources::ResourceInfo;

/// The storage key of an object.
pub fn object_key(res: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    match (res.namespaced, namespace) {
        (true, Some(ns)) => format!("{}/{ns}/{name}", res.storage_prefix()),
        _ => format!("{}/{name}", res.storage_prefix()),
    }
}

/// The key prefix a list or watch covers.
pub fn list_prefix(res: &ResourceInfo, namespace: Option<&str>) -> String {
    match (res.namespaced, namespace) {
        (true, Some(ns)) => format!("{}/{ns}/", res.storage_prefix()),
        _ => format!("{}/", res.storage_prefix()),
    }
}
