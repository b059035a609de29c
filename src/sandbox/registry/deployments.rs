//! Deployments: the apps/v1 defaults (one replica, a 25%/25% rolling update, ten old
//! replica sets kept, ten minutes to progress) and validation of the spec and strategy.

use super::strategy::{set_status, workload_status_update, ScalePaths, Strategy};
use serde_json::{json, Value};

use super::pod_template::{default_template, validate_nonnegative, validate_selector_and_template, validate_selector_unchanged};
use super::wire_shape::ensure;
use crate::sandbox::status::FieldError;

/// `SetDefaults_Deployment`.
pub fn default_deployment(obj: &mut Value) {
    let Some(spec) = ensure(obj, "spec", json!({})) else { return };
    ensure(spec, "replicas", json!(1));
    let strategy = ensure(spec, "strategy", json!({})).expect("spec is an object");
    ensure(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = ensure(strategy, "rollingUpdate", json!({})).expect("strategy is an object");
        ensure(ru, "maxUnavailable", json!("25%"));
        ensure(ru, "maxSurge", json!("25%"));
    }
    ensure(spec, "revisionHistoryLimit", json!(10));
    ensure(spec, "progressDeadlineSeconds", json!(600));
    default_template(spec);
}

/// An int-or-percent (`maxSurge`, `maxUnavailable`), as a number when it is a valid one.
fn int_or_percent(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Option<i64> {
    match v {
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(-1);
            if n < 0 {
                errs.push(FieldError::invalid(path, v, "must be greater than or equal to 0"));
            }
            Some(n)
        }
        Value::String(s) => {
            match s.strip_suffix('%').filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())).and_then(|d| d.parse::<i64>().ok())
            {
                Some(n) => Some(n),
                None => {
                    errs.push(FieldError::invalid(path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
                    None
                }
            }
        }
        _ => None,
    }
}

fn validate_strategy(spec: &Value, errs: &mut Vec<FieldError>) {
    let strategy = spec.get("strategy").cloned().unwrap_or(json!({}));
    let ty = strategy.get("type").and_then(Value::as_str).unwrap_or_default();
    let ru = strategy.get("rollingUpdate");
    match ty {
        "Recreate" => {
            if ru.is_some_and(|r| !r.is_null()) {
                errs.push(FieldError::forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => {
            let Some(ru) = ru else {
                return errs.push(FieldError::required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"));
            };
            let unavailable = ru.get("maxUnavailable").and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxUnavailable", errs));
            let surge = ru.get("maxSurge").and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxSurge", errs));
            if unavailable == Some(0) && surge == Some(0) {
                errs.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    &ru["maxUnavailable"],
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            if let (Some(n), Some(Value::String(_))) = (unavailable, ru.get("maxUnavailable")) {
                if n > 100 {
                    errs.push(FieldError::invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        &ru["maxUnavailable"],
                        "must not be greater than 100%",
                    ));
                }
            }
        }
        other => errs.push(FieldError::not_supported("spec.strategy.type", &json!(other), &["Recreate", "RollingUpdate"])),
    }
}

/// `ValidateDeploymentSpec`, in the apiserver's order.
pub fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let mut errs = Vec::new();
    validate_nonnegative(&spec, "replicas", &mut errs);
    validate_selector_and_template(&spec, &mut errs);
    validate_strategy(&spec, &mut errs);
    validate_nonnegative(&spec, "minReadySeconds", &mut errs);
    validate_nonnegative(&spec, "revisionHistoryLimit", &mut errs);
    if let Some(pd) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        validate_nonnegative(&spec, "progressDeadlineSeconds", &mut errs);
        let min_ready = spec.get("minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
        if pd <= min_ready {
            errs.push(FieldError::invalid("spec.progressDeadlineSeconds", &json!(pd), "must be greater than minReadySeconds"));
        }
    }
    errs
}

/// `ValidateDeploymentUpdate`: the spec rules, and the selector is immutable in apps/v1.
pub fn validate_deployment_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_deployment(new);
    validate_selector_unchanged(old, new, &mut errs);
    errs
}

/// The deployment strategy.
pub struct DeploymentStrategy;

impl Strategy for DeploymentStrategy {
    fn defaults(&self, obj: &mut Value) {
        default_deployment(obj);
    }
    fn tracks_generation(&self) -> bool {
        true
    }
    /// A deployment's annotations (`kubectl rollout undo` writes the change cause there)
    /// count as a spec change, as `deploymentStrategy.PrepareForUpdate` bumps for them.
    fn spec_changed(&self, old: &Value, new: &Value) -> bool {
        old.get("spec") != new.get("spec") || old.pointer("/metadata/annotations") != new.pointer("/metadata/annotations")
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set_status(obj, json!({}));
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_deployment(obj)
    }
    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        validate_deployment_update(old, new)
    }
    fn prepare_for_subresource_update(&self, subresource: &str, old: &Value, new: &mut Value) {
        workload_status_update(subresource, old, new);
    }
    fn scale(&self) -> Option<ScalePaths> {
        Some(ScalePaths::workload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::status::ApiError;

    /// p16 `create`: the defaults in the 201 body.
    #[test]
    fn defaults_match_the_corpus() {
        let mut d = json!({"spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1.27", "name": "nginx", "ports": [{"containerPort": 80}]}]}}}});
        default_deployment(&mut d);
        assert_eq!(
            d["spec"],
            json!({
                "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                    "containers": [{"image": "nginx:1.27", "name": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}], "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {}}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "securityContext": {}, "schedulerName": "default-scheduler"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600
            })
        );
        assert!(validate_deployment(&d).is_empty());
    }

    /// p16 `selector-mismatch`.
    #[test]
    fn selector_must_match_template() {
        let mut d = json!({"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"image": "nginx", "name": "c"}]}}}});
        default_deployment(&mut d);
        let e = ApiError::invalid("Deployment.apps", "bad", &validate_deployment(&d));
        assert_eq!(e.message, "Deployment.apps \"bad\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`");
        assert_eq!(e.to_status()["details"]["group"], "apps");
    }

    #[test]
    fn missing_selector_negative_replicas_and_immutable_selector() {
        let mut d = json!({"spec": {"replicas": -1, "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"image": "nginx", "name": "c"}]}}}});
        default_deployment(&mut d);
        let msgs: Vec<String> = validate_deployment(&d).iter().map(|e| e.to_message()).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0".to_string(),
                "spec.selector: Required value".to_string(),
                "spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`".to_string(),
            ]
        );
        let old = json!({"spec": {"selector": {"matchLabels": {"app": "y"}}}});
        let mut new = d.clone();
        new["spec"]["replicas"] = json!(1);
        new["spec"]["selector"] = json!({"matchLabels": {"app": "z"}});
        let errs = validate_deployment_update(&old, &new);
        assert!(errs
            .iter()
            .any(|e| e.to_message() == "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"z\"}}: field is immutable"));
    }

    #[test]
    fn strategy_rules() {
        let mut d = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"image": "i", "name": "c"}]}}, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}});
        default_deployment(&mut d);
        let msgs: Vec<String> = validate_deployment(&d).iter().map(|e| e.to_message()).collect();
        assert_eq!(
            msgs,
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0".to_string()]
        );
    }
}
