//! What a request asks for, parsed once: the apiserver's `RequestInfo`, the verb with its
//! typed options (`metav1.ListOptions`, `CreateOptions`, ... decoded from the query as
//! the apiserver's parameter codec does, then validated with metav1's rules and messages)
//! and the negotiated response format. The REST verbs receive an [`ApiRequest`] and never
//! read the query string themselves.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::resources::ResourceInfo;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::{ApiError, FieldError};
pub use super::table::IncludeObject;

/// The parsed API path: `/api/v1/namespaces/ns/pods/name/status` and friends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiPath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// The path forms, as in the apiserver's RequestInfoFactory.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `/api`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, `/api/v1`: discovery documents.
    Discovery,
    /// A resource path under a group-version.
    Resource(ApiPath),
}

/// Splits an API path (`/api/...` or `/apis/...`) into its parts; `None` for anything that
/// is not a resource path (discovery, unknown).
pub fn parse_path(path: &str) -> Option<Route> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match parts.as_slice() {
        ["api"] | ["apis"] | ["apis", _] => return Some(Route::Discovery),
        ["api", v] | ["apis", _, v] if !v.is_empty() => {
            let _ = v;
            return Some(Route::Discovery);
        }
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return None,
    };
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut p = ApiPath { group: group.into(), version: version.into(), ..Default::default() };
    match rest {
        // `/namespaces/<ns>` is the namespace object itself, `/namespaces/<ns>/status` its subresource.
        ["namespaces"] => p.resource = "namespaces".into(),
        ["namespaces", ns] => {
            p.resource = "namespaces".into();
            p.name = Some(decode(ns));
        }
        ["namespaces", ns, sub @ ("status" | "finalize")] => {
            p.resource = "namespaces".into();
            p.name = Some(decode(ns));
            p.subresource = Some(sub.to_string());
        }
        ["namespaces", ns, resource, tail @ ..] => {
            p.namespace = Some(decode(ns));
            p.resource = resource.to_string();
            match tail {
                [] => {}
                [name] => p.name = Some(decode(name)),
                [name, sub] => {
                    p.name = Some(decode(name));
                    p.subresource = Some(sub.to_string());
                }
                _ => return None,
            }
        }
        [resource] => p.resource = resource.to_string(),
        [resource, name] => {
            p.resource = resource.to_string();
            p.name = Some(decode(name));
        }
        [resource, name, sub] => {
            p.resource = resource.to_string();
            p.name = Some(decode(name));
            p.subresource = Some(sub.to_string());
        }
        _ => return None,
    }
    Some(Route::Resource(p))
}

/// The query string, decoded: every value of every key, in order (Go's `url.Values`).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, Vec<String>>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for pair in q.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            m.entry(dec(k)).or_default().push(dec(v));
        }
        Query(m)
    }
    /// The first value, as Go's `Values.Get`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(|v| v.first()).map(|s| s.as_str())
    }
    pub fn all(&self, k: &str) -> &[String] {
        self.0.get(k).map(|v| v.as_slice()).unwrap_or_default()
    }
    pub fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
    /// A boolean parameter as the parameter codec converts it
    /// (`runtime.Convert_Slice_string_To_bool`): absent, `0` and `false` (any case) are
    /// false; anything else, `watch=notabool` included, is true.
    pub fn flag(&self, k: &str) -> bool {
        self.optional_flag(k).unwrap_or(false)
    }
    /// A `*bool` parameter: `None` when absent.
    pub fn optional_flag(&self, k: &str) -> Option<bool> {
        let v = self.get(k)?;
        Some(!(v == "0" || v.eq_ignore_ascii_case("false")))
    }
    /// An `int64` parameter, with `strconv.ParseInt`'s error as the parameter codec
    /// reports it (a 400).
    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => go_parse_int(v).map(Some).map_err(ApiError::bad_request),
        }
    }
    /// A string parameter; empty counts as absent, as for Go's zero value.
    pub fn text(&self, k: &str) -> Option<String> {
        self.get(k).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

/// `strconv.ParseInt(s, 10, 64)`, with Go's error text.
pub fn go_parse_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.ParseInt: parsing {}: value out of range", go_quote(s)))
}

/// Go's `%q` of a string (`strconv.Quote`), for the printable ASCII the query carries and
/// escapes for the rest.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the client asked for with `?fieldValidation=` (absent: `Warn`, the server default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// The patch formats, by request content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    fn from_media_type(media: &str) -> Option<PatchType> {
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// `metav1.GetOptions`.
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    pub resource_version: Option<String>,
}

