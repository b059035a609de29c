//! A pod's quality-of-service class, computed once at creation from its containers'
//! requests and limits (the kubelet evicts BestEffort pods first, Guaranteed ones last).

use serde_json::Value;

/// The value of a resource quantity (`500m`, `1Gi`, `2`, `1e3`) as a number, precise
/// enough to compare requests with limits.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let base: f64 = num.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(base * factor)
}

const COMPUTE: &[&str] = &["cpu", "memory"];

/// `GetPodQOS`: BestEffort without any cpu/memory request or limit; Guaranteed when every
/// container limits both and the requests equal the limits; Burstable otherwise.
/// Expects the defaults applied (requests copied from limits).
pub fn pod_qos_class(spec: &Value) -> &'static str {
    let mut requests = [0f64; 2];
    let mut limits = [0f64; 2];
    let mut seen_requests = [false; 2];
    let mut seen_limits = [false; 2];
    let mut guaranteed = true;
    for list in ["initContainers", "containers"] {
        for c in spec.get(list).and_then(Value::as_array).into_iter().flatten() {
            let mut limited = [false; 2];
            for (i, name) in COMPUTE.iter().enumerate() {
                let amount = |kind: &str| {
                    c.get("resources")
                        .and_then(|r| r.get(kind))
                        .and_then(|m| m.get(*name))
                        .and_then(Value::as_str)
                        .and_then(parse_quantity)
                        .filter(|v| *v > 0.0)
                };
                if let Some(r) = amount("requests") {
                    requests[i] += r;
                    seen_requests[i] = true;
                }
                if let Some(l) = amount("limits") {
                    limits[i] += l;
                    seen_limits[i] = true;
                    limited[i] = true;
                }
            }
            if !limited.iter().all(|l| *l) {
                guaranteed = false;
            }
        }
    }
    if !seen_requests.iter().any(|s| *s) && !seen_limits.iter().any(|s| *s) {
        return "BestEffort";
    }
    if guaranteed {
        for i in 0..2 {
            if seen_requests[i] && (!seen_limits[i] || (requests[i] - limits[i]).abs() > 1e-9 * limits[i].max(1.0)) {
                guaranteed = false;
            }
        }
    }
    if guaranteed && seen_requests == seen_limits {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("abc"), None);
    }

    #[test]
    fn classes() {
        assert_eq!(pod_qos_class(&json!({"containers": [{"name": "a", "resources": {}}]})), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}}]});
        assert_eq!(pod_qos_class(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "100m"}}}]});
        assert_eq!(pod_qos_class(&b), "Burstable");
        let partly = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}, {"resources": {}}]});
        assert_eq!(pod_qos_class(&partly), "Burstable");
    }
}
