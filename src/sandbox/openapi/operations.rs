//! The REST operations of a resource, as OpenAPI paths describe them.
//!
//! Clients read more than schemas from the OpenAPI documents: `kubectl explain` finds the kind
//! of `pods` through the `x-kubernetes-group-version-kind` of an operation on
//! `/api/v1/namespaces/{namespace}/pods`; `kubectl apply` checks that a kind's PATCH accepts
//! `application/strategic-merge-patch+json`; and kubectl's validation trusts the server only
//! when that PATCH lists the `fieldValidation` query parameter. This module describes the
//! operations once, independently of the OpenAPI version; `v2` and `v3` render them.

use serde_json::{json, Value};

use crate::sandbox::resources::ResourceInfo;

/// A parameter, path or query.
pub struct Param {
    pub name: &'static str,
    pub location: &'static str,
    /// `string`, `boolean` or `integer`.
    pub type_: &'static str,
    pub description: &'static str,
    pub required: bool,
}

const fn query(name: &'static str, type_: &'static str, description: &'static str) -> Param {
    Param { name, location: "query", type_, description, required: false }
}

const PRETTY: Param = query("pretty", "string", "If 'true', the output is pretty printed.");
const LIST: &[Param] = &[
    query("allowWatchBookmarks", "boolean", "Ask the watch to send BOOKMARK events carrying the latest resourceVersion."),
    query("continue", "string", "The continue token of the previous page, to list the next one."),
    query("fieldSelector", "string", "Restrict the returned objects by their fields."),
    query("labelSelector", "string", "Restrict the returned objects by their labels."),
    query("limit", "integer", "The maximum number of objects in one page of the list."),
    query("resourceVersion", "string", "Which version of the collection to serve; see resourceVersionMatch."),
    query("resourceVersionMatch", "string", "How resourceVersion applies: Exact or NotOlderThan."),
    query("sendInitialEvents", "boolean", "Start a watch with synthetic ADDED events for the current objects."),
    query("timeoutSeconds", "integer", "Timeout of the list or watch call."),
    query("watch", "boolean", "Watch for changes instead of listing."),
];
const WRITE: &[Param] = &[
    query("dryRun", "string", "When All, validate and admit the request without persisting it."),
    query("fieldManager", "string", "The name of the actor making the change, recorded in managedFields."),
    query("fieldValidation", "string", "What to do with unknown or duplicate fields: Ignore, Warn or Strict."),
];
const FORCE: Param = query("force", "boolean", "Force an apply request to take over fields owned by other managers.");
const DELETE: &[Param] = &[
    query("dryRun", "string", "When All, validate the request without persisting it."),
    query("gracePeriodSeconds", "integer", "Seconds before the object is deleted; zero deletes at once."),
    query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    query("propagationPolicy", "string", "Whether and how dependents are garbage collected: Orphan, Background or Foreground."),
];

/// What a request carries.
pub enum Body {
    /// The object itself, by definition name.
    Object(String),
    /// A patch document; `strategic` when the kind supports strategic merge patches.
    Patch {
        strategic: bool,
    },
    DeleteOptions,
}

pub struct Operation {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    pub id: String,
    /// `x-kubernetes-action`.
    pub action: &'static str,
    pub gvk: Value,
    pub description: String,
    pub params: Vec<&'static Param>,
    pub body: Option<Body>,
    /// The definition of the answer.
    pub response: String,
    /// A create also answers 201 and 202.
    pub creates: bool,
    pub tag: String,
}

pub struct PathItem {
    pub path: String,
    pub path_params: Vec<Param>,
    pub operations: Vec<Operation>,
}

impl PathItem {
    /// The path item object, the same in Swagger 2 and OpenAPI 3; only how an operation
    /// and a parameter are written differs, so those are passed in.
    pub fn render(&self, operation: impl Fn(&Operation) -> Value, param: impl Fn(&Param) -> Value) -> Value {
        let mut m = serde_json::Map::new();
        for op in &self.operations {
            m.insert(op.method.into(), operation(op));
        }
        m.insert("parameters".into(), Value::Array(self.path_params.iter().map(param).collect()));
        Value::Object(m)
    }
}