/// `metav1.ListOptions`, shared by list, watch and deletecollection.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub send_initial_events: Option<bool>,
    pub allow_bookmarks: bool,
    pub timeout_seconds: Option<i64>,
}

impl ListOptions {
    /// Whether an object with these labels and selectable fields passes the selectors.
    pub fn matches(&self, labels: &super::selectors::Labels, fields: &[(String, String)]) -> bool {
        (self.label.is_empty() || self.label.matches(labels)) && (self.field.is_empty() || self.field.matches(fields))
    }
}

/// `metav1.CreateOptions` and `UpdateOptions`: the same three fields.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// `?fieldManager=`; the user agent decides when absent.
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
}

/// `metav1.PatchOptions`.
#[derive(Debug, Clone)]
pub struct PatchOptions {
    pub write: WriteOptions,
    pub force: bool,
    pub patch_type: PatchType,
}

/// `metav1.DeleteOptions`, from the body or, without one, the query.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// The verb of a resource request with its options.
#[derive(Debug, Clone)]
pub enum Verb {
    Get(GetOptions),
    List(ListOptions),
    Watch(ListOptions),
    Create(WriteOptions),
    Update(WriteOptions),
    Patch(PatchOptions),
    Delete(DeleteOptions),
    DeleteCollection(DeleteOptions, ListOptions),
}

impl Verb {
    /// The verb as discovery and authorization name it.
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Get(_) => "get",
            Verb::List(_) => "list",
            Verb::Watch(_) => "watch",
            Verb::Create(_) => "create",
            Verb::Update(_) => "update",
            Verb::Patch(_) => "patch",
            Verb::Delete(_) => "delete",
            Verb::DeleteCollection(..) => "deletecollection",
        }
    }
}

/// A request as the HTTP layer hands it over: routed and authenticated, not yet understood.
#[derive(Debug)]
pub struct HttpRequest {
    pub method: hyper::Method,
    pub path: ApiPath,
    pub query: Query,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub user_agent: Option<String>,
    pub body: Bytes,
}

impl HttpRequest {
    /// Whether the apiserver's RequestInfo would call this a watch: a GET of a collection
    /// whose `watch` parameter converts to true.
    pub fn is_watch(&self) -> bool {
        self.method == hyper::Method::GET && self.query.flag("watch")
    }
}

/// A resource request the REST verbs serve: the verb, its options and the response format.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub path: ApiPath,
    pub verb: Verb,
    /// The body's media type (parameters dropped).
    pub media_type: String,
    pub format: Format,
    pub include_object: IncludeObject,
    pub user_agent: Option<String>,
    pub body: Bytes,
}

impl ApiRequest {
    /// Which manager a write is recorded under: `?fieldManager=`, else the user agent's
    /// program name, as the apiserver's `managerOrUserAgent` derives it.
    pub fn field_manager(&self, asked: Option<&str>) -> String {
        if let Some(m) = asked.filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        self.user_agent.as_deref().and_then(|ua| ua.split('/').next()).filter(|s| !s.is_empty()).unwrap_or("unknown").to_string()
    }

    /// A request made by the sandbox itself (seeding, controllers in-process).
    pub fn internal(res: &ResourceInfo, namespace: Option<String>, verb: Verb, manager: &str) -> ApiRequest {
        ApiRequest {
            path: ApiPath {
                group: res.group.clone(),
                version: res.version.clone(),
                namespace,
                resource: res.plural.clone(),
                name: None,
                subresource: None,
            },
            verb,
            media_type: "application/json".into(),
            format: Format::Json,
            include_object: IncludeObject::Metadata,
            user_agent: Some(manager.to_string()),
            body: Bytes::new(),
        }
    }
}

/// An option that failed metav1 validation: `CreateOptions.meta.k8s.io "" is invalid: ...`.
fn invalid_options(kind: &str, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(&format!("{kind}.meta.k8s.io"), "", errs)
}

/// `ValidateDryRun`: every value must be `All`.
fn dry_run(q: &Query, errs: &mut Vec<FieldError>) -> bool {
    let values = q.all("dryRun");
    if values.iter().any(|v| v != "All") {
        errs.push(FieldError::not_supported("dryRun", &json!(values), &["All"]));
    }
    !values.is_empty()
}

