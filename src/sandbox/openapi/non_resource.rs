//! The discovery endpoints as OpenAPI describes them: `/openapi/v3/api`, `/openapi/v3/apis`,
//! `/openapi/v3/apis/<group>` and `/openapi/v3/version`.
//!
//! kube-apiserver publishes a document for every path prefix it serves, not only for
//! group-versions: the `/openapi/v3` index lists them all, and clients that walk the index
//! (kubectl's OpenAPI v3 client caches every entry) expect each one to answer. Each document
//! has one `GET` and the meta/v1 (or version) type it returns.

use super::operations::{Operation, PathItem};

/// A discovery document the sandbox serves, as `/openapi/v3/<key>` names it.
pub struct Endpoint {
    /// `api`, `apis`, `apis/<group>` or `version`.
    pub key: String,
    /// The request path (`/apis/apps/`).
    pub path: String,
    pub operation_id: String,
    pub description: &'static str,
    pub tag: String,
    /// Definition name of the answer.
    pub response: &'static str,
}

/// The definitions the discovery endpoints answer with.
pub const ROOTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
    "io.k8s.apimachinery.pkg.version.Info",
];

/// `rbac.authorization.k8s.io` -> `RbacAuthorization`: the group as upstream's operation ids
/// spell it in `get<Group>APIGroup`.
fn group_word(group: &str) -> String {
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed
        .split(['.', '-'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// The discovery endpoints of a server serving `groups` (core excluded).
pub fn endpoints<'a>(groups: impl IntoIterator<Item = &'a str>) -> Vec<Endpoint> {
    let mut out = vec![
        Endpoint {
            key: "api".into(),
            path: "/api/".into(),
            operation_id: "getCoreAPIVersions".into(),
            description: "get available API versions",
            tag: "core".into(),
            response: ROOTS[0],
        },
        Endpoint {
            key: "apis".into(),
            path: "/apis/".into(),
            operation_id: "getAPIVersions".into(),
            description: "get available API versions",
            tag: "apis".into(),
            response: ROOTS[1],
        },
        Endpoint {
            key: "version".into(),
            path: "/version/".into(),
            operation_id: "getCodeVersion".into(),
            description: "get the version information for this server",
            tag: "version".into(),
            response: ROOTS[3],
        },
    ];
    for group in groups {
        out.push(Endpoint {
            key: format!("apis/{group}"),
            path: format!("/apis/{group}/"),
            operation_id: format!("get{}APIGroup", group_word(group)),
            description: "get information of a group",
            tag: group.split('.').next().unwrap_or(group).to_string(),
            response: ROOTS[2],
        });
    }
    out
}

impl Endpoint {
    /// The path item of the endpoint: one `GET`, without parameters.
    pub fn path_item(&self) -> PathItem {
        let get = Operation {
            method: "get",
            id: self.operation_id.clone(),
            action: "",
            gvk: serde_json::Value::Null,
            description: self.description.to_string(),
            params: vec![],
            body: None,
            response: self.response.to_string(),
            creates: false,
            tag: self.tag.clone(),
        };
        PathItem { path: self.path.clone(), path_params: vec![], operations: vec![get] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_spell_the_group_like_upstream() {
        let eps = endpoints(["rbac.authorization.k8s.io", "flowcontrol.apiserver.k8s.io", "apps"]);
        let ids: Vec<&str> = eps.iter().map(|e| e.operation_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "getCoreAPIVersions",
                "getAPIVersions",
                "getCodeVersion",
                "getRbacAuthorizationAPIGroup",
                "getFlowcontrolApiserverAPIGroup",
                "getAppsAPIGroup"
            ]
        );
        assert_eq!(eps[3].path, "/apis/rbac.authorization.k8s.io/");
    }
}
