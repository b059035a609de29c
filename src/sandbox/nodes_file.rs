//! `kubelab sandbox start --nodes FILE`: the Node manifests a new sandbox is seeded with,
//! as YAML (or JSON) documents, each a Node or a List of them, written as a user would
//! write them for `kubectl apply` (capacity, labels, taints, addresses, nodeInfo kept).

use std::path::Path;

use serde_json::Value;

use super::SandboxError;

/// The Nodes in `file`, in order.
pub fn load(file: &Path) -> Result<Vec<Value>, SandboxError> {
    let text = std::fs::read_to_string(file).map_err(|e| SandboxError::Nodes(format!("cannot read {}: {e}", file.display())))?;
    parse(&text).map_err(|e| SandboxError::Nodes(format!("{}: {e}", file.display())))
}

/// Parses the documents of a nodes file.
pub fn parse(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut nodes = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        match kind.as_str() {
            "List" | "NodeList" => {
                for item in doc.get("items").and_then(Value::as_array).cloned().unwrap_or_default() {
                    nodes.push(node(item)?);
                }
            }
            _ => nodes.push(node(doc)?),
        }
    }
    if nodes.is_empty() {
        return Err("no Node in it".into());
    }
    Ok(nodes)
}

fn node(doc: Value) -> Result<Value, String> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != "Node" {
        return Err(format!("expected kind Node, found {:?}", kind));
    }
    if doc.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("a Node without metadata.name".into());
    }
    let mut doc = doc;
    if doc.get("apiVersion").is_none() {
        doc["apiVersion"] = Value::from("v1");
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_lists() {
        let text = "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  labels: {disk: ssd}\nspec:\n  taints: [{key: k, effect: NoSchedule}]\n---\nkind: List\nitems:\n- kind: Node\n  metadata: {name: b}\n";
        let nodes = parse(text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0]["metadata"]["labels"]["disk"], "ssd");
        assert_eq!(nodes[0]["spec"]["taints"][0]["effect"], "NoSchedule");
        assert_eq!(nodes[1]["apiVersion"], "v1");
    }

    #[test]
    fn refusals() {
        for (text, message) in [
            ("kind: Pod\nmetadata: {name: p}\n", "expected kind Node, found \"Pod\""),
            ("kind: Node\nmetadata: {}\n", "a Node without metadata.name"),
            ("", "no Node in it"),
            ("kind: [", "not YAML"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with(message), "{text:?}: {err}");
        }
    }
}