/// `ValidateFieldValidation` (the supported list is Go's sorted set, the empty string first).
fn field_validation(q: &Query, errs: &mut Vec<FieldError>) -> FieldValidation {
    match q.get("fieldValidation").unwrap_or("") {
        "" | "Warn" => FieldValidation::Warn,
        "Strict" => FieldValidation::Strict,
        "Ignore" => FieldValidation::Ignore,
        other => {
            errs.push(FieldError::not_supported("fieldValidation", &json!(other), &["", "Ignore", "Strict", "Warn"]));
            FieldValidation::Warn
        }
    }
}

/// `ValidateFieldManager`: at most 128 bytes of printable characters.
fn field_manager(q: &Query, errs: &mut Vec<FieldError>) -> Option<String> {
    let m = q.get("fieldManager").unwrap_or("");
    if m.len() > 128 {
        errs.push(FieldError::too_long("fieldManager", 128));
    }
    for (i, c) in m.chars().enumerate() {
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            errs.push(FieldError::invalid("fieldManager", &json!(m), format!("invalid character U+{:04X} (at position {i})", c as u32)));
        }
    }
    Some(m.to_string()).filter(|m| !m.is_empty())
}

/// `CreateOptions` / `UpdateOptions` from the query, validated.
fn write_options(q: &Query, kind: &str) -> Result<WriteOptions, ApiError> {
    let mut errs = Vec::new();
    let field_manager = field_manager(q, &mut errs);
    let dry_run = dry_run(q, &mut errs);
    let field_validation = field_validation(q, &mut errs);
    if !errs.is_empty() {
        return Err(invalid_options(kind, &errs));
    }
    Ok(WriteOptions { dry_run, field_manager, field_validation })
}

/// `PatchOptions`: as the write options, plus `force`, which only apply may set, and a
/// field manager apply cannot do without.
fn patch_options(q: &Query, patch_type: PatchType) -> Result<PatchOptions, ApiError> {
    let mut errs = Vec::new();
    let force = q.optional_flag("force");
    if patch_type == PatchType::Apply {
        if q.get("fieldManager").is_none_or(str::is_empty) {
            errs.push(FieldError::required("fieldManager", "is required for apply patch"));
        }
    } else if force.is_some() {
        errs.push(FieldError::forbidden("force", "may not be specified for non-apply patch"));
    }
    let field_manager = field_manager(q, &mut errs);
    let dry_run = dry_run(q, &mut errs);
    let field_validation = field_validation(q, &mut errs);
    if !errs.is_empty() {
        return Err(invalid_options("PatchOptions", &errs));
    }
    Ok(PatchOptions { write: WriteOptions { dry_run, field_manager, field_validation }, force: force.unwrap_or(false), patch_type })
}

/// `ListOptions` from the query: decoded (a 400 for what does not convert: selectors that
/// do not parse, a non-numeric limit or timeout), then `ValidateListOptions` (a 422).
pub fn list_options(q: &Query, res: &ResourceInfo, watch: bool) -> Result<ListOptions, ApiError> {
    let label = match q.get("labelSelector") {
        Some(s) if !s.is_empty() => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
        _ => LabelSelector::default(),
    };
    let field = match q.get("fieldSelector") {
        Some(s) if !s.is_empty() => FieldSelector::parse(s, res).map_err(ApiError::bad_request)?,
        _ => FieldSelector::default(),
    };
    let limit = q.int("limit")?;
    let timeout_seconds = q.int("timeoutSeconds")?;
    let opts = ListOptions {
        label,
        field,
        resource_version: q.text("resourceVersion"),
        resource_version_match: q.text("resourceVersionMatch"),
        // The store treats a limit of zero or below as none.
        limit: limit.filter(|n| *n > 0).map(|n| n as usize),
        continue_token: q.text("continue"),
        send_initial_events: q.optional_flag("sendInitialEvents"),
        allow_bookmarks: q.flag("allowWatchBookmarks"),
        timeout_seconds,
    };
    let errs = if watch { validate_watch_options(&opts) } else { validate_list_options(&opts) };
    if !errs.is_empty() {
        return Err(invalid_options("ListOptions", &errs));
    }
    Ok(opts)
}

