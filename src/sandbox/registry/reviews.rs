//! The identity and access reviews: creates that are answered, never stored
//! (`pkg/registry/authentication/{selfsubjectreview,tokenreview}`,
//! `pkg/registry/authorization/*`). `kubectl auth whoami` asks a SelfSubjectReview who it
//! is; `kubectl auth can-i` asks a SelfSubjectAccessReview whether it may; a webhook or an
//! aggregated server asks a TokenReview whose a token is.
//!
//! The sandbox has one authenticated user: its admin, whose bearer token is in the
//! kubeconfig, in `system:masters`. Its authorizer is the one kube-apiserver puts first,
//! the privileged-group check: `system:masters` may do anything; nobody else is allowed
//! (RBAC objects are stored but not enforced). The reviews answer by that rule.

use serde_json::{json, Value};

use super::strategy::Strategy;
use crate::sandbox::authenticator::{TokenAuthenticator, INVALID_TOKEN};
pub use crate::sandbox::authenticator::{ADMIN_GROUPS, ADMIN_USER};
use crate::sandbox::oidc::ISSUER;
use crate::sandbox::status::{ApiError, FieldError};

/// The kinds answered here, by group.
pub fn is_review(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("authentication.k8s.io", "SelfSubjectReview" | "TokenReview")
            | (
                "authorization.k8s.io",
                "SelfSubjectAccessReview" | "SelfSubjectRulesReview" | "SubjectAccessReview" | "LocalSubjectAccessReview"
            )
    )
}

/// `authorizationutil.BuildStatus` for the privileged-group authorizer: allowed, or no
/// opinion (which denies nothing explicitly: `allowed` false, no `denied`).
fn decision(groups: &[&str]) -> Value {
    if groups.contains(&"system:masters") {
        json!({"allowed": true})
    } else {
        json!({"allowed": false})
    }
}

/// What the RBAC rule resolver lists for the admin (`RulesFor`): `cluster-admin`, bound to
/// `system:masters`, then the roles bootstrap policy binds to every authenticated user
/// (`system:basic-user`, `system:discovery`, `system:public-info-viewer`). What
/// `kubectl auth can-i --list` prints.
fn admin_rules() -> Value {
    let urls = |verbs: &[&str], urls: &[&str]| json!({"verbs": verbs, "nonResourceURLs": urls});
    json!({
        "resourceRules": [
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
            {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
        ],
        "nonResourceRules": [
            urls(&["*"], &["*"]),
            urls(&["get"], &["/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"]),
            urls(&["get"], &["/livez", "/readyz", "/healthz", "/version", "/version/"]),
        ],
        "incomplete": false,
    })
}

/// The spec rules shared by the access reviews (`ValidateSubjectAccessReviewSpec` and
/// its self variant): exactly one kind of attributes.
fn attribute_errors(spec: &Value) -> Vec<FieldError> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, non_resource) {
        (Some(_), Some(n)) => {
            vec![FieldError::invalid("spec.nonResourceAttributes", n, "cannot be specified in combination with resourceAttributes")]
        }
        (None, None) => vec![FieldError::invalid(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )],
        _ => Vec::new(),
    }
}

/// Metadata a review may carry: none (a namespace for the local review).
fn metadata_is_empty(obj: &Value, allow_namespace: bool) -> bool {
    obj.get("metadata").and_then(Value::as_object).is_none_or(|m| {
        m.iter().all(|(k, v)| v.is_null() || (allow_namespace && k == "namespace") || (k == "creationTimestamp" && v.is_null()))
    })
}

fn invalid(kind: &str, errs: Vec<FieldError>) -> Result<Value, ApiError> {
    Err(ApiError::invalid(&format!("{kind}.authorization.k8s.io"), "", &errs))
}

/// What a review answers: the request as sent, with its status.
fn answered(obj: &Value, status: Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.as_object_mut() {
        // as Go re-encodes an ObjectMeta: a zero creationTimestamp is `null`
        if let Some(meta) = m.entry("metadata").or_insert_with(|| json!({})).as_object_mut() {
            meta.entry("creationTimestamp").or_insert(Value::Null);
        }
        m.insert("status".into(), status);
    }
    out
}