/// Where a resource's schemas live in the document.
pub struct Names {
    pub kind: String,
    pub list: String,
    /// Built-ins take strategic merge patches; custom resources do not.
    pub strategic: bool,
}

/// `Core`, `Apps`, `RbacAuthorization`, `ExampleCom`: the group as operation ids spell it.
fn group_word(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split(['.', '-']).map(capitalise).collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The paths of one resource: its collection, its objects and its served subresources.
pub fn paths_for(r: &ResourceInfo, names: &Names) -> Vec<PathItem> {
    let prefix = if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
    let gv_word = format!("{}{}", group_word(&r.group), capitalise(&r.version));
    let gvk = json!({"group": r.group, "kind": r.kind, "version": r.version});
    let scoped = if r.namespaced { "Namespaced" } else { "" };
    let base = if r.namespaced { format!("{prefix}/namespaces/{{namespace}}/{}", r.plural) } else { format!("{prefix}/{}", r.plural) };
    let tag = format!("{}_{}", r.group.split('.').next().filter(|g| !g.is_empty()).unwrap_or("core"), r.version);
    let op = |method, action, verb: &str, which: &str, description: String, params: Vec<&'static Param>, body, response: &str| Operation {
        method,
        id: format!("{verb}{gv_word}{which}"),
        action,
        gvk: gvk.clone(),
        description,
        params,
        body,
        response: response.to_string(),
        creates: method == "post",
        tag: tag.clone(),
    };
    let with = |params: &'static [Param], extra: &[&'static Param]| -> Vec<&'static Param> {
        params.iter().chain(extra.iter().copied()).collect()
    };
    let status = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
    let mut out = Vec::new();

    let mut collection = Vec::new();
    if r.has_verb("list") {
        collection.push(op(
            "get",
            "list",
            "list",
            &format!("{scoped}{}", r.kind),
            format!("list or watch objects of kind {}", r.kind),
            with(LIST, &[&PRETTY]),
            None,
            &names.list,
        ));
    }
    if r.has_verb("create") {
        collection.push(op(
            "post",
            "post",
            "create",
            &format!("{scoped}{}", r.kind),
            format!("create a {}", r.kind),
            with(WRITE, &[&PRETTY]),
            Some(Body::Object(names.kind.clone())),
            &names.kind,
        ));
    }
    if r.has_verb("deletecollection") {
        let params = DELETE.iter().chain(LIST.iter()).chain([&PRETTY]).collect();
        collection.push(op(
            "delete",
            "deletecollection",
            "delete",
            &format!("Collection{scoped}{}", r.kind),
            format!("delete collection of {}", r.kind),
            params,
            Some(Body::DeleteOptions),
            status,
        ));
    }
    if !collection.is_empty() {
        out.push(PathItem { path: base.clone(), path_params: namespace_param(r), operations: collection });
    }

    let mut object = Vec::new();
    let which = format!("{scoped}{}", r.kind);
    if r.has_verb("get") {
        object.push(op("get", "get", "read", &which, format!("read the specified {}", r.kind), vec![&PRETTY], None, &names.kind));
    }
    if r.has_verb("update") {
        object.push(op(
            "put",
            "put",
            "replace",
            &which,
            format!("replace the specified {}", r.kind),
            with(WRITE, &[&PRETTY]),
            Some(Body::Object(names.kind.clone())),
            &names.kind,
        ));
    }
    if r.has_verb("patch") {
        object.push(op(
            "patch",
            "patch",
            "patch",
            &which,
            format!("partially update the specified {}", r.kind),
            with(WRITE, &[&FORCE, &PRETTY]),
            Some(Body::Patch { strategic: names.strategic }),
            &names.kind,
        ));
    }
    if r.has_verb("delete") {
        object.push(op(
            "delete",
            "delete",
            "delete",
            &which,
            format!("delete a {}", r.kind),
            with(DELETE, &[&PRETTY]),
            Some(Body::DeleteOptions),
            &names.kind,
        ));
    }
    if !object.is_empty() {
        out.push(PathItem { path: format!("{base}/{{name}}"), path_params: name_params(r), operations: object });
    }

    for sub in &r.subresources {
        let (schema, sub_gvk) = match sub.as_str() {
            "scale" => ("io.k8s.api.autoscaling.v1.Scale".to_string(), json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})),
            _ => (names.kind.clone(), gvk.clone()),
        };
        let which = format!("{scoped}{}{}", r.kind, capitalise(sub));
        let mut ops = Vec::new();
        let sub_op = |method, action, verb: &str, description: String, params, body| {
            let mut o = op(method, action, verb, &which, description, params, body, &schema);
            o.gvk = sub_gvk.clone();
            o
        };
        if sub != "finalize" {
            ops.push(sub_op("get", "get", "read", format!("read {sub} of the specified {}", r.kind), vec![&PRETTY], None));
            ops.push(sub_op(
                "patch",
                "patch",
                "patch",
                format!("partially update {sub} of the specified {}", r.kind),
                with(WRITE, &[&FORCE, &PRETTY]),
                Some(Body::Patch { strategic: names.strategic }),
            ));
        }
        ops.push(sub_op(
            "put",
            "put",
            "replace",
            format!("replace {sub} of the specified {}", r.kind),
            with(WRITE, &[&PRETTY]),
            Some(Body::Object(schema.clone())),
        ));
        out.push(PathItem { path: format!("{base}/{{name}}/{sub}"), path_params: name_params(r), operations: ops });
    }

    if r.namespaced && r.has_verb("list") {
        let list_all = op(
            "get",
            "list",
            "list",
            &format!("{}ForAllNamespaces", r.kind),
            format!("list or watch objects of kind {}", r.kind),
            with(LIST, &[&PRETTY]),
            None,
            &names.list,
        );
        out.push(PathItem { path: format!("{prefix}/{}", r.plural), path_params: vec![], operations: vec![list_all] });
    }
    out
}

