//! `ObjectMeta` on JSON objects: the accessors the REST layer needs, so it reads like the
//! apiserver's `meta.Accessor` code rather than like JSON plumbing.

use serde_json::{Map, Value};

use super::selectors::Labels;

pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(|m| m.as_object())
}

/// `metadata`, created if missing.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("just made an object");
    let m = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("just made an object")
}

pub fn str_field<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    metadata(obj).and_then(|m| m.get(key)).and_then(|v| v.as_str()).filter(|s| !s.is_empty())
}

pub fn name(obj: &Value) -> Option<&str> {
    str_field(obj, "name")
}
pub fn namespace(obj: &Value) -> Option<&str> {
    str_field(obj, "namespace")
}
pub fn uid(obj: &Value) -> Option<&str> {
    str_field(obj, "uid")
}
pub fn resource_version(obj: &Value) -> Option<&str> {
    str_field(obj, "resourceVersion")
}
pub fn deletion_timestamp(obj: &Value) -> Option<&str> {
    str_field(obj, "deletionTimestamp")
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

pub fn labels(obj: &Value) -> Labels {
    metadata(obj)
        .and_then(|m| m.get("labels"))
        .and_then(|l| l.as_object())
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

pub fn set(obj: &mut Value, key: &str, value: Value) {
    metadata_mut(obj).insert(key.to_string(), value);
}

pub fn remove(obj: &mut Value, key: &str) {
    metadata_mut(obj).remove(key);
}

pub fn generation(obj: &Value) -> i64 {
    metadata(obj).and_then(|m| m.get("generation")).and_then(|g| g.as_i64()).unwrap_or(0)
}

/// RFC 3339 in whole seconds, UTC: the only time format the API uses in metadata.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn time_rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The characters the apiserver's name generator uses (no vowels, no look-alikes).
pub const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Five random characters of [`GENERATE_ALPHABET`]: `generateName` suffixes and the
/// `kube-api-access-xxxxx` volume names.
pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..5).map(|_| GENERATE_ALPHABET[rng.random_range(0..GENERATE_ALPHABET.len())] as char).collect()
}

/// `generateName` plus five random characters, as `names.SimpleNameGenerator` does.
pub fn generate_name(prefix: &str) -> String {
    // Long prefixes are cut so the name stays within 63 characters (on a character
    // boundary: a bad prefix is refused by validation, not by a panic here).
    let mut cut = prefix.len().min(63 - 5);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &prefix[..cut], random_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_keep_the_prefix_and_stay_short() {
        let n = generate_name("web-");
        assert!(n.starts_with("web-") && n.len() == 9);
        assert!(n[4..].bytes().all(|b| GENERATE_ALPHABET.contains(&b)));
        let long = format!("a{}", "é".repeat(40)); // byte 58 falls inside a character
        assert!(generate_name(&long).len() <= 63);
    }
}