/// TokenReview's `Create`: the token as a request's bearer token, asked for the audiences
/// of the review (the API's own, the issuer, when it names none). The admin token is
/// audience-agnostic, so it answers only for the API's audience (`WrapAudienceAgnosticToken`).
fn token_review(obj: &Value, spec: &Value, auth: Option<&TokenAuthenticator>) -> Result<Value, ApiError> {
    if let Some(ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        return Err(ApiError::bad_request(format!("namespace is not allowed on this type: {ns}")));
    }
    let token = spec.get("token").and_then(Value::as_str).unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::bad_request("token is required for TokenReview in authentication"));
    }
    // Without an authenticator the review comes back as it was sent.
    let Some(auth) = auth else { return Ok(obj.clone()) };
    let asked: Vec<&str> = spec.get("audiences").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let audiences: Vec<&str> = if asked.is_empty() { vec![ISSUER] } else { asked.into_iter().filter(|a| *a == ISSUER).collect() };
    let status = match auth.authenticate(token.as_bytes()).filter(|_| !audiences.is_empty()) {
        Some(user) => json!({
            "authenticated": true,
            "user": {"username": user.username, "groups": user.groups},
            "audiences": audiences,
        }),
        None => json!({"user": {}, "error": INVALID_TOKEN}),
    };
    Ok(answered(obj, status))
}

/// The review strategies, one per kind.
pub enum ReviewStrategy {
    SelfSubject,
    Token,
    SelfSubjectAccess,
    SelfSubjectRules,
    SubjectAccess,
    LocalSubjectAccess,
}

impl ReviewStrategy {
    pub fn for_kind(kind: &str) -> Option<ReviewStrategy> {
        Some(match kind {
            "SelfSubjectReview" => ReviewStrategy::SelfSubject,
            "TokenReview" => ReviewStrategy::Token,
            "SelfSubjectAccessReview" => ReviewStrategy::SelfSubjectAccess,
            "SelfSubjectRulesReview" => ReviewStrategy::SelfSubjectRules,
            "SubjectAccessReview" => ReviewStrategy::SubjectAccess,
            "LocalSubjectAccessReview" => ReviewStrategy::LocalSubjectAccess,
            _ => return None,
        })
    }
}

