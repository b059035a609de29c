//! Errors as the API server speaks them: `meta.k8s.io/v1 Status` objects.
//!
//! Every failure the sandbox answers goes through [`ApiError`], so the code, reason and
//! message text are those kube-apiserver uses (`pods "x" not found`, `... already exists`,
//! `Pod "x" is invalid: ...`). The constructors mirror `k8s.io/apimachinery/pkg/api/errors`.

use serde_json::{json, Map, Value};

/// One failed field of a validation: `field.ErrorList` in the apiserver.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
    /// The detail after the kind's own words (may be empty).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    Required,
    /// The offending value, already rendered as the apiserver prints it (`"A_B"`, `0`, `{"a":"b"}`).
    Invalid(String),
    Forbidden,
    /// The offending value and the quoted supported values.
    NotSupported(String, Vec<String>),
    Duplicate(String),
    TooLong(String, usize),
    TypeInvalid(String),
    /// `field.TooMany`: the actual count (when known) and the maximum.
    TooMany(Option<usize>, usize),
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Required, field: field.into(), detail: detail.into() }
    }
    /// `value` is rendered like Go's `%#v` of the value the apiserver saw: strings quoted.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Invalid(render_value(value)), field: field.into(), detail: detail.into() }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Forbidden, field: field.into(), detail: detail.into() }
    }
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        Self {
            kind: FieldErrorKind::NotSupported(render_value(value), supported.iter().map(|s| s.to_string()).collect()),
            field: field.into(),
            detail: String::new(),
        }
    }
    /// `field.TooLong`: the value is omitted from the message.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self { kind: FieldErrorKind::TooLong(String::new(), max), field: field.into(), detail: String::new() }
    }
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        Self { kind: FieldErrorKind::Duplicate(render_value(value)), field: field.into(), detail: String::new() }
    }
    /// `field.TooMany`: `Too many: 4: must have at most 3 items`.
    pub fn too_many(field: impl Into<String>, actual: Option<usize>, max: usize) -> Self {
        Self { kind: FieldErrorKind::TooMany(actual, max), field: field.into(), detail: String::new() }
    }
    pub fn type_invalid(field: impl Into<String>, value: &Value, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::TypeInvalid(render_value(value)), field: field.into(), detail: detail.into() }
    }

    /// The `reason` of a `StatusCause`.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
            FieldErrorKind::Duplicate(_) => "FieldValueDuplicate",
            FieldErrorKind::TooLong(..) => "FieldValueTooLong",
            FieldErrorKind::TypeInvalid(_) => "FieldValueTypeInvalid",
            FieldErrorKind::TooMany(..) => "FieldValueTooMany",
        }
    }

    /// The cause's message, without the field path: `Invalid value: "A_B": a lowercase ...`.
    pub fn body(&self) -> String {
        let with_detail = |head: String| if self.detail.is_empty() { head } else { format!("{head}: {}", self.detail) };
        match &self.kind {
            FieldErrorKind::Required => with_detail("Required value".into()),
            FieldErrorKind::Invalid(v) => with_detail(format!("Invalid value: {v}")),
            FieldErrorKind::Forbidden => with_detail("Forbidden".into()),
            FieldErrorKind::NotSupported(v, supported) => {
                let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
                with_detail(format!("Unsupported value: {v}: supported values: {}", list.join(", ")))
            }
            FieldErrorKind::Duplicate(v) => with_detail(format!("Duplicate value: {v}")),
            // Go omits the value of a TooLong error.
            FieldErrorKind::TooLong(_, max) => {
                with_detail(format!("Too long: may not be more than {max} {}", if *max == 1 { "byte" } else { "bytes" }))
            }
            FieldErrorKind::TypeInvalid(v) => with_detail(format!("Invalid value: {v}")),
            FieldErrorKind::TooMany(actual, max) => {
                let what = format!("must have at most {max} {}", if *max == 1 { "item" } else { "items" });
                match actual {
                    Some(n) => with_detail(format!("Too many: {n}: {what}")),
                    None => with_detail(format!("Too many: {what}")),
                }
            }
        }
    }

    /// `field: body`, as it appears in the Status message.
    pub fn to_message(&self) -> String {
        if self.field.is_empty() {
            self.body()
        } else {
            format!("{}: {}", self.field, self.body())
        }
    }
}

