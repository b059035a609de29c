//! Strategic merge patch: `kubectl patch` and client-side `kubectl apply` send it.
//!
//! It is a JSON merge patch that knows the schema: lists whose Go type says
//! `patchStrategy:"merge"` are merged item by item (containers by `name`), other lists are
//! replaced, and `$`-directives let a client say what plain JSON cannot: delete one list item
//! (`$patch: delete`), replace instead of merge (`$patch: replace`), keep only some keys
//! (`$retainKeys`), drop scalars from a merged list (`$deleteFromPrimitiveList/<list>`) and fix
//! the order of a merged list (`$setElementOrder/<list>`).

use serde_json::{Map, Value};

use super::list_semantics::{patch_strategy, PatchStrategy};
use crate::sandbox::status::ApiError;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// What a `$patch` directive asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

/// Reads `$patch` from a patch map; an unknown value is a 400 (the real server answers 500).
fn directive(patch: &Map<String, Value>) -> Result<Directive, ApiError> {
    match patch.get(PATCH) {
        None => Ok(Directive::Merge),
        Some(Value::String(s)) if s == "merge" => Ok(Directive::Merge),
        Some(Value::String(s)) if s == "replace" => Ok(Directive::Replace),
        Some(Value::String(s)) if s == "delete" => Ok(Directive::Delete),
        Some(other) => {
            let shown = other.as_str().map(str::to_string).unwrap_or_else(|| other.to_string());
            Err(ApiError::bad_request(format!("unknown patch type: {shown} in map: {}", go_map(patch))))
        }
    }
}

/// Go's `%v` of a `map[string]interface{}`, as the apiserver's message prints the patch.
fn go_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .map(|k| {
            let v = match &m[k] {
                Value::String(s) => s.clone(),
                Value::Object(o) => go_map(o),
                other => other.to_string(),
            };
            format!("{k}:{v}")
        })
        .collect();
    format!("map[{}]", parts.join(" "))
}

/// Applies `patch` to the object `target` of kind `kind`.
pub fn apply(kind: &str, target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request("strategic merge patch must be a JSON object"));
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(original) = target else { unreachable!("made an object above") };
    match merge_map(kind, &mut Vec::new(), original, patch)? {
        MapOutcome::Keep => Ok(()),
        MapOutcome::Delete => {
            original.clear();
            Ok(())
        }
    }
}

/// Whether the map survives its patch (`$patch: delete` removes it from its parent).
enum MapOutcome {
    Keep,
    Delete,
}

fn merge_map(
    kind: &str,
    path: &mut Vec<String>,
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<MapOutcome, ApiError> {
    match directive(patch)? {
        Directive::Delete => return Ok(MapOutcome::Delete),
        Directive::Replace => {
            *original = strip_directives(patch);
            return Ok(MapOutcome::Keep);
        }
        Directive::Merge => {}
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keep: Vec<&str> = retain.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        original.retain(|k, _| keep.contains(&k.as_str()));
    }
    // Deletions from primitive lists apply to the live list before the patch's own items merge.
    for (k, v) in patch {
        if let Some(list) = k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let drop: Vec<&Value> = v.as_array().map(|a| a.iter().collect()).unwrap_or_default();
            if let Some(Value::Array(items)) = original.get_mut(list) {
                items.retain(|item| !drop.contains(&item));
            }
        }
    }
    for (k, v) in patch {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            original.remove(k);
            continue;
        }
        path.push(k.clone());
        let result = merge_value(kind, path, original, k, v);
        path.pop();
        result?;
    }
    for (k, order) in patch {
        if let Some(list) = k.strip_prefix(SET_ELEMENT_ORDER) {
            path.push(list.to_string());
            let strategy = patch_strategy(kind, &path_refs(path));
            path.pop();
            if let (Some(Value::Array(items)), Some(order)) = (original.get_mut(list), order.as_array()) {
                reorder(items, order, strategy);
            }
        }
    }
    Ok(MapOutcome::Keep)
}

