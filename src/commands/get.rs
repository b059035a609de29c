//! `kubelab get <resource> [name] --trace`: the life of a request, for any resource.
//!
//! The path client-go's REST client takes — resolve the resource through discovery (the
//! RESTMapper), turn GroupVersionResource into a URL, encode ListOptions as query
//! parameters, send, pick a decoder — done step by step with kube's own pieces:
//! `kube::core::Request` builds the URL exactly as `Api<K>` would, and the body is decoded
//! into the k8s-openapi type when one is compiled in, else into `DynamicObject`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DynamicObject, GetParams, ListParams};
use kube::core::ObjectList;
use kube::Resource;

use super::kinds::{self, Served};
use super::{CommandError, Session};
use crate::cli::{GetArgs, Global, OutputFormat};
use crate::narrate;

/// How much of the body `--trace` shows.
const BODY_PREVIEW: usize = 300;

pub async fn run(global: &Global, args: &GetArgs) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    let detail = args.trace;

    s.n.step(format!("resolve {:?}: discovery, the RESTMapper's job", args.resource));
    let before = s.journal.len();
    let served = kinds::discover(&s.client).await.map_err(|e| s.explain(e))?;
    if detail {
        kinds::narrate_discovery(&s.n, &s.journal, before, false);
    } else {
        s.n.detail("requests", format!("{} (GET /api, GET /apis: aggregated discovery)", s.journal.len() - before));
    }
    let r = resolve(&served, &args.resource).ok_or_else(|| {
        CommandError::new(format!("the server doesn't have a resource type {:?}", args.resource))
            .hint("`kubelab kinds` lists what it serves")
    })?;
    s.n.detail("matched", format!("{} -> {} ({})", args.resource, r.plural, matched_by(r, &args.resource)));
    let group_label = if r.group.is_empty() { "core group".to_string() } else { format!("group {}", r.group) };
    s.n.detail("GVK", format!("{}, Kind={} ({group_label})", r.api_version(), r.kind));
    s.n.detail("GVR", format!("{}, Resource={}", r.api_version(), r.plural));
    s.n.detail("scope", if r.namespaced { "namespaced" } else { "cluster-wide" });

    let namespace = if r.namespaced && !args.all_namespaces { Some(s.client.default_namespace().to_string()) } else { None };
    let ar = r.api_resource();
    let url = DynamicObject::url_path(&ar, namespace.as_deref());
    let request = kube::core::Request::new(&url);

    s.n.step("REST path and query");
    s.n.detail("rule", if r.group.is_empty() { "core group -> /api/<version>" } else { "named group -> /apis/<group>/<version>" });
    let scope_rule = match (&namespace, r.namespaced) {
        (Some(ns), _) => format!("namespaced -> /namespaces/{ns}/{}", r.plural),
        (None, true) => format!("all namespaces -> /{}", r.plural),
        (None, false) => format!("cluster-wide -> /{}", r.plural),
    };
    s.n.detail("scope", scope_rule);
    if let Some(name) = &args.name {
        s.n.detail("verb", format!("get {name:?}: Request::get(name, &GetParams::default())"));
    } else {
        s.n.detail("verb", "list: Request::list(&ListParams)");
    }
    let http_request = build_request(&request, args)?;
    let query = http_request.uri().query().unwrap_or("");
    s.n.detail("path", http_request.uri().path());
    s.n.detail(
        "query",
        if query.is_empty() {
            "(none: default ListParams/GetParams add nothing)".to_string()
        } else {
            query.split('&').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
        },
    );
    s.n.note("Go: restClient.Get().Namespace(ns).Resource(plural).VersionedParams(&opts, scheme.ParameterCodec)");

    s.n.step("on the wire");
    let before = s.journal.len();
    let result = s.client.request_text(http_request).await;
    let ex = s.journal.since(before).pop().unwrap_or_default();
    s.n.request(&ex, detail);
    s.n.response(&ex, detail);
    if detail {
        let head = String::from_utf8_lossy(&ex.head);
        let preview: String = head.chars().take(BODY_PREVIEW).collect();
        let more = if ex.bytes > preview.len() { format!(" … ({} more bytes)", ex.bytes - preview.len()) } else { String::new() };
        s.n.detail("first bytes", format!("{preview}{more}"));
    }
    let body = result.map_err(|e| s.explain(e))?;

    s.n.step("decode");
    let items = decode(&mut s.n, r, args.name.is_some(), body.as_bytes())?;

    if args.raw {
        narrate::print_result(&format!("{body}\n"));
        return Ok(());
    }
    match s.n.output() {
        OutputFormat::Table => {
            if items.is_empty() {
                let place = namespace.as_deref().map_or(String::new(), |ns| format!(" in {ns} namespace"));
                eprintln!("No resources found{place}.");
                return Ok(());
            }
            // kubectl's columns are the server's: it asks for a meta.k8s.io Table and prints
            // the columns of priority 0 (`-o wide` adds the rest).
            s.n.step("columns: the server's Table, as kubectl asks for it");
            let mut table_request = build_request(&request, args)?;
            table_request.headers_mut().insert(http::header::ACCEPT, http::HeaderValue::from_static(TABLE_ACCEPT));
            s.n.detail("Accept", TABLE_ACCEPT);
            let before = s.journal.len();
            let result = s.client.request_text(table_request).await;
            let ex = s.journal.since(before).pop().unwrap_or_default();
            s.n.request(&ex, detail);
            s.n.response(&ex, detail);
            let table_body = result.map_err(|e| s.explain(e))?;
            let table: serde_json::Value =
                serde_json::from_str(&table_body).map_err(|e| CommandError::new(format!("the Table response is not JSON: {e}")))?;
            let (headers, rows) = server_columns(&table, namespace.is_none() && r.namespaced);
            s.n.detail("columns", headers.join(" "));
            let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
            narrate::print_result(&narrate::table(&headers, rows));
        }
        format => {
            let doc: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| CommandError::new(format!("the body is not JSON: {e}")))?;
            narrate::print_document(format, &doc);
        }
    }
    Ok(())
}

