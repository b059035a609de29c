//! `field.Path` rendering, as the schema's errors spell their paths: `.child`, `[key]`.

/// `path.Child(name)`: `name` alone at the root.
pub fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path.Key(k)`.
pub fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}
