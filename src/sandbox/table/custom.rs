//! Tables of custom resources: the CRD's `additionalPrinterColumns`, as the apiextensions
//! server prints them — Name first, then the CRD's columns in order (by default just Age).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::age::age_since;
use super::columns::NAME_COLUMN;
use crate::sandbox::resources::PrinterColumn;

/// The column a CRD gets when it declares none.
pub fn default_columns() -> Vec<PrinterColumn> {
    vec![PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

pub fn column_definitions(columns: &[PrinterColumn]) -> Vec<Value> {
    let mut out = vec![NAME_COLUMN.to_json()];
    for c in columns {
        let description = if c.description.is_empty() {
            format!("Custom resource definition column (in JSONPath format): {}", c.json_path)
        } else {
            c.description.clone()
        };
        out.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": description, "priority": c.priority}));
    }
    out
}

pub fn cells(columns: &[PrinterColumn], obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut out = vec![obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
    for c in columns {
        let value = lookup(obj, &c.json_path);
        out.push(match (c.type_.as_str(), value) {
            (_, None) | (_, Some(Value::Null)) => Value::Null,
            ("date", Some(Value::String(t))) => json!(age_since(Some(t), now)),
            ("string", Some(Value::String(s))) => json!(s),
            ("string", Some(other)) => json!(other.to_string()),
            (_, Some(v)) => v.clone(),
        });
    }
    out
}

/// Evaluates a simple JSONPath (`.spec.author`, `.status.conditions[0].type`, with or without
/// `{}` around it).
pub fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('$');
    let mut current = obj;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (field, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !field.is_empty() {
            current = current.get(field)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let n: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(n)?;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, type_: &str, path: &str) -> PrinterColumn {
        PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: path.into(),
        }
    }

    #[test]
    fn p19_table_books() {
        let columns = vec![
            col("Author", "string", ".spec.author"),
            col("Title", "string", ".spec.title"),
            col("Copies", "integer", ".status.copies"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ];
        let defs = column_definitions(&columns);
        assert_eq!(
            defs[3],
            json!({"name": "Copies", "type": "integer", "format": "", "description": "Custom resource definition column (in JSONPath format): .status.copies", "priority": 0})
        );
        let now = DateTime::parse_from_rfc3339("2026-11-25T20:49:56Z").unwrap().with_timezone(&Utc);
        let dune = json!({"metadata": {"name": "dune", "creationTimestamp": "2026-11-25T20:49:56Z"}, "spec": {"author": "Frank Herbert", "title": "Dune"}, "status": {"copies": 3}});
        assert_eq!(cells(&columns, &dune, now), vec![json!("dune"), json!("Frank Herbert"), json!("Dune"), json!(3), json!("0s")]);
        let moby = json!({"metadata": {"name": "moby-dick", "creationTimestamp": "2026-11-25T20:49:56Z"}, "spec": {"author": "Herman Melville", "title": "Moby Dick"}});
        assert_eq!(cells(&columns, &moby, now)[3], Value::Null);
    }

    #[test]
    fn jsonpath_indices() {
        let obj = json!({"status": {"conditions": [{"type": "Ready"}]}});
        assert_eq!(lookup(&obj, "{.status.conditions[0].type}"), Some(&json!("Ready")));
        assert_eq!(lookup(&obj, ".status.conditions[3].type"), None);
    }
}