/// What kubectl sends to get rows instead of objects (falling back to the plain list).
const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// The list (or get) request, with the selectors and limit of the command line.
fn build_request(request: &kube::core::Request, args: &GetArgs) -> Result<http::Request<Vec<u8>>, CommandError> {
    match &args.name {
        Some(name) => request.get(name, &GetParams::default()),
        None => {
            let mut lp = ListParams::default();
            if let Some(l) = &args.selector {
                lp = lp.labels(l);
            }
            if let Some(f) = &args.field_selector {
                lp = lp.fields(f);
            }
            if let Some(limit) = args.limit {
                lp = lp.limit(limit);
            }
            request.list(&lp)
        }
    }
    .map_err(|e| CommandError::new(format!("cannot build the request: {e}")))
}

/// The headers and rows kubectl prints from a meta.k8s.io/v1 Table: the columns of priority
/// 0, upper-cased, and a NAMESPACE column first across namespaces (from each row's object).
fn server_columns(table: &serde_json::Value, with_namespace: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let definitions = table["columnDefinitions"].as_array().cloned().unwrap_or_default();
    let shown: Vec<usize> = (0..definitions.len()).filter(|&i| definitions[i]["priority"].as_i64().unwrap_or(0) == 0).collect();
    let mut headers: Vec<String> = shown.iter().map(|&i| definitions[i]["name"].as_str().unwrap_or("").to_ascii_uppercase()).collect();
    if with_namespace {
        headers.insert(0, "NAMESPACE".into());
    }
    let rows = table["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    let cells = row["cells"].as_array().cloned().unwrap_or_default();
                    let mut out: Vec<String> = shown.iter().map(|&i| cell_text(cells.get(i))).collect();
                    if with_namespace {
                        out.insert(0, row["object"]["metadata"]["namespace"].as_str().unwrap_or("").to_string());
                    }
                    out
                })
                .collect()
        })
        .unwrap_or_default();
    (headers, rows)
}

/// A cell as kubectl prints it: strings bare, null as `<none>`, numbers and booleans as JSON.
fn cell_text(cell: Option<&serde_json::Value>) -> String {
    match cell {
        Some(serde_json::Value::String(s)) => s.clone(),
        None | Some(serde_json::Value::Null) => "<none>".into(),
        Some(other) => other.to_string(),
    }
}

/// Finds the resource the way kubectl does: plural, singular, short name or kind, optionally
/// qualified as `plural.group` or `plural.version.group`; the preferred version wins.
pub fn resolve<'a>(served: &'a [Served], wanted: &str) -> Option<&'a Served> {
    let wanted_lower = wanted.to_ascii_lowercase();
    let matches_name = |r: &Served, name: &str| {
        r.plural == name || r.singular == name || r.short_names.iter().any(|s| s == name) || r.kind.to_ascii_lowercase() == name
    };
    let mut candidates: Vec<&Served> = served.iter().filter(|r| matches_name(r, &wanted_lower)).collect();
    if candidates.is_empty() {
        if let Some((name, rest)) = wanted_lower.split_once('.') {
            candidates = served
                .iter()
                .filter(|r| {
                    matches_name(r, name) && (r.group == rest || rest.split_once('.').is_some_and(|(v, g)| r.version == v && r.group == g))
                })
                .collect();
        }
    }
    // A bare name prefers the core group (kubectl's "events" is v1, not events.k8s.io),
    // then the group's preferred version.
    candidates.sort_by_key(|r| (!r.group.is_empty(), !r.preferred));
    candidates.first().copied()
}

