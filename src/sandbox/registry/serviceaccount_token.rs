//! ServiceAccount and its `token` subresource: `kubectl create token` posts an
//! `authentication.k8s.io/v1 TokenRequest` and gets it back with a signed JWT in `status`.
//!
//! Ported from `pkg/registry/core/serviceaccount/storage/token.go` (`TokenREST.Create`),
//! `pkg/apis/authentication/validation` and `pkg/serviceaccount/claims.go`, with the
//! defaults of a kube-apiserver started without `--service-account-max-token-expiration`:
//! no cap on the duration, and pod-bound tokens of 3607 s extended to a year
//! (`warnafter` in the claims), as kubelet's projected tokens are.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::strategy::{Created, NamedCreater, Strategy, SubresourceCreate};
use crate::sandbox::meta;
use crate::sandbox::oidc::{ServiceAccountIssuer, ISSUER};
use crate::sandbox::status::{ApiError, FieldError};

/// `validation.MinTokenAgeSec`.
const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;
/// The longest duration validation accepts (2^32 seconds).
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// `SetDefaults_TokenRequestSpec`: one hour.
const DEFAULT_EXPIRATION_SECONDS: i64 = 60 * 60;
/// `token.WarnOnlyBoundTokenExpirationSeconds`: what kubelet asks for projected tokens.
const WARN_ONLY_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;
/// `token.ExpirationExtensionSeconds`: how long such a token really lasts.
const EXTENDED_EXPIRATION_SECONDS: i64 = 24 * 365 * 60 * 60;

const GROUP: &str = "authentication.k8s.io";
const KIND: &str = "TokenRequest";

/// ServiceAccounts have the generic store's rules, and a `token` subresource.
pub struct ServiceAccountStrategy;

impl Strategy for ServiceAccountStrategy {
    fn named_creater(&self, subresource: &str) -> Option<&dyn NamedCreater> {
        (subresource == "token").then_some(&TokenRest as &dyn NamedCreater)
    }
}

/// `TokenREST`: issues a token for the named service account.
pub struct TokenRest;

/// What the body asked for, decoded as the `TokenRequest` Go struct would be.
struct TokenRequest {
    metadata: Map<String, Value>,
    audiences: Vec<String>,
    expiration_seconds: i64,
    bound: Option<BoundObjectRef>,
}

struct BoundObjectRef {
    api_version: String,
    kind: String,
    name: String,
    uid: String,
    /// The reference as sent, answered back in `spec.boundObjectRef`.
    raw: Value,
}

/// The decoder's 400 for a field of the wrong JSON type.
fn wrong_type(found: &Value, go_field: &str, go_type: &str) -> ApiError {
    let found = super::decode::go_json_type(found);
    ApiError::bad_request(format!(
        "{KIND} in version \"v1\" cannot be handled as a {KIND}: json: cannot unmarshal {found} into Go struct field {go_field} of type {go_type}"
    ))
}

fn string_field(obj: &Value, key: &str, go_field: &str) -> Result<String, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type(other, go_field, "string")),
    }
}

fn decode(body: Value) -> Result<TokenRequest, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!("the object provided is unrecognized (must be of type {KIND})")));
    }
    if let Some(v) = body.get("apiVersion").and_then(Value::as_str).filter(|v| !v.is_empty() && *v != "authentication.k8s.io/v1") {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version (authentication.k8s.io/v1)"
        )));
    }
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(wrong_type(other, "TokenRequest.metadata", "v1.ObjectMeta")),
    };
    let spec = match body.get("spec") {
        None | Some(Value::Null) => json!({}),
        Some(s @ Value::Object(_)) => s.clone(),
        Some(other) => return Err(wrong_type(other, "TokenRequest.spec", "v1.TokenRequestSpec")),
    };
    let audiences = match spec.get("audiences") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| a.as_str().map(String::from).ok_or_else(|| wrong_type(a, "TokenRequestSpec.spec.audiences", "string")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(wrong_type(other, "TokenRequestSpec.spec.audiences", "[]string")),
    };
    let expiration_seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| wrong_type(v, "TokenRequestSpec.spec.expirationSeconds", "int64"))?,
    };
    let bound = match spec.get("boundObjectRef") {
        None | Some(Value::Null) => None,
        Some(r @ Value::Object(_)) => {
            let f = |key: &str| string_field(r, key, &format!("BoundObjectReference.spec.boundObjectRef.{key}"));
            Some(BoundObjectRef { api_version: f("apiVersion")?, kind: f("kind")?, name: f("name")?, uid: f("uid")?, raw: r.clone() })
        }
        Some(other) => return Err(wrong_type(other, "TokenRequestSpec.spec.boundObjectRef", "v1.BoundObjectReference")),
    };
    Ok(TokenRequest { metadata, audiences, expiration_seconds, bound })
}

fn invalid(name: &str, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(&format!("{KIND}.{GROUP}"), name, errs)
}

