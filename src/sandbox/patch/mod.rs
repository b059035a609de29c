//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.
//!
//! The three are chosen by the request's Content-Type (`application/merge-patch+json`,
//! `application/json-patch+json`, `application/strategic-merge-patch+json`); server-side apply
//! (`application/apply-patch+yaml`) lives with managedFields, since it is about ownership.

pub mod list_semantics;
mod strategic;

use serde_json::{json, Value};

use super::registry::decode::go_json_type;
use super::resources::ResourceInfo;
use super::status::ApiError;

/// RFC 7386: objects merge key by key, `null` deletes a key, anything else (lists included)
/// replaces. Cannot fail: every JSON value is a valid merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// The apiserver's answer to a JSON patch that does not apply (a failed `test`, a path that
/// does not exist): a 422 with no causes, whatever the operation was.
fn json_patch_rejected() -> ApiError {
    ApiError::new(422, "Invalid", "the server rejected our request due to an error in our request").with_details(json!({}))
}

/// RFC 6902: a list of operations applied in order, all or nothing. As the apiserver's
/// `jsonpatch.DecodePatch` + `Apply`: a body that is not a list of objects is a 400; an
/// operation that cannot be applied (an unknown `op`, a missing `path` or `value`, a
/// failed `test`) is the 422 of a patch that does not apply.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Value::Array(items) = patch else {
        return Err(ApiError::bad_request(format!("json: cannot unmarshal {} into Go value of type jsonpatch.Patch", go_json_type(patch))));
    };
    if let Some(item) = items.iter().find(|i| !i.is_object() && !i.is_null()) {
        return Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            go_json_type(item)
        )));
    }
    let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|_| json_patch_rejected())?;
    json_patch::patch(target, &ops).map_err(|_| json_patch_rejected())
}

/// Strategic merge patch, with the list semantics of `res`'s kind. Custom resources have no Go
/// struct tags to merge by, so the apiserver refuses the media type for them (415).
pub fn strategic_merge_patch(res: &ResourceInfo, target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    if res.schema.is_some() {
        return Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    strategic::apply(&res.kind, target, patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtins;

    #[test]
    fn p05_merge_patch_labels() {
        let mut pod = json!({"metadata": {"labels": {"app": "pp"}, "name": "pp"}});
        merge_patch(&mut pod, &json!({"metadata": {"labels": {"app": null, "env": "dev"}}}));
        assert_eq!(pod["metadata"]["labels"], json!({"env": "dev"}));
    }

    #[test]
    fn p05_merge_patch_replaces_list() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:1.28"}, {"name": "b", "image": "busybox:1.37"}]}});
        merge_patch(&mut pod, &json!({"spec": {"containers": [{"image": "nginx:1.29", "name": "a"}]}}));
        assert_eq!(pod["spec"]["containers"], json!([{"image": "nginx:1.29", "name": "a"}]));
    }

    #[test]
    fn p05_json_patch_add_annotation_and_replace_image() {
        let mut pod = json!({"metadata": {"labels": {"env": "dev"}}, "spec": {"containers": [{"image": "nginx:1.27", "name": "a"}]}});
        json_patch(
            &mut pod,
            &json!([{"op": "add", "path": "/metadata/annotations", "value": {"note": "hello"}}, {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.28"}]),
        )
        .unwrap();
        assert_eq!(pod["metadata"]["annotations"], json!({"note": "hello"}));
        assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.28");
    }

    #[test]
    fn p05_json_patch_test_fails() {
        let mut pod = json!({"metadata": {"labels": {"env": "dev"}}});
        let before = pod.clone();
        let e = json_patch(&mut pod, &json!([{"op": "test", "path": "/metadata/labels/env", "value": "prod"}])).unwrap_err();
        assert_eq!(
            e.to_status(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "the server rejected our request due to an error in our request", "reason": "Invalid", "details": {}, "code": 422})
        );
        assert_eq!(pod, before);
        assert_eq!(json_patch(&mut pod, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err().code, 422);
        assert_eq!(json_patch(&mut pod, &json!({"op": "remove"})).unwrap_err().code, 400);
    }

    #[test]
    fn strategic_is_refused_for_custom_resources() {
        let mut book = builtins().into_iter().find(|r| r.plural == "configmaps").unwrap();
        book.schema = Some(json!({"type": "object"}));
        let e = strategic_merge_patch(&book, &mut json!({}), &json!({})).unwrap_err();
        assert_eq!(e.code, 415);
    }
}