/// Go's rendering of a bad value inside a field error: strings quoted, numbers bare,
/// objects and arrays as compact JSON.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// A failed request: becomes an HTTP status and a `Status` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details` as the apiserver fills it; `None` leaves the key out. Boxed: errors travel
    /// in every `Result` of the request path and should stay small.
    pub details: Option<Box<Value>>,
    /// Some errors (unknown group, `404 page not found`) are plain text, not a Status.
    pub plain_text: bool,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self { code, reason: reason.into(), message: message.into(), details: None, plain_text: false }
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    fn details_for(qualified_resource: &str, name: &str) -> Value {
        // `kind` in details is the resource (plural, with the group for non-core), as in Go.
        let (resource, group) = match qualified_resource.split_once('.') {
            Some((r, g)) => (r, g),
            None => (qualified_resource, ""),
        };
        let mut m = Map::new();
        if !name.is_empty() {
            m.insert("name".into(), json!(name));
        }
        if !group.is_empty() {
            m.insert("group".into(), json!(group));
        }
        m.insert("kind".into(), json!(resource));
        Value::Object(m)
    }

    /// `qualified_resource` is `pods` or `deployments.apps`.
    pub fn not_found(qualified_resource: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{qualified_resource} \"{name}\" not found"))
            .with_details(Self::details_for(qualified_resource, name))
    }
    pub fn already_exists(qualified_resource: &str, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{qualified_resource} \"{name}\" already exists"))
            .with_details(Self::details_for(qualified_resource, name))
    }
    /// Optimistic concurrency failure on update.
    pub fn conflict(qualified_resource: &str, name: &str, detail: &str) -> Self {
        Self::new(409, "Conflict", format!("Operation cannot be fulfilled on {qualified_resource} \"{name}\": {detail}"))
            .with_details(Self::details_for(qualified_resource, name))
    }
    pub fn stale_update(qualified_resource: &str, name: &str) -> Self {
        Self::conflict(
            qualified_resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }
    /// 422: `Kind.group "name" is invalid: ...` with one cause per field error.
    pub fn invalid(qualified_kind: &str, name: &str, errors: &[FieldError]) -> Self {
        // The message lists each distinct error once (Go's ToAggregate drops duplicates);
        // the causes keep them all.
        let mut distinct: Vec<String> = Vec::new();
        for m in errors.iter().map(|e| e.to_message()) {
            if !distinct.contains(&m) {
                distinct.push(m);
            }
        }
        let list = if distinct.len() == 1 { distinct.remove(0) } else { format!("[{}]", distinct.join(", ")) };
        let causes: Vec<Value> = errors.iter().map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field})).collect();
        let (kind, group) = match qualified_kind.split_once('.') {
            Some((k, g)) => (k, g),
            None => (qualified_kind, ""),
        };
        let mut details = Map::new();
        // `name` is omitted when empty, as Go's `omitempty` does (options have no name).
        if !name.is_empty() {
            details.insert("name".into(), json!(name));
        }
        if !group.is_empty() {
            details.insert("group".into(), json!(group));
        }
        details.insert("kind".into(), json!(kind));
        details.insert("causes".into(), Value::Array(causes));
        Self::new(422, "Invalid", format!("{qualified_kind} \"{name}\" is invalid: {list}")).with_details(Value::Object(details))
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    pub fn forbidden(qualified_resource: &str, name: &str, message: &str) -> Self {
        let msg = if name.is_empty() {
            format!("{qualified_resource} is forbidden: {message}")
        } else {
            format!("{qualified_resource} \"{name}\" is forbidden: {message}")
        };
        Self::new(403, "Forbidden", msg).with_details(Self::details_for(qualified_resource, name))
    }
    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource").with_details(json!({}))
    }
    /// An API path that names no resource the server serves.
    pub fn resource_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource").with_details(json!({}))
    }
    /// An unknown path outside the API (`/apis/unknown.group/v1`): plain text, as Go's mux says it.
    pub fn page_not_found() -> Self {
        Self { plain_text: true, ..Self::new(404, "NotFound", "404 page not found\n") }
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }
    pub fn not_acceptable() -> Self {
        Self::new(
            406,
            "NotAcceptable",
            "406: Not Acceptable\n\nAvailable representations: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch",
        )
        .with_details(json!({}))
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }
    /// `504 Too large resource version`: a client asked for a revision the store has not reached.
    pub fn too_large_resource_version(asked: u64, current: u64) -> Self {
        Self::new(504, "Timeout", format!("Too large resource version: {asked}, current: {current}")).with_details(
            json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
        )
    }
    /// A resourceVersion as the storage layer reads it: a revision number.
    pub fn parse_resource_version(rv: &str) -> Result<u64, Self> {
        rv.parse().map_err(|_| Self::bad_request(format!("invalid resource version: {rv}")))
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), json!("Failure"));
        m.insert("message".into(), json!(self.message));
        m.insert("reason".into(), json!(self.reason));
        if let Some(d) = &self.details {
            m.insert("details".into(), (**d).clone());
        }
        m.insert("code".into(), json!(self.code));
        Value::Object(m)
    }
}

/// The `Status Success` some deletes answer with (nodes, custom resources, dry runs).
pub fn success_status(qualified_resource: &str, name: &str, uid: &str) -> Value {
    let (resource, group) = match qualified_resource.split_once('.') {
        Some((r, g)) => (r, g),
        None => (qualified_resource, ""),
    };
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(resource));
    details.insert("uid".into(), json!(uid));
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": Value::Object(details)})
}

/// Storage failures as the apiserver answers them: the one place a storage error becomes
/// HTTP. A store that stopped taking writes is `503 ServiceUnavailable` (retry later, as
/// the apiserver answers while etcd is unreachable); anything else an internal error.
impl From<super::storage::StorageError> for ApiError {
    fn from(e: super::storage::StorageError) -> Self {
        match e {
            super::storage::StorageError::Unavailable(_) => {
                ApiError::new(503, "ServiceUnavailable", e.to_string()).with_details(json!({"retryAfterSeconds": 1}))
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_with_several_causes_lists_them_in_brackets() {
        let e = ApiError::invalid(
            "Pod",
            "multi",
            &[
                FieldError::required("spec.containers[0].image", ""),
                FieldError::not_supported("spec.restartPolicy", &json!("Sometimes"), &["Always", "OnFailure", "Never"]),
            ],
        );
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Pod \"multi\" is invalid: [spec.containers[0].image: Required value, spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"]"
        );
        assert_eq!(e.to_status()["details"]["causes"][1]["reason"], "FieldValueNotSupported");
    }

    #[test]
    fn not_found_names_group_in_details() {
        let e = ApiError::not_found("deployments.apps", "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        assert_eq!(e.to_status()["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
    }
}
