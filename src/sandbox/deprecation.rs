//! Deprecated APIs: every request to one carries a `Warning: 299` header, as kube-apiserver's
//! installer adds one to each endpoint of a type that declares `APILifecycleDeprecated`
//! (`apiserver/pkg/endpoints/deprecation`). kubectl prints it as `Warning: …`.

use super::resources::ResourceInfo;

/// `(group, version, kind)`, the release it was deprecated in, and its replacement.
const DEPRECATED: &[(&str, &str, &str, (u32, u32), Option<(&str, &str)>)] =
    &[("", "v1", "Endpoints", (1, 33), Some(("discovery.k8s.io/v1", "EndpointSlice"))), ("", "v1", "ComponentStatus", (1, 19), None)];

/// `deprecation.WarningMessage`: `v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice`.
pub fn warning(res: &ResourceInfo) -> Option<String> {
    let (group, version, kind, (major, minor), replacement) =
        DEPRECATED.iter().find(|(g, v, k, ..)| *g == res.group && *v == res.version && *k == res.kind)?;
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut text = format!("{group_version} {kind} is deprecated in v{major}.{minor}+");
    if let Some((gv, k)) = replacement {
        text.push_str(&format!("; use {gv} {k}"));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_as_upstream_words_them() {
        let cat = crate::sandbox::resources::Catalogue::default();
        let endpoints = cat.find("", "v1", "endpoints").expect("served");
        assert_eq!(warning(endpoints).as_deref(), Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"));
        let slices = cat.find("discovery.k8s.io", "v1", "endpointslices").expect("served");
        assert_eq!(warning(slices), None);
    }
}
