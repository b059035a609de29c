//! `kubelab list-nodes`: the first program of every client-go tutorial, with each layer it
//! passes through made visible.
//!
//! Go: `clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})`; Rust:
//! `Api::<Node>::all(client).list(&ListParams::default())`. Both end in one
//! `GET /api/v1/nodes` whose JSON is decoded into a typed `NodeList`.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use serde_json::json;

use super::{CommandError, Session};
use crate::cli::{Global, OutputFormat};
use crate::narrate;

pub async fn run(global: &Global) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    let nodes: Api<Node> = Api::all(s.client.clone());

    s.n.step("request: Api::<Node>::all(client).list(&ListParams::default())");
    s.n.note("Go: clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})");
    let before = s.journal.len();
    let result = nodes.list(&ListParams::default()).await;
    let exchange = s.journal.since(before).pop();
    if let Some(ex) = &exchange {
        s.n.request(ex, false);
    }
    let list = result.map_err(|e| s.explain(e))?;
    let ex = exchange.unwrap_or_default();

    s.n.step("response");
    s.n.response(&ex, false);
    s.n.detail("kind", top_level_kind(&ex.head).unwrap_or_else(|| "?".into()));
    s.n.detail("resourceVersion", list.metadata.resource_version.as_deref().unwrap_or("(none)"));

    s.n.step(format!("decoded by serde into kube::core::ObjectList<{}>", super::kinds::public_path(std::any::type_name::<Node>())));
    s.n.detail("items", list.items.len());
    s.n.note("Go: the same JSON is decoded into a *v1.NodeList; list.Items is a []v1.Node, here a Vec<Node>.");

    match s.n.output() {
        OutputFormat::Table => {
            let rows = list
                .items
                .iter()
                .map(|node| {
                    let info = node.status.as_ref().and_then(|st| st.node_info.as_ref());
                    vec![
                        node.metadata.name.clone().unwrap_or_default(),
                        info.map(|i| i.architecture.clone()).unwrap_or_default(),
                        info.map(|i| i.operating_system.clone()).unwrap_or_default(),
                    ]
                })
                .collect();
            narrate::print_result(&narrate::table(&["NAME", "ARCH", "OS"], rows));
        }
        format => {
            let items: Vec<serde_json::Value> = list.items.iter().map(|n| serde_json::to_value(n).unwrap_or_default()).collect();
            let doc = json!({"apiVersion": "v1", "kind": "NodeList", "metadata": list.metadata, "items": items});
            narrate::print_document(format, &doc);
        }
    }
    Ok(())
}

/// The `kind` of the document, read from the first bytes seen on the wire (the server
/// writes it first), before any typed decoding.
pub fn top_level_kind(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let start = text.find("\"kind\":")? + "\"kind\":".len();
    let rest = text[start..].trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn kind_is_read_from_the_head_of_the_body() {
        assert_eq!(super::top_level_kind(br#"{"kind":"NodeList","apiVersion":"v1","items":["#).as_deref(), Some("NodeList"));
        assert_eq!(super::top_level_kind(b"{\"items\":"), None);
    }
}