/// `ValidateTokenRequest`.
fn validate(expiration_seconds: i64) -> Vec<FieldError> {
    let mut errs = vec![];
    if expiration_seconds < MIN_EXPIRATION_SECONDS {
        errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            &json!(expiration_seconds),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration_seconds > MAX_EXPIRATION_SECONDS {
        errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            &json!(expiration_seconds),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    errs
}

/// A `{name, uid}` claim (`uid` omitted when empty, as Go's `omitempty`).
fn reference(obj: &Value) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(meta::name(obj).unwrap_or_default()));
    if let Some(uid) = meta::str_field(obj, "uid").filter(|u| !u.is_empty()) {
        m.insert("uid".into(), json!(uid));
    }
    Value::Object(m)
}

/// What the token is bound to: at most a pod (with its node), a secret, or a node.
#[derive(Default)]
struct Binding {
    pod: Option<Value>,
    secret: Option<Value>,
    node: Option<Value>,
}

/// Looks up `spec.boundObjectRef`, as `TokenREST.Create` does.
fn bind(req: &SubresourceCreate<'_>, namespace: &str, r: &BoundObjectRef) -> Result<Binding, ApiError> {
    let (group, version) = match r.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", r.api_version.as_str()),
    };
    let mut binding = Binding::default();
    let uid = match (group, r.kind.as_str()) {
        ("", "Pod") => {
            let pod = req.objects.get("", "Pod", Some(namespace), &r.name)?;
            let account = pod.pointer("/spec/serviceAccountName").and_then(Value::as_str).unwrap_or_default();
            if account != req.name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {:?} to pod running with different serviceaccount name.",
                    req.name
                )));
            }
            if let Some(node_name) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                // A node that is gone still leaves its name in the claims.
                binding.node = Some(match req.objects.get("", "Node", None, node_name) {
                    Ok(node) => node,
                    Err(e) if e.code == 404 => json!({"metadata": {"name": node_name}}),
                    Err(e) => return Err(e),
                });
            }
            let uid = meta::str_field(&pod, "uid").unwrap_or_default().to_string();
            binding.pod = Some(pod);
            uid
        }
        ("", "Node") => {
            let node = req.objects.get("", "Node", None, &r.name)?;
            let uid = meta::str_field(&node, "uid").unwrap_or_default().to_string();
            binding.node = Some(node);
            uid
        }
        ("", "Secret") => {
            let secret = req.objects.get("", "Secret", Some(namespace), &r.name)?;
            let uid = meta::str_field(&secret, "uid").unwrap_or_default().to_string();
            binding.secret = Some(secret);
            uid
        }
        _ => return Err(ApiError::bad_request(format!("cannot bind token to object of type {group}/{version}, Kind={}", r.kind))),
    };
    if !r.uid.is_empty() && r.uid != uid {
        let resource = if group.is_empty() { r.kind.clone() } else { format!("{}.{group}", r.kind) };
        return Err(ApiError::conflict(
            &resource,
            &r.name,
            &format!(
                "the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated",
                r.uid
            ),
        ));
    }
    Ok(binding)
}

/// Sorts object keys at every level: go-jose merges the claims through Go maps, so the
/// payload's keys come out sorted.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut m: Map<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            m.sort_keys();
            Value::Object(m)
        }
        other => other,
    }
}

/// `token.Claims`: the registered claims and the `kubernetes.io` private ones.
fn claims(account: &Value, binding: &Binding, audiences: &[String], now: DateTime<Utc>, exp: i64, warn_after: i64) -> Value {
    let mut k8s = json!({
        "namespace": meta::namespace(account).unwrap_or_default(),
        "serviceaccount": reference(account),
    });
    if let Some(pod) = &binding.pod {
        k8s["pod"] = reference(pod);
    }
    if let Some(secret) = &binding.secret {
        k8s["secret"] = reference(secret);
    }
    if let Some(node) = &binding.node {
        k8s["node"] = reference(node);
    }
    if warn_after != 0 {
        k8s["warnafter"] = json!(now.timestamp() + warn_after);
    }
    sorted(json!({
        "aud": audiences,
        "exp": now.timestamp() + exp,
        "iat": now.timestamp(),
        "iss": ISSUER,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": k8s,
        "nbf": now.timestamp(),
        "sub": format!("system:serviceaccount:{}:{}", meta::namespace(account).unwrap_or_default(), meta::name(account).unwrap_or_default()),
    }))
}

fn issue(issuer: &ServiceAccountIssuer, claims: &Value) -> Result<String, ApiError> {
    issuer.sign(claims).map_err(|e| ApiError::internal(format!("failed to generate token: {e}")))
}