fn matched_by(r: &Served, wanted: &str) -> &'static str {
    let w = wanted.to_ascii_lowercase();
    let name = w.split('.').next().unwrap_or(&w);
    if r.plural == name {
        "plural"
    } else if r.singular == name {
        "singular"
    } else if r.short_names.iter().any(|s| s == name) {
        "short name"
    } else {
        "kind"
    }
}

/// Picks the decoder: the compiled-in k8s-openapi type if the scheme has one, else
/// `DynamicObject`; narrates which, and what came out.
fn decode(n: &mut narrate::Narrator, r: &Served, one: bool, body: &[u8]) -> Result<Vec<ObjectMeta>, CommandError> {
    let bad = |e: serde_json::Error| CommandError::new(format!("cannot decode the response: {e}"));
    match r.known() {
        Some(k) => {
            let ty = if one { k.rust_type.to_string() } else { format!("kube::core::ObjectList<{}>", k.rust_type) };
            n.detail("decoder", "serde_json, into the k8s-openapi type the scheme registers for this GVK");
            n.detail("Rust type", ty);
            let items = if one { vec![(k.decode_one)(body).map_err(bad)?] } else { (k.decode_list)(body).map_err(bad)? };
            n.detail("items", items.len());
            Ok(items)
        }
        None => {
            let ty = if one { "kube::api::DynamicObject" } else { "kube::core::ObjectList<kube::api::DynamicObject>" };
            n.detail(
                "decoder",
                "serde_json, into DynamicObject (no Rust type for this kind: metadata typed, the rest a serde_json::Value)",
            );
            n.detail("Rust type", ty);
            n.note("Go: the dynamic client's unstructured.Unstructured plays this part.");
            let items = if one {
                vec![serde_json::from_slice::<DynamicObject>(body).map_err(bad)?.metadata]
            } else {
                serde_json::from_slice::<ObjectList<DynamicObject>>(body).map_err(bad)?.items.into_iter().map(|o| o.metadata).collect()
            };
            n.detail("items", items.len());
            Ok(items)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(group: &str, version: &str, kind: &str, plural: &str, short: &[&str], preferred: bool) -> Served {
        Served {
            group: group.into(),
            version: version.into(),
            preferred,
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced: true,
            verbs: vec![],
        }
    }

    #[test]
    fn resolves_like_kubectl() {
        let all = vec![
            served("", "v1", "Event", "events", &["ev"], true),
            served("events.k8s.io", "v1", "Event", "events", &["ev"], true),
            served("apps", "v1", "Deployment", "deployments", &["deploy"], true),
            served("example.com", "v2", "Widget", "widgets", &[], true),
            served("example.com", "v1", "Widget", "widgets", &[], false),
        ];
        assert_eq!(resolve(&all, "events").unwrap().group, "");
        assert_eq!(resolve(&all, "events.events.k8s.io").unwrap().group, "events.k8s.io");
        assert_eq!(resolve(&all, "deploy").unwrap().kind, "Deployment");
        assert_eq!(resolve(&all, "Deployment").unwrap().plural, "deployments");
        assert_eq!(resolve(&all, "widgets").unwrap().version, "v2");
        assert_eq!(resolve(&all, "widgets.v1.example.com").unwrap().version, "v1");
        assert!(resolve(&all, "gadgets").is_none());
    }

    #[test]
    fn server_columns_keep_priority_zero_and_add_the_namespace() {
        let table = serde_json::json!({
            "columnDefinitions": [
                {"name": "Name", "priority": 0}, {"name": "Ready", "priority": 0},
                {"name": "IP", "priority": 1}, {"name": "Restarts", "priority": 0}
            ],
            "rows": [
                {"cells": ["web", "1/1", "10.0.0.1", 0], "object": {"metadata": {"namespace": "default"}}},
                {"cells": ["db", null], "object": {"metadata": {"namespace": "data"}}}
            ]
        });
        let (headers, rows) = server_columns(&table, false);
        assert_eq!(headers, ["NAME", "READY", "RESTARTS"]);
        assert_eq!(rows, [vec!["web", "1/1", "0"], vec!["db", "<none>", "<none>"]]);
        let (headers, rows) = server_columns(&table, true);
        assert_eq!(headers, ["NAMESPACE", "NAME", "READY", "RESTARTS"]);
        assert_eq!(rows[1][0], "data");
    }
}
