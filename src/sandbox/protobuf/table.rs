//! The shape of the generated schema ([`super::schema`]) and the look-ups on it.
//!
//! Protobuf bodies carry field numbers, not names: this table is what turns tag 3 of an
//! `io.k8s.api.core.v1.Container` into `"ports"`. It is data, generated from the sources of
//! k8s-pb and k8s-openapi by `scripts/gen-protobuf-schema.py`, so that following Kubernetes
//! to a new version is a regeneration, not a hand edit.

use super::schema::MESSAGES;

/// One message: its OpenAPI definition name and its fields, sorted by tag.
#[derive(Debug)]
pub struct Message {
    pub name: &'static str,
    pub fields: &'static [Field],
}

/// One field of a message.
#[derive(Debug)]
pub struct Field {
    pub tag: u32,
    /// The JSON property name (`hostIPs`), or for an inline field the Go field's name.
    pub json: &'static str,
    pub kind: Kind,
    /// A Go slice: the field occurs once per element.
    pub repeated: bool,
    /// A Go map from strings: the field occurs once per entry, `{1: key, 2: value}`, and
    /// `kind` is the value's.
    pub map: bool,
    /// Whether a zero value is meaningful. Go's protobuf encoder writes every non-pointer
    /// field, zero or not, where its JSON encoder (`omitempty`) leaves zeros out; a zero is
    /// only what the client meant for required fields and pointer fields.
    pub keep_zero: bool,
}

/// What a field holds on the wire, and so how it reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    String,
    Bool,
    Int32,
    Int64,
    Double,
    Bytes,
    /// A nested message, by definition name.
    Message(&'static str),
    /// A Go struct embedded with `json:",inline"`: a nested message on the wire whose
    /// fields are the parent's properties in JSON.
    Inline(&'static str),
}

/// The message named `name` (`io.k8s.api.core.v1.Pod`).
pub fn message(name: &str) -> Option<&'static Message> {
    MESSAGES.binary_search_by(|m| m.name.cmp(name)).ok().map(|i| &MESSAGES[i])
}

impl Message {
    /// The field numbered `tag`; `None` for a field this schema does not know (newer
    /// clients may send it; protobuf readers skip such fields).
    pub fn field(&self, tag: u32) -> Option<&'static Field> {
        self.fields.binary_search_by(|f| f.tag.cmp(&tag)).ok().map(|i| &self.fields[i])
    }
}

/// The message of a kind served at `group`/`version`: `apps`, `v1`, `Deployment` ->
/// `io.k8s.api.apps.v1.Deployment`. The OpenAPI package of a group is its first DNS label
/// under `io.k8s.api`, but for the few groups served by other Go modules.
pub fn message_of_kind(group: &str, version: &str, kind: &str) -> Option<&'static Message> {
    let package = match group {
        "" => "io.k8s.api.core".to_string(),
        "apiextensions.k8s.io" => "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_string(),
        "apiregistration.k8s.io" => "io.k8s.kube-aggregator.pkg.apis.apiregistration".to_string(),
        "internal.apiserver.k8s.io" => "io.k8s.api.apiserverinternal".to_string(),
        "meta.k8s.io" => "io.k8s.apimachinery.pkg.apis.meta".to_string(),
        g => format!("io.k8s.api.{}", g.split('.').next().unwrap_or(g)),
    };
    message(&format!("{package}.{version}.{kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(MESSAGES.windows(2).all(|w| w[0].name < w[1].name));
        for m in MESSAGES {
            assert!(m.fields.windows(2).all(|w| w[0].tag < w[1].tag), "{} has unsorted tags", m.name);
        }
    }

    #[test]
    fn every_nested_message_is_in_the_table() {
        for m in MESSAGES {
            for f in m.fields {
                if let Kind::Message(name) | Kind::Inline(name) = f.kind {
                    assert!(message(name).is_some(), "{}.{} refers to unknown {name}", m.name, f.json);
                }
            }
        }
    }

    #[test]
    fn json_names_keep_their_upstream_casing() {
        let status = message("io.k8s.api.core.v1.PodStatus").unwrap();
        let names: Vec<&str> = status.fields.iter().map(|f| f.json).collect();
        assert!(names.contains(&"hostIPs") && names.contains(&"podIP") && names.contains(&"qosClass"), "{names:?}");
        let volume = message("io.k8s.api.core.v1.VolumeSource").unwrap();
        assert!(volume.fields.iter().any(|f| f.json == "scaleIO"));
    }

    #[test]
    fn kinds_map_to_their_group_packages() {
        assert_eq!(message_of_kind("", "v1", "Pod").unwrap().name, "io.k8s.api.core.v1.Pod");
        assert_eq!(message_of_kind("apps", "v1", "Deployment").unwrap().name, "io.k8s.api.apps.v1.Deployment");
        assert_eq!(message_of_kind("rbac.authorization.k8s.io", "v1", "ClusterRole").unwrap().name, "io.k8s.api.rbac.v1.ClusterRole");
        assert_eq!(
            message_of_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition").unwrap().name,
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        );
        assert!(message_of_kind("example.com", "v1", "Widget").is_none());
    }

    #[test]
    fn pointer_fields_keep_their_zero_and_plain_ones_do_not() {
        let spec = message("io.k8s.api.apps.v1.DeploymentSpec").unwrap();
        let by_name = |n: &str| spec.fields.iter().find(|f| f.json == n).unwrap();
        assert!(by_name("replicas").keep_zero);
        assert!(!by_name("paused").keep_zero);
        assert!(!by_name("minReadySeconds").keep_zero);
    }
}
