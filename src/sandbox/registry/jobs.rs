//! Jobs (batch/v1): pods run to completion. The apiserver defaults the counts
//! (`SetDefaults_Job`), generates the selector and the pods' labels from the job's uid
//! (`generateSelector`), and validates like `ValidateJob`: pods must not restart forever,
//! and the pod template is fixed once created (pods already made from it count).

use serde_json::{json, Value};

use super::label_selector;
use super::pod_template::{default_template, validate_nonnegative};
use super::pods::validate_pod_spec;
use super::strategy::{set_status, Strategy};
use super::validation::{dns1123_label, validate_annotations, validate_labels};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

/// `batch.kubernetes.io/controller-uid`: the generated selector's one label.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// `batch.kubernetes.io/job-name`.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The unprefixed labels of older releases, still set on every pod.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// `maxParallelismForIndexedJob`.
const MAX_INDEXED_PARALLELISM: i64 = 100_000;

/// `SetDefaults_Job` (the JobPodReplacementPolicy gate is on in v1.34).
pub fn default_job(obj: &mut Value) {
    let template_labels = obj.pointer("/spec/template/metadata/labels").filter(|l| l.is_object()).cloned();
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    default_job_spec(spec);
    // A job without labels of its own takes its pods' labels.
    if let Some(labels) = template_labels {
        if obj.pointer("/metadata/labels").and_then(Value::as_object).is_none_or(|l| l.is_empty()) {
            if let Some(meta) = ensure(obj, "metadata", json!({})) {
                meta["labels"] = labels;
            }
        }
    }
}

fn default_job_spec(spec: &mut Value) {
    let unset = |spec: &Value, k: &str| spec.get(k).is_none_or(Value::is_null);
    // A non-parallel job: both unset means one pod, once. Parallelism alone means a work
    // queue (completions stay unset).
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec["completions"] = json!(1);
    }
    if unset(spec, "parallelism") {
        spec["parallelism"] = json!(1);
    }
    if unset(spec, "backoffLimit") {
        spec["backoffLimit"] = json!(if unset(spec, "backoffLimitPerIndex") { 6 } else { i32::MAX });
    }
    ensure(spec, "completionMode", json!("NonIndexed"));
    ensure(spec, "suspend", json!(false));
    let replacement = if unset(spec, "podFailurePolicy") { "TerminatingOrFailed" } else { "Failed" };
    ensure(spec, "podReplacementPolicy", json!(replacement));
    ensure(spec, "manualSelector", json!(false));
    default_template(spec);
}

/// `generateSelector`: the job-name and controller-uid labels on the template (unless the
/// user set them; validation then refuses a wrong one) and a selector of the uid.
pub fn generate_selector(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    if let Some(labels) = ensure(spec, "template", json!({})).and_then(|t| ensure(t, "metadata", json!({}))).and_then(|m| {
        if m.get("labels").is_none_or(|l| !l.is_object()) {
            m["labels"] = json!({});
        }
        m.get_mut("labels").and_then(Value::as_object_mut)
    }) {
        for (key, value) in
            [(LEGACY_JOB_NAME_LABEL, &name), (JOB_NAME_LABEL, &name), (LEGACY_CONTROLLER_UID_LABEL, &uid), (CONTROLLER_UID_LABEL, &uid)]
        {
            labels.entry(key).or_insert(json!(value));
        }
        // Go writes maps sorted by key.
        let mut sorted: Vec<(String, Value)> = std::mem::take(labels).into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        labels.extend(sorted);
    }
    if spec.get("selector").is_none_or(|s| !s.is_object()) {
        spec["selector"] = json!({});
    }
    let selector = &mut spec["selector"];
    if selector.get("matchLabels").is_none_or(|m| !m.is_object()) {
        selector["matchLabels"] = json!({});
    }
    if let Some(m) = selector["matchLabels"].as_object_mut() {
        m.entry(CONTROLLER_UID_LABEL).or_insert(json!(uid));
    }
}

/// `validateGeneratedSelector`: a generated selector's labels are on the template and the
/// selector selects exactly them.
fn validate_generated_selector(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) || spec.get("selector").is_none_or(Value::is_null) {
        return;
    }
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let labels = spec.pointer("/template/metadata/labels");
    let expected = [(LEGACY_CONTROLLER_UID_LABEL, uid), (LEGACY_JOB_NAME_LABEL, name), (CONTROLLER_UID_LABEL, uid), (JOB_NAME_LABEL, name)];
    for (key, want) in expected {
        match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
            None => errs.push(FieldError::required(format!("spec.template.metadata.labels[{key}]"), "")),
            Some(v) if v != want => {
                errs.push(FieldError::invalid(format!("spec.template.metadata.labels[{key}]"), &json!(v), format!("must be '{want}'")))
            }
            Some(_) => {}
        }
    }
    let expected_labels: serde_json::Map<String, Value> = expected.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    if !label_selector::matches(&spec["selector"], Some(&Value::Object(expected_labels))) {
        errs.push(FieldError::invalid("spec.selector", &spec["selector"], "`selector` not auto-generated"));
    }
}

