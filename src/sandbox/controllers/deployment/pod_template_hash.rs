//! The `pod-template-hash` label (`controller.ComputeHash`, `rand.SafeEncodeString`,
//! `deploymentutil.EqualIgnoreHash`): it names a deployment's replica set per template
//! (`web-7d9c4f8b5`) and keeps the pods of different revisions apart.
//!
//! Upstream hashes the template's `spew` dump with fnv32a. An exact port of that printed
//! form is impractical, so this hashes the template's canonical JSON (k8s-openapi's field
//! order, sorted maps) with the same fnv32a, the same little-endian collisionCount suffix
//! and the same alphabet: the hashes look like upstream's and are stable, but differ in
//! value from a real cluster's for the same template.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// `apps.DefaultDeploymentUniqueLabelKey`.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// `rand.SafeEncodeString`'s alphabet: no vowels (no words) and no look-alikes.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv32a(bytes: &[u8], mut hash: u32) -> u32 {
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(16_777_619);
    }
    hash
}

/// `rand.SafeEncodeString`: each byte mapped into [`ALPHANUMS`].
pub fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()])).collect()
}

/// `controller.ComputeHash(template, collisionCount)`.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let text = serde_json::to_string(template).unwrap_or_default();
    let mut hash = fnv32a(text.as_bytes(), 2_166_136_261);
    if let Some(c) = collision_count {
        hash = fnv32a(&(c as u32).to_le_bytes(), hash);
    }
    safe_encode(&hash.to_string())
}

/// `EqualIgnoreHash`: the templates are the same but for the hash label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(POD_TEMPLATE_HASH);
        }
        serde_json::to_value(t).unwrap_or_default()
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": image}]}
        }))
        .unwrap()
    }

    #[test]
    fn hash_is_stable_uses_the_safe_alphabet_and_changes_with_template_and_collisions() {
        let a = compute_hash(&template("nginx:1.27"), None);
        assert_eq!(a, compute_hash(&template("nginx:1.27"), None));
        assert!(a.chars().all(|c| "456789bcdf".contains(c)), "{a}: digits map into bcdf456789");
        assert_ne!(a, compute_hash(&template("nginx:1.28"), None));
        assert_ne!(a, compute_hash(&template("nginx:1.27"), Some(1)));
        // SafeEncodeString maps the digit bytes '0'..'9' as upstream does.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn equality_ignores_only_the_hash_label() {
        let mut hashed = template("nginx:1.27");
        hashed.metadata.as_mut().unwrap().labels.as_mut().unwrap().insert(POD_TEMPLATE_HASH.into(), "abc".into());
        assert!(equal_ignore_hash(&hashed, &template("nginx:1.27")));
        assert!(!equal_ignore_hash(&hashed, &template("nginx:1.28")));
        let mut other = template("nginx:1.27");
        other.metadata.as_mut().unwrap().labels = Some(BTreeMap::from([("app".into(), "api".into())]));
        assert!(!equal_ignore_hash(&other, &template("nginx:1.27")));
    }
}