impl Strategy for ReviewStrategy {
    fn answer_create(&self, obj: &Value, auth: Option<&TokenAuthenticator>) -> Option<Result<Value, ApiError>> {
        let spec = obj.get("spec").cloned().unwrap_or(json!({}));
        Some(match self {
            ReviewStrategy::Token => token_review(obj, &spec, auth),
            ReviewStrategy::SelfSubject => {
                let mut out = obj.clone();
                if let Some(m) = out.as_object_mut() {
                    m.insert("metadata".into(), json!({"creationTimestamp": crate::sandbox::meta::now_rfc3339()}));
                    m.insert("status".into(), json!({"userInfo": {"username": ADMIN_USER, "groups": ADMIN_GROUPS}}));
                }
                Ok(out)
            }
            ReviewStrategy::SelfSubjectAccess => {
                let mut errs = attribute_errors(&spec);
                if !metadata_is_empty(obj, false) {
                    errs.push(FieldError::invalid("metadata", obj.get("metadata").unwrap_or(&Value::Null), "must be empty"));
                }
                if !errs.is_empty() {
                    return Some(invalid("SelfSubjectAccessReview", errs));
                }
                Ok(answered(obj, decision(ADMIN_GROUPS)))
            }
            ReviewStrategy::SelfSubjectRules => {
                if spec.get("namespace").and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Some(Err(ApiError::bad_request("no namespace on request")));
                }
                Ok(json!({
                    "kind": "SelfSubjectRulesReview",
                    "apiVersion": "authorization.k8s.io/v1",
                    "metadata": {"creationTimestamp": null},
                    "spec": {},
                    "status": admin_rules(),
                }))
            }
            ReviewStrategy::SubjectAccess | ReviewStrategy::LocalSubjectAccess => {
                let local = matches!(self, ReviewStrategy::LocalSubjectAccess);
                let kind = if local { "LocalSubjectAccessReview" } else { "SubjectAccessReview" };
                let mut errs = attribute_errors(&spec);
                let user = spec.get("user").and_then(Value::as_str).unwrap_or_default();
                let groups: Vec<&str> =
                    spec.get("groups").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                if user.is_empty() && groups.is_empty() {
                    errs.push(FieldError::invalid("spec.user", &json!(user), "at least one of user or group must be specified"));
                }
                if !metadata_is_empty(obj, local) {
                    let detail = if local { "must be empty except for namespace" } else { "must be empty" };
                    errs.push(FieldError::invalid("metadata", obj.get("metadata").unwrap_or(&Value::Null), detail));
                }
                if local {
                    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
                    if let Some(attrs) = spec.get("resourceAttributes").filter(|a| a.is_object()) {
                        let asked = attrs.get("namespace").and_then(Value::as_str).unwrap_or_default();
                        if asked != ns {
                            errs.push(FieldError::invalid(
                                "spec.resourceAttributes.namespace",
                                &json!(asked),
                                "must match metadata.namespace",
                            ));
                        }
                    }
                    if let Some(n) = spec.get("nonResourceAttributes").filter(|n| !n.is_null()) {
                        errs.push(FieldError::invalid("spec.nonResourceAttributes", n, "disallowed on this kind of request"));
                    }
                }
                if !errs.is_empty() {
                    return Some(invalid(kind, errs));
                }
                Ok(answered(obj, decision(&groups)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(s: ReviewStrategy, obj: Value) -> Result<Value, ApiError> {
        s.answer_create(&obj, None).expect("reviews are answered")
    }

    #[test]
    fn token_reviews_answer_for_the_admin_token_and_the_apis_audience() {
        let auth = TokenAuthenticator::new("s3cret".into());
        let review = |spec: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
        let ask = |spec: Value| ReviewStrategy::Token.answer_create(&review(spec), Some(&auth)).unwrap();
        let admin = json!({"username": ADMIN_USER, "groups": ADMIN_GROUPS});
        let cases = [
            (json!({"token": "s3cret"}), json!({"authenticated": true, "user": admin, "audiences": [ISSUER]})),
            (
                json!({"token": "s3cret", "audiences": [ISSUER, "vault"]}),
                json!({"authenticated": true, "user": admin, "audiences": [ISSUER]}),
            ),
            (json!({"token": "s3cret", "audiences": ["vault"]}), json!({"user": {}, "error": "invalid bearer token"})),
            (json!({"token": "abc"}), json!({"user": {}, "error": "invalid bearer token"})),
        ];
        for (spec, want) in cases {
            let out = ask(spec.clone()).unwrap();
            assert_eq!(out["status"], want, "{spec}");
            assert_eq!(out["spec"], spec, "the spec comes back as sent");
            assert_eq!(out["metadata"], json!({"creationTimestamp": null}));
        }
        assert_eq!(ask(json!({})).unwrap_err().message, "token is required for TokenReview in authentication");
        let namespaced = json!({"kind": "TokenReview", "metadata": {"namespace": "x"}, "spec": {"token": "s3cret"}});
        let err = ReviewStrategy::Token.answer_create(&namespaced, Some(&auth)).unwrap().unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (400, "namespace is not allowed on this type: x"));
    }

    #[test]
    fn self_subject_review_names_the_admin() {
        let out =
            answer(ReviewStrategy::SelfSubject, json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})).unwrap();
        assert_eq!(out["status"]["userInfo"], json!({"username": "kubelab-admin", "groups": ["system:masters", "system:authenticated"]}));
        assert!(out["metadata"]["creationTimestamp"].is_string());
    }

    #[test]
    fn access_reviews_allow_the_privileged_group_only() {
        let ssar = json!({"spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "default"}}});
        assert_eq!(answer(ReviewStrategy::SelfSubjectAccess, ssar.clone()).unwrap()["status"], json!({"allowed": true}));
        let sar = |spec: Value| json!({"spec": spec});
        let masters = sar(json!({"groups": ["system:masters"], "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}));
        assert_eq!(answer(ReviewStrategy::SubjectAccess, masters).unwrap()["status"], json!({"allowed": true}));
        let alice = sar(json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"}}));
        assert_eq!(answer(ReviewStrategy::SubjectAccess, alice).unwrap()["status"], json!({"allowed": false}));
    }

    #[test]
    fn rules_review_lists_everything_for_the_admin() {
        let out = answer(ReviewStrategy::SelfSubjectRules, json!({"spec": {"namespace": "default"}})).unwrap();
        assert_eq!(out["status"]["resourceRules"][0], json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        assert_eq!(out["status"]["nonResourceRules"][0], json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
        assert_eq!(out["status"]["incomplete"], false);
        let e = answer(ReviewStrategy::SelfSubjectRules, json!({"spec": {}})).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (400, "no namespace on request"));
    }

    #[test]
    fn invalid_reviews_are_refused_with_upstreams_words() {
        let cases = [
            (ReviewStrategy::SelfSubjectAccess, json!({"spec": {}}),
             "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"),
            (ReviewStrategy::SelfSubjectAccess, json!({"spec": {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/"}}}),
             "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.nonResourceAttributes: Invalid value: {\"path\":\"/\"}: cannot be specified in combination with resourceAttributes"),
            (ReviewStrategy::SubjectAccess, json!({"spec": {"resourceAttributes": {"verb": "get"}}}),
             "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"),
            (ReviewStrategy::LocalSubjectAccess, json!({"metadata": {"namespace": "a"}, "spec": {"user": "u", "resourceAttributes": {"verb": "get", "namespace": "b"}}}),
             "LocalSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"b\": must match metadata.namespace"),
            (ReviewStrategy::SubjectAccess, json!({"metadata": {"name": "x"}, "spec": {"user": "u", "resourceAttributes": {"verb": "get"}}}),
             "SubjectAccessReview.authorization.k8s.io \"\" is invalid: metadata: Invalid value: {\"name\":\"x\"}: must be empty"),
        ];
        for (s, obj, message) in cases {
            let e = answer(s, obj).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), (422, message));
        }
    }
}