fn path_refs(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

/// Merges the patch value `v` into `original[k]`.
fn merge_value(kind: &str, path: &mut Vec<String>, original: &mut Map<String, Value>, k: &str, v: &Value) -> Result<(), ApiError> {
    match v {
        Value::Object(pm) => {
            let mut live = match original.remove(k) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            if let MapOutcome::Keep = merge_map(kind, path, &mut live, pm)? {
                original.insert(k.to_string(), Value::Object(live));
            }
        }
        Value::Array(items) => {
            let strategy = patch_strategy(kind, &path_refs(path));
            let live = match original.remove(k) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            let merged = merge_list(kind, path, live, items, strategy)?;
            original.insert(k.to_string(), Value::Array(merged));
        }
        scalar => {
            original.insert(k.to_string(), scalar.clone());
        }
    }
    Ok(())
}

fn merge_list(
    kind: &str,
    path: &mut Vec<String>,
    live: Vec<Value>,
    patch: &[Value],
    strategy: PatchStrategy,
) -> Result<Vec<Value>, ApiError> {
    // A `{"$patch": "replace"}` item turns any list into a replacement.
    let replace = patch.iter().any(|i| i.get(PATCH).and_then(Value::as_str) == Some("replace"));
    if replace || strategy == PatchStrategy::Replace {
        return Ok(patch
            .iter()
            .filter(|i| !(i.is_object() && i.get(PATCH).is_some() && i.as_object().is_some_and(|m| m.len() == 1)))
            .map(|i| match i {
                Value::Object(m) => Value::Object(strip_directives(m)),
                other => other.clone(),
            })
            .collect());
    }
    let mut out = live;
    match strategy {
        PatchStrategy::MergeSet => {
            for item in patch {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
        }
        PatchStrategy::MergeByKey(key) => {
            for item in patch {
                let Value::Object(pm) = item else {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                    continue;
                };
                let wanted = pm.get(key);
                let pos = wanted.and_then(|w| out.iter().position(|o| o.get(key) == Some(w)));
                if directive(pm)? == Directive::Delete {
                    if let Some(i) = pos {
                        out.remove(i);
                    }
                    continue;
                }
                match pos {
                    Some(i) => {
                        let Value::Object(live_item) = &mut out[i] else { unreachable!("matched by key") };
                        if let MapOutcome::Delete = merge_map(kind, path, live_item, pm)? {
                            out.remove(i);
                        }
                    }
                    None => {
                        let mut fresh = Map::new();
                        if let MapOutcome::Keep = merge_map(kind, path, &mut fresh, pm)? {
                            out.push(Value::Object(fresh));
                        }
                    }
                }
            }
        }
        PatchStrategy::Replace => unreachable!("handled above"),
    }
    Ok(out)
}

/// Puts the items named by `$setElementOrder` first, in that order; the others (present only
/// on the server) follow in their previous order.
fn reorder(items: &mut Vec<Value>, order: &[Value], strategy: PatchStrategy) {
    let identity = |item: &Value| -> Value {
        match strategy {
            PatchStrategy::MergeByKey(key) => item.get(key).cloned().unwrap_or(Value::Null),
            _ => item.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(identity).collect();
    let mut rest = std::mem::take(items);
    for w in &wanted {
        if let Some(i) = rest.iter().position(|item| identity(item) == *w) {
            items.push(rest.remove(i));
        }
    }
    items.extend(rest);
}

/// A patch map without its `$` keys, and without nulls (a null in a new map means nothing).
fn strip_directives(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| {
            let v = match v {
                Value::Object(inner) => Value::Object(strip_directives(inner)),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(kind: &str, mut target: Value, patch: Value) -> Value {
        apply(kind, &mut target, &patch).unwrap();
        target
    }

    #[test]
    fn p05_strategic_merge_containers_by_name() {
        // p05 strategic-merge-containers: only container "b" changes image; "a" is untouched.
        let live = json!({"spec": {"containers": [
            {"image": "nginx:1.28", "name": "a", "imagePullPolicy": "IfNotPresent"},
            {"command": ["sleep", "3600"], "image": "busybox:1.36", "name": "b", "imagePullPolicy": "IfNotPresent"}]}});
        let out = patched("Pod", live, json!({"spec": {"containers": [{"image": "busybox:1.37", "name": "b"}]}}));
        assert_eq!(
            out["spec"]["containers"],
            json!([{"image": "nginx:1.28", "name": "a", "imagePullPolicy": "IfNotPresent"},
                   {"command": ["sleep", "3600"], "image": "busybox:1.37", "name": "b", "imagePullPolicy": "IfNotPresent"}])
        );
    }

    #[test]
    fn p16_patch_image_in_template_keeps_ports() {
        let live = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        let out = patched(
            "Deployment",
            live,
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.28", "name": "nginx"}]}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx:1.28", "ports": [{"containerPort": 80, "protocol": "TCP"}]}])
        );
    }

    #[test]
    fn unkeyed_lists_are_replaced_and_null_deletes() {
        let live = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"tolerations": [{"key": "x"}], "containers": [{"name": "c", "command": ["a", "b"]}]}});
        let out = patched(
            "Pod",
            live,
            json!({"metadata": {"labels": {"a": null}}, "spec": {"tolerations": [{"key": "y"}], "containers": [{"name": "c", "command": ["z"]}]}}),
        );
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"b": "2"}}, "spec": {"tolerations": [{"key": "y"}], "containers": [{"name": "c", "command": ["z"]}]}})
        );
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let out = patched("ConfigMap", live.clone(), json!({"metadata": {"finalizers": ["b", "c"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let out = patched("ConfigMap", live, json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn directives() {
        let live = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "securityContext": {"runAsUser": 1, "fsGroup": 2}}});
        let out = patched("Pod", live.clone(), json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "b", "image": "y"}]));
        let out = patched("Pod", live.clone(), json!({"spec": {"containers": [{"name": "z", "image": "q"}, {"$patch": "replace"}]}}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "z", "image": "q"}]));
        let out = patched("Pod", live.clone(), json!({"spec": {"securityContext": {"$patch": "replace", "runAsUser": 5}}}));
        assert_eq!(out["spec"]["securityContext"], json!({"runAsUser": 5}));
        let out = patched("Pod", live.clone(), json!({"spec": {"securityContext": {"$patch": "delete"}}}));
        assert!(out["spec"].get("securityContext").is_none());
        let out = patched("Pod", live.clone(), json!({"spec": {"securityContext": {"$retainKeys": ["fsGroup"], "fsGroup": 3}}}));
        assert_eq!(out["spec"]["securityContext"], json!({"fsGroup": 3}));
        let out = patched(
            "Pod",
            live,
            json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "a", "image": "x2"}]}}),
        );
        assert_eq!(out["spec"]["containers"], json!([{"name": "b", "image": "y"}, {"name": "a", "image": "x2"}]));
    }

    #[test]
    fn unknown_directive_is_a_400() {
        let mut live = json!({"metadata": {"labels": {"a": "1"}}});
        let e = apply("Pod", &mut live, &json!({"metadata": {"labels": {"$patch": "explode"}}})).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(e.message, "unknown patch type: explode in map: map[$patch:explode]");
    }

    #[test]
    fn service_ports_merge_by_port() {
        let live = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}});
        let out = patched("Service", live, json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}));
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "targetPort": 9090, "protocol": "TCP"}, {"port": 443}]));
    }
}