/// `ValidateListOptions` for a list.
fn validate_list_options(o: &ListOptions) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(m) = o.resource_version_match.as_deref() {
        if o.resource_version.is_none() {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if o.continue_token.is_some() {
            errs.push(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
        }
        if m != "Exact" && m != "NotOlderThan" {
            errs.push(FieldError::not_supported("resourceVersionMatch", &json!(m), &["Exact", "NotOlderThan", ""]));
        }
        if m == "Exact" && o.resource_version.as_deref() == Some("0") {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if o.send_initial_events.is_some() {
        errs.push(FieldError::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
    }
    errs
}

/// `validateWatchOptions` (the WatchList feature is on in v1.34).
fn validate_watch_options(o: &ListOptions) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let m = o.resource_version_match.as_deref();
    if o.send_initial_events.is_some() && m != Some("NotOlderThan") {
        errs.push(FieldError::forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
    }
    if let Some(m) = m {
        if o.send_initial_events.is_none() {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if m != "NotOlderThan" {
            errs.push(FieldError::not_supported("resourceVersionMatch", &json!(m), &["NotOlderThan"]));
        }
        if o.continue_token.is_some() {
            errs.push(FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
        }
    }
    errs
}

/// `DeleteOptions`: a body, when there is one, decoded as `meta.k8s.io/v1 DeleteOptions`
/// (JSON or YAML); otherwise the query. Then `ValidateDeleteOptions`.
fn delete_options(q: &Query, media_type: &str, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let mut o = DeleteOptions::default();
    let (policy, orphan_dependents, dry_run_values): (Option<String>, Option<bool>, Vec<String>);
    if !body.is_empty() {
        let doc: Value = match media_type {
            "application/yaml" => {
                serde_saphyr::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
            }
            "" | "application/json" => serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?,
            _ => return Err(unsupported_body_media_type()),
        };
        if !doc.is_object() {
            return Err(ApiError::bad_request("couldn't get version/kind; json parse error: DeleteOptions must be an object"));
        }
        if let Some(k) = doc.get("kind").and_then(Value::as_str).filter(|k| !k.is_empty() && *k != "DeleteOptions") {
            return Err(ApiError::internal(format!("decoded object cannot be converted to DeleteOptions (kind {k})")));
        }
        let int = |key: &str| -> Result<Option<i64>, ApiError> {
            match doc.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "json: cannot unmarshal {} into Go struct field DeleteOptions.{key} of type int64",
                        super::registry::decode::go_json_type(v)
                    ))
                }),
            }
        };
        o.grace_period_seconds = int("gracePeriodSeconds")?;
        policy = doc.get("propagationPolicy").and_then(Value::as_str).map(str::to_string);
        orphan_dependents = doc.get("orphanDependents").and_then(Value::as_bool);
        o.precondition_uid = doc.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
        o.precondition_rv = doc.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
        dry_run_values =
            doc.get("dryRun").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    } else {
        o.grace_period_seconds = q.int("gracePeriodSeconds")?;
        policy = q.text("propagationPolicy");
        orphan_dependents = q.optional_flag("orphanDependents");
        o.precondition_uid = q.text("preconditions.uid");
        o.precondition_rv = q.text("preconditions.resourceVersion");
        dry_run_values = q.all("dryRun").to_vec();
    }
    let mut errs = Vec::new();
    if orphan_dependents.is_some() && policy.is_some() {
        errs.push(FieldError::invalid("propagationPolicy", &json!(policy), "orphanDependents and deletionPropagation cannot be both set"));
    }
    o.propagation_policy = match policy.as_deref() {
        None => orphan_dependents.map(|orphan| if orphan { Propagation::Orphan } else { Propagation::Background }),
        Some("Orphan") => Some(Propagation::Orphan),
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some(other) => {
            errs.push(FieldError::not_supported("propagationPolicy", &json!(other), &["Foreground", "Background", "Orphan", "nil"]));
            None
        }
    };
    if dry_run_values.iter().any(|v| v != "All") {
        errs.push(FieldError::not_supported("dryRun", &json!(dry_run_values), &["All"]));
    }
    o.dry_run = !dry_run_values.is_empty();
    if !errs.is_empty() {
        return Err(invalid_options("DeleteOptions", &errs));
    }
    Ok(o)
}

/// The 415 for a body the apiserver has no decoder for.
pub fn unsupported_body_media_type() -> ApiError {
    ApiError::unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    )
}