impl NamedCreater for TokenRest {
    fn create(&self, req: SubresourceCreate<'_>) -> Result<Created, ApiError> {
        let namespace = req.namespace.ok_or_else(|| ApiError::bad_request("namespace is required"))?;
        let name = req.name;
        let mut tr = decode(req.body.clone())?;
        // The generic handler puts the URL's namespace on the object, or refuses another.
        match tr.metadata.get("namespace").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            Some(ns) if ns != namespace => {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"))
            }
            _ => {}
        }
        if let Some(body_name) = tr.metadata.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            if body_name != name {
                let errs = [FieldError::invalid("metadata.name", &json!(body_name), "must match the service account name if specified")];
                return Err(invalid(name, &errs));
            }
        }
        let account = req.objects.get("", "ServiceAccount", Some(namespace), name)?;
        let account_uid = meta::str_field(&account, "uid").unwrap_or_default().to_string();
        if let Some(uid) = tr.metadata.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
            // TokenRequestServiceAccountUIDValidation is on by default in 1.34.
            if uid != account_uid {
                return Err(ApiError::conflict(
                    &format!("{KIND}.{GROUP}"),
                    name,
                    &format!("the UID in the token request ({uid}) does not match the UID of the service account ({account_uid})"),
                ));
            }
        }
        if tr.audiences.is_empty() {
            tr.audiences = vec![ISSUER.to_string()];
        }
        let now = Utc::now();
        let errs = validate(tr.expiration_seconds);
        if !errs.is_empty() {
            return Err(invalid("", &errs));
        }
        let binding = match &tr.bound {
            Some(r) => bind(&req, namespace, r)?,
            None => Binding::default(),
        };
        // Projected tokens kubelet asks for (3607 s, the apiserver's audiences) last a year
        // and only warn once the requested time is past.
        let mut exp = tr.expiration_seconds;
        let mut warn_after = 0;
        if binding.pod.is_some() && exp == WARN_ONLY_EXPIRATION_SECONDS && tr.audiences.iter().all(|a| a == ISSUER) {
            warn_after = exp;
            exp = EXTENDED_EXPIRATION_SECONDS;
        }
        let issuer = req.issuer.ok_or_else(|| ApiError::internal("failed to generate token: no service-account signing key"))?;
        let token = issue(issuer, &claims(&account, &binding, &tr.audiences, now, exp, warn_after))?;

        // The answer is the request, completed: ObjectMeta in Go's field order.
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!(name));
        metadata.insert("namespace".into(), json!(namespace));
        metadata.insert("uid".into(), json!(account_uid));
        metadata.insert("creationTimestamp".into(), json!(meta::time_rfc3339(now)));
        for (k, v) in tr.metadata {
            if !matches!(k.as_str(), "name" | "namespace" | "uid" | "creationTimestamp" | "generateName" | "resourceVersion" | "selfLink") {
                metadata.insert(k, v);
            }
        }
        let object = json!({
            "kind": KIND,
            "apiVersion": format!("{GROUP}/v1"),
            "metadata": metadata,
            "spec": {
                "audiences": tr.audiences,
                "expirationSeconds": tr.expiration_seconds,
                "boundObjectRef": tr.bound.map(|b| b.raw),
            },
            "status": {
                "token": token,
                "expirationTimestamp": meta::time_rfc3339(now + Duration::seconds(tr.expiration_seconds)),
            },
        });
        Ok(Created { object, warnings: vec![], change: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_is_bounded_as_upstream_validates_it() {
        for (seconds, errors) in [(599, 1), (600, 0), (3600, 0), (1 << 32, 0), ((1 << 32) + 1, 1), (-1, 1)] {
            assert_eq!(validate(seconds).len(), errors, "{seconds}");
        }
    }

    #[test]
    fn a_body_of_nulls_gets_the_defaults() {
        let tr = decode(json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": null},
            "spec": {"audiences": null, "expirationSeconds": null, "boundObjectRef": null}, "status": {"token": "", "expirationTimestamp": null}}))
        .unwrap();
        assert_eq!(tr.expiration_seconds, 3600);
        assert!(tr.audiences.is_empty() && tr.bound.is_none());
        let e = decode(json!({"spec": {"expirationSeconds": "1h"}})).err().unwrap();
        assert_eq!(e.code, 400);
        assert!(e.message.ends_with("cannot unmarshal string into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64"));
    }

    #[test]
    fn claims_are_sorted_and_carry_the_binding() {
        let sa = json!({"metadata": {"name": "robot", "namespace": "ns", "uid": "u1"}});
        let pod = json!({"metadata": {"name": "p", "uid": "u2"}});
        let node = json!({"metadata": {"name": "n"}});
        let binding = Binding { pod: Some(pod), secret: None, node: Some(node) };
        let now = Utc::now();
        let c = claims(&sa, &binding, &["a".into()], now, 600, 0);
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"]);
        assert_eq!(c["sub"], "system:serviceaccount:ns:robot");
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
        assert_eq!(
            c["kubernetes.io"],
            json!({"namespace": "ns", "node": {"name": "n"}, "pod": {"name": "p", "uid": "u2"}, "serviceaccount": {"name": "robot", "uid": "u1"}})
        );
    }
}