/// `validateJobSpec` at `path` (a Job's `spec`, or a CronJob's `spec.jobTemplate.spec`).
pub fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        let mut local = Vec::new();
        validate_nonnegative(spec, key, &mut local);
        errs.extend(local.into_iter().map(|mut e| {
            e.field = e.field.replacen("spec", path, 1);
            e
        }));
    }
    let has = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
    if has("maxFailedIndexes") && !has("backoffLimitPerIndex") {
        errs.push(FieldError::required(format!("{path}.backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    match mode {
        None | Some("NonIndexed") => {
            for k in ["backoffLimitPerIndex", "maxFailedIndexes"] {
                if has(k) {
                    errs.push(FieldError::invalid(format!("{path}.{k}"), &spec[k], "requires indexed completion mode"));
                }
            }
        }
        Some("Indexed") => {
            if !has("completions") {
                errs.push(FieldError::required(format!("{path}.completions"), "when completion mode is Indexed"));
            }
            if let Some(p) = spec.get("parallelism").and_then(Value::as_i64).filter(|p| *p > MAX_INDEXED_PARALLELISM) {
                errs.push(FieldError::invalid(
                    format!("{path}.parallelism"),
                    &json!(p),
                    format!("must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion mode is Indexed"),
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(format!("{path}.completionMode"), &json!(other), &["NonIndexed", "Indexed"])),
    }
    if has("successPolicy") && mode != Some("Indexed") {
        errs.push(FieldError::invalid(format!("{path}.successPolicy"), &spec["successPolicy"], "requires indexed completion mode"));
    }
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if !["TerminatingOrFailed", "Failed"].contains(&p) {
            errs.push(FieldError::not_supported(format!("{path}.podReplacementPolicy"), &json!(p), &["Failed", "TerminatingOrFailed"]));
        } else if has("podFailurePolicy") && p != "Failed" {
            errs.push(FieldError::not_supported(format!("{path}.podReplacementPolicy"), &json!(p), &["Failed"]));
        }
    }
    // ValidatePodTemplateSpec.
    let template = spec.get("template").cloned().unwrap_or(json!({}));
    let tpath = format!("{path}.template");
    errs.extend(validate_labels(template.pointer("/metadata/labels"), &format!("{tpath}.metadata.labels")));
    errs.extend(validate_annotations(template.pointer("/metadata/annotations"), &format!("{tpath}.metadata.annotations")));
    let pod_spec = template.get("spec").cloned().unwrap_or(json!({}));
    errs.extend(validate_pod_spec(&pod_spec, &format!("{tpath}.spec")).into_iter().filter(|e| !e.field.ends_with(".restartPolicy")));
    let restart_path = format!("{tpath}.spec.restartPolicy");
    match pod_spec.get("restartPolicy").and_then(Value::as_str).unwrap_or_default() {
        "" | "Always" => errs.push(FieldError::required(restart_path, "valid values: \"OnFailure\", \"Never\"")),
        "OnFailure" if has("podFailurePolicy") => errs.push(FieldError::invalid(
            restart_path,
            &json!("OnFailure"),
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(restart_path, &json!(other), &["OnFailure", "Never"])),
    }
    errs
}

/// `ValidateJob` (object metadata is validated generically).
pub fn validate_job(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    validate_generated_selector(obj, &mut errs);
    errs.extend(validate_job_spec(&spec, "spec"));
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(s) => {
            errs.extend(label_selector::validate(s, "spec.selector"));
            let labels = spec.pointer("/template/metadata/labels");
            if !label_selector::matches(s, labels) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    labels.unwrap_or(&Value::Null),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    let indexed = spec.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if let Some(c) = spec.get("completions").and_then(Value::as_i64).filter(|c| indexed && *c > 0) {
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let hostname = format!("{name}-{}", c - 1);
        if !dns1123_label(&hostname).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                &json!(name),
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errs
}

/// `ValidateJobSpecUpdate`: what an update may not change.
pub fn validate_job_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_job(new);
    let (o, n) = (&old["spec"], &new["spec"]);
    let immutable = |key: &str, errs: &mut Vec<FieldError>| {
        if o.get(key) != n.get(key) {
            errs.push(FieldError::invalid(format!("spec.{key}"), n.get(key).unwrap_or(&Value::Null), "field is immutable"));
        }
    };
    // Completions may change only for an Indexed job, together with parallelism.
    if n.get("completionMode").and_then(Value::as_str) == Some("Indexed") {
        if o.get("completions") != n.get("completions")
            && n.get("completions").is_some_and(|c| !c.is_null())
            && n.get("completions") != n.get("parallelism")
        {
            errs.push(FieldError::invalid("spec.completions", &n["completions"], "can only be modified in tandem with spec.parallelism"));
        }
    } else {
        immutable("completions", &mut errs);
    }
    for key in ["selector", "template", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"] {
        immutable(key, &mut errs);
    }
    errs
}

/// The job strategy.
pub struct JobStrategy;

impl Strategy for JobStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_job(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) != Some(true) {
            generate_selector(obj);
        }
        // Go defaults again when it reads the object back, so the job carries the
        // generated labels too.
        default_job(obj);
        set_status(obj, json!({}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_job(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_job_update(old, new)
    }
}

/// Defaults of a CronJob's `spec.jobTemplate.spec`: only the pod template's (the job
/// defaults come when the controller creates the Job).
pub fn default_job_template(job_spec: &mut Value) {
    default_template(job_spec);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(spec: Value) -> Value {
        let mut j = json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": spec});
        default_job(&mut j);
        generate_selector(&mut j);
        j
    }

    fn template(restart: &str) -> Value {
        json!({"spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}]}})
    }

    #[test]
    fn defaults() {
        let cases: &[(Value, Value)] = &[
            (json!({}), json!({"completions": 1, "parallelism": 1})),
            (json!({"parallelism": 3}), json!({"completions": null, "parallelism": 3})),
            (json!({"completions": 5}), json!({"completions": 5, "parallelism": 1})),
        ];
        for (given, want) in cases {
            let mut spec = given.clone();
            spec["template"] = template("Never");
            let j = job(spec);
            assert_eq!(j["spec"].get("completions").cloned().unwrap_or(Value::Null), want["completions"], "{given}");
            assert_eq!(j["spec"]["parallelism"], want["parallelism"], "{given}");
            assert_eq!(j["spec"]["backoffLimit"], 6);
            assert_eq!(j["spec"]["completionMode"], "NonIndexed");
            assert_eq!(j["spec"]["suspend"], false);
            assert_eq!(j["spec"]["manualSelector"], false);
            assert_eq!(j["spec"]["podReplacementPolicy"], "TerminatingOrFailed");
        }
    }

    #[test]
    fn generated_selector_and_labels() {
        let j = job(json!({"template": template("Never")}));
        assert_eq!(j["spec"]["selector"], json!({"matchLabels": {CONTROLLER_UID_LABEL: "u-1"}}));
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"],
            json!({CONTROLLER_UID_LABEL: "u-1", JOB_NAME_LABEL: "pi", LEGACY_CONTROLLER_UID_LABEL: "u-1", LEGACY_JOB_NAME_LABEL: "pi"})
        );
        assert!(validate_job(&j).is_empty(), "{:?}", validate_job(&j));
    }

    #[test]
    fn validation_rules() {
        let messages = |spec: Value| validate_job(&job(spec)).iter().map(|e| e.to_message()).collect::<Vec<_>>();
        let cases: Vec<(Value, &str)> = vec![
            (json!({"template": template("Always")}), "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""),
            (json!({"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}), "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""),
            (json!({"template": template("Never"), "backoffLimit": -1}), "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"),
            (json!({"template": template("Never"), "parallelism": -2}), "spec.parallelism: Invalid value: -2: must be greater than or equal to 0"),
            (json!({"template": template("Never"), "completionMode": "Sometimes"}), "spec.completionMode: Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\""),
            (json!({"template": template("Never"), "completionMode": "Indexed", "parallelism": 2}), "spec.completions: Required value: when completion mode is Indexed"),
            (
                json!({"template": {"metadata": {"labels": {"job-name": "other"}}, "spec": template("Never")["spec"]}}),
                "spec.template.metadata.labels[job-name]: Invalid value: \"other\": must be 'pi'",
            ),
            (
                json!({"template": template("Never"), "selector": {"matchLabels": {"a": "b"}}}),
                "spec.template.metadata.labels: Invalid value: {\"batch.kubernetes.io/controller-uid\":\"u-1\",\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"u-1\",\"job-name\":\"pi\"}: `selector` does not match template `labels`",
            ),
        ];
        for (spec, want) in cases {
            let got = messages(spec.clone());
            assert!(got.iter().any(|m| m == want), "{spec}: {got:?}");
        }
        let mut manual = json!({"metadata": {"name": "m", "uid": "u"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": template("OnFailure")["spec"]}}});
        default_job(&mut manual);
        assert!(validate_job(&manual).is_empty(), "{:?}", validate_job(&manual));
    }

    #[test]
    fn the_template_and_completions_are_immutable() {
        let old = job(json!({"template": template("Never")}));
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        new["spec"]["completions"] = json!(2);
        new["spec"]["parallelism"] = json!(4);
        let fields: Vec<String> = validate_job_update(&old, &new).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["spec.completions", "spec.template"]);
        let mut suspended = old.clone();
        suspended["spec"]["suspend"] = json!(true);
        assert!(validate_job_update(&old, &suspended).is_empty());
    }
}
