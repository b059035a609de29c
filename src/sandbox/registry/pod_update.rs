//! What an update may change in a running pod. A pod is a record of something the kubelet
//! is running, so almost all of its spec is frozen: images, `activeDeadlineSeconds`, new
//! tolerations and a negative grace period becoming 1 are the exceptions. The refusal shows
//! a diff of what else changed, as the apiserver does.

use serde::Serialize;
use serde_json::{json, Value};

use crate::sandbox::status::FieldError;

/// The Forbidden text, word for word.
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn list<'a>(spec: &'a Value, key: &str) -> &'a [Value] {
    spec.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn without_seconds(t: &Value) -> Value {
    let mut t = t.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("tolerationSeconds");
    }
    t
}

/// `ValidatePodUpdate` for the main resource (metadata is checked by the caller).
pub fn validate_pod_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let (os, ns) = (old.get("spec").cloned().unwrap_or(json!({})), new.get("spec").cloned().unwrap_or(json!({})));
    let mut errs = Vec::new();
    for key in ["containers", "initContainers"] {
        if list(&os, key).len() != list(&ns, key).len() {
            errs.push(FieldError::forbidden(format!("spec.{key}"), "pod updates may not add or remove containers"));
            return errs;
        }
    }
    for key in ["containers", "initContainers"] {
        for (i, c) in list(&ns, key).iter().enumerate() {
            if c.get("image").and_then(Value::as_str).unwrap_or_default().trim().is_empty() {
                errs.push(FieldError::required(format!("spec.{key}[{i}].image"), ""));
            }
        }
    }
    let new_tolerations: Vec<Value> = list(&ns, "tolerations").iter().map(without_seconds).collect();
    if list(&os, "tolerations").iter().any(|t| !new_tolerations.contains(&without_seconds(t))) {
        errs.push(FieldError::forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"));
    }
    // the old spec with everything an update may change taken from the new one
    let mut munged = os.clone();
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = munged.get_mut(key) {
            for (c, n) in cs.iter_mut().zip(list(&ns, key)) {
                match n.get("image") {
                    Some(img) => c["image"] = img.clone(),
                    None => {
                        c.as_object_mut().map(|m| m.remove("image"));
                    }
                }
            }
        }
    }
    for key in ["activeDeadlineSeconds", "tolerations"] {
        match ns.get(key) {
            Some(v) => munged[key] = v.clone(),
            None => {
                munged.as_object_mut().map(|m| m.remove(key));
            }
        }
    }
    let old_grace = os.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && ns.get("terminationGracePeriodSeconds").and_then(Value::as_i64) == Some(1) {
        munged["terminationGracePeriodSeconds"] = json!(1);
    }
    if munged != ns {
        errs.push(FieldError::forbidden("spec", format!("{POD_UPDATE_FORBIDDEN}\n{}", unified_diff(&pretty(&munged), &pretty(&ns)))));
    }
    errs
}

/// JSON with one-space indentation, as Go's `json.MarshalIndent(v, "", " ")`.
fn pretty(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b" "));
    v.serialize(&mut ser).expect("a JSON value serializes");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Del,
    Add,
}

/// A unified diff (three lines of context) of two texts, line by line.
pub fn unified_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // longest common subsequence table, from the end
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    // the edit script: (op, line in a, line in b)
    let mut script: Vec<(Op, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            script.push((Op::Same, i, j));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // deletions first, as diff tools print them
            script.push((Op::Del, i, j));
            i += 1;
        } else {
            script.push((Op::Add, i, j));
            j += 1;
        }
    }
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = script.iter().enumerate().filter(|(_, s)| s.0 != Op::Same).map(|(k, _)| k).collect();
    let mut out = String::new();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * CONTEXT + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + CONTEXT + 1).min(script.len());
        let hunk = &script[start..end];
        let (a_start, b_start) = (hunk[0].1, hunk[0].2);
        let a_len = hunk.iter().filter(|s| s.0 != Op::Add).count();
        let b_len = hunk.iter().filter(|s| s.0 != Op::Del).count();
        out.push_str(&format!("@@ -{},{} +{},{} @@\n", a_start + 1, a_len, b_start + 1, b_len));
        for (op, ai, bi) in hunk {
            match op {
                Op::Same => out.push_str(&format!(" {}\n", a[*ai])),
                Op::Del => out.push_str(&format!("-{}\n", a[*ai])),
                Op::Add => out.push_str(&format!("+{}\n", b[*bi])),
            }
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    fn pod(restart: &str, image: &str, name: &str) -> Value {
        json!({"spec": {"containers": [{"name": name, "image": image}], "restartPolicy": restart, "tolerations": [{"key": "k", "operator": "Exists"}]}})
    }

    /// p03 `update-current-rv`: an image change is allowed.
    #[test]
    fn image_changes_are_allowed() {
        assert!(validate_pod_update(&pod("Always", "nginx:1.27", "app"), &pod("Always", "nginx:1.28", "app")).is_empty());
    }

    /// p03 `update-restartpolicy-forbidden`: the message and a diff of the change.
    #[test]
    fn restart_policy_change_is_forbidden_with_a_diff() {
        let errs = validate_pod_update(&pod("Always", "nginx:1.27", "app"), &pod("Never", "nginx:1.27", "app"));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
        let msg = ApiError::invalid("Pod", "web", &errs).message;
        assert!(msg.starts_with(&format!("Pod \"web\" is invalid: spec: Forbidden: {POD_UPDATE_FORBIDDEN}\n@@ -")));
        assert!(msg.contains("\n- \"restartPolicy\": \"Always\",\n+ \"restartPolicy\": \"Never\",\n"));
    }

    /// p05 `merge-patch-replaces-list`.
    #[test]
    fn adding_containers_is_forbidden() {
        let mut two = pod("Always", "a", "a");
        two["spec"]["containers"].as_array_mut().unwrap().push(json!({"name": "b", "image": "b"}));
        let errs = validate_pod_update(&two, &pod("Always", "a", "a"));
        assert_eq!(errs[0].to_message(), "spec.containers: Forbidden: pod updates may not add or remove containers");
    }

    #[test]
    fn tolerations_may_only_be_added() {
        let mut more = pod("Always", "a", "a");
        more["spec"]["tolerations"].as_array_mut().unwrap().push(json!({"key": "x", "operator": "Exists"}));
        assert!(validate_pod_update(&pod("Always", "a", "a"), &more).is_empty());
        let errs = validate_pod_update(&more, &pod("Always", "a", "a"));
        assert_eq!(
            errs[0].to_message(),
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
        );
    }

    #[test]
    fn diff_has_context_and_line_numbers() {
        let d = unified_diff("a\nb\nc\nd\ne\nf\ng\nh", "a\nb\nc\nd\nE\nf\ng\nh");
        assert_eq!(d, "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
    }
}