/// Understands a routed request for `res`: the verb from method, name and subresource;
/// its options decoded and validated; the response format negotiated.
pub fn parse(req: HttpRequest, res: &ResourceInfo) -> Result<ApiRequest, ApiError> {
    use hyper::Method;
    let format = negotiate(req.accept.as_deref())?;
    // `TableOptions` are read, and validated, only when a Table is what is served.
    let include_object = match format {
        Format::Table => IncludeObject::parse(req.query.get("includeObject")).map_err(|_| {
            let e = FieldError::invalid(
                "includeObject",
                &json!(req.query.get("includeObject")),
                "must be 'Metadata', 'Object', 'None', or empty",
            );
            invalid_options("TableOptions", &[e])
        })?,
        _ => IncludeObject::Metadata,
    };
    let media = media_type(req.content_type.as_deref());
    let q = &req.query;
    let named = req.path.name.is_some();
    let verb = match (&req.method, named) {
        (&Method::GET, false) if req.is_watch() => Verb::Watch(list_options(q, res, true)?),
        (&Method::GET, false) => Verb::List(list_options(q, res, false)?),
        (&Method::GET, true) if q.flag("watch") => return Err(ApiError::method_not_allowed()),
        (&Method::GET, true) => Verb::Get(GetOptions { resource_version: q.text("resourceVersion") }),
        (&Method::POST, false) => Verb::Create(write_options(q, "CreateOptions")?),
        // A subresource that creates (`serviceaccounts/<name>/token`).
        (&Method::POST, true) if req.path.subresource.is_some() => Verb::Create(write_options(q, "CreateOptions")?),
        (&Method::PUT, true) => Verb::Update(write_options(q, "UpdateOptions")?),
        (&Method::PATCH, true) => {
            // Custom resources have no Go struct to carry patch strategies.
            let patch_type = PatchType::from_media_type(&media)
                .filter(|t| !(*t == PatchType::Strategic && res.is_custom()))
                .ok_or_else(|| ApiError::unsupported_media_type("415: Unsupported Media Type").with_details(json!({})))?;
            Verb::Patch(patch_options(q, patch_type)?)
        }
        (&Method::DELETE, true) => Verb::Delete(delete_options(q, &media, &req.body)?),
        (&Method::DELETE, false) => {
            let list = list_options(q, res, false)?;
            Verb::DeleteCollection(delete_options(q, &media, &req.body)?, list)
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(ApiRequest { path: req.path, verb, media_type: media, format, include_object, user_agent: req.user_agent, body: req.body })
}

/// How the response body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// `application/json;as=Table;v=v1;g=meta.k8s.io`
    Table,
    /// `application/json;as=PartialObjectMetadata(List);v=v1;g=meta.k8s.io`
    Metadata,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
            Format::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
            Format::Metadata => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        }
    }
}

/// Picks the first representation the client accepts that the sandbox can produce, in the
/// client's order (kubectl lists Table first, then plain JSON as the fallback).
pub fn negotiate(accept: Option<&str>) -> Result<Format, ApiError> {
    let accept = match accept {
        None | Some("") => return Ok(Format::Json),
        Some(a) => a,
    };
    for clause in accept.split(',') {
        let mut parts = clause.split(';').map(|s| s.trim());
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: HashMap<String, String> =
            parts.filter_map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
        let as_ = params.get("as").map(|s| s.as_str());
        match (media.as_str(), as_) {
            ("application/json" | "*/*" | "application/*", None) => return Ok(Format::Json),
            ("application/json", Some("Table")) if params.get("g").map(|s| s.as_str()) == Some("meta.k8s.io") => return Ok(Format::Table),
            ("application/json", Some("PartialObjectMetadata" | "PartialObjectMetadataList")) => return Ok(Format::Metadata),
            ("application/yaml", None) => return Ok(Format::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable())
}

/// The media type of a request body (parameters dropped).
pub fn media_type(content_type: Option<&str>) -> String {
    content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_and_cluster_paths() {
        let Some(Route::Resource(p)) = parse_path("/api/v1/namespaces/ns1/pods/web/status") else { panic!() };
        assert_eq!(
            (p.group.as_str(), p.namespace.as_deref(), p.resource.as_str(), p.name.as_deref(), p.subresource.as_deref()),
            ("", Some("ns1"), "pods", Some("web"), Some("status"))
        );
        let Some(Route::Resource(p)) = parse_path("/api/v1/namespaces/ns1") else { panic!() };
        assert_eq!((p.resource.as_str(), p.name.as_deref(), p.namespace), ("namespaces", Some("ns1"), None));
        let Some(Route::Resource(p)) = parse_path("/apis/apps/v1/deployments") else { panic!() };
        assert_eq!((p.group.as_str(), p.resource.as_str()), ("apps", "deployments"));
        assert_eq!(parse_path("/apis/apps/v1"), Some(Route::Discovery));
        assert_eq!(parse_path("/version"), None);
    }

    #[test]
    fn negotiates_kubectl_table_then_json() {
        assert_eq!(
            negotiate(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            ))
            .unwrap(),
            Format::Table
        );
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf, application/json")).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("application/xml")).unwrap_err().code, 406);
    }
}