fn namespace_param(r: &ResourceInfo) -> Vec<Param> {
    if r.namespaced {
        vec![Param {
            name: "namespace",
            location: "path",
            type_: "string",
            description: "object name and auth scope, such as for teams and projects",
            required: true,
        }]
    } else {
        vec![]
    }
}

fn name_params(r: &ResourceInfo) -> Vec<Param> {
    let mut params = vec![Param { name: "name", location: "path", type_: "string", description: "name of the object", required: true }];
    params.extend(namespace_param(r));
    params
}

/// The media types a PATCH accepts.
pub fn patch_types(strategic: bool) -> Vec<&'static str> {
    let mut types = vec!["application/json-patch+json", "application/merge-patch+json"];
    if strategic {
        types.push("application/strategic-merge-patch+json");
    }
    types.push("application/apply-patch+yaml");
    types
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::Catalogue;

    fn names(kind: &str) -> Names {
        Names { kind: format!("io.k8s.api.apps.v1.{kind}"), list: format!("io.k8s.api.apps.v1.{kind}List"), strategic: true }
    }

    #[test]
    fn deployment_has_namespaced_and_all_namespaces_paths_with_scale() {
        let c = Catalogue::default();
        let d = c.find("apps", "v1", "deployments").unwrap();
        let paths = paths_for(d, &names("Deployment"));
        let list: Vec<&str> = paths.iter().map(|p| p.path.as_str()).collect();
        assert!(list.contains(&"/apis/apps/v1/namespaces/{namespace}/deployments"));
        assert!(list.contains(&"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"));
        assert!(list.contains(&"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"));
        assert!(list.contains(&"/apis/apps/v1/deployments"));
        let object = paths.iter().find(|p| p.path.ends_with("deployments/{name}")).unwrap();
        let patch = object.operations.iter().find(|o| o.method == "patch").unwrap();
        assert_eq!(patch.id, "patchAppsV1NamespacedDeployment");
        assert!(patch.params.iter().any(|p| p.name == "fieldValidation"));
        let scale = paths.iter().find(|p| p.path.ends_with("/scale")).unwrap();
        assert_eq!(scale.operations[0].gvk["kind"], "Scale");
    }

    #[test]
    fn group_words_follow_operation_id_spelling() {
        assert_eq!(group_word(""), "Core");
        assert_eq!(group_word("rbac.authorization.k8s.io"), "RbacAuthorization");
        assert_eq!(group_word("example.com"), "ExampleCom");
    }
}
