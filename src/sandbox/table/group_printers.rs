//! Printers of kinds outside core and apps (batch, policy, networking, rbac, scheduling),
//! ported from kube-apiserver's `pkg/printers/internalversion/printers.go`.
//!
//! Kinds without a printer here get Name and Age ([`super::printers::Printer::Default`]).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::age::{age_since, human_duration};
use super::columns::*;
use super::printers::label_selector;

fn c(name: &'static str, description: &'static str) -> Column {
    Column::new(name, description)
}

fn text(obj: &Value, pointer: &str) -> Option<String> {
    obj.pointer(pointer).and_then(Value::as_str).map(str::to_string)
}

fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn seconds_between(from: &str, to: DateTime<Utc>) -> Option<i64> {
    DateTime::parse_from_rfc3339(from).ok().map(|t| (to - t.with_timezone(&Utc)).num_seconds())
}

/// Names and images of the containers at `pointer`, comma-separated.
fn containers(obj: &Value, pointer: &str) -> (String, String) {
    let empty = Vec::new();
    let list = obj.pointer(pointer).and_then(Value::as_array).unwrap_or(&empty);
    let names: Vec<&str> = list.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = list.iter().filter_map(|c| c["image"].as_str()).collect();
    (names.join(","), images.join(","))
}

pub fn job_columns() -> Vec<Column> {
    vec![
        NAME_COLUMN,
        c("Status", JOB_STATUS),
        c("Completions", JOB_COMPLETIONS),
        c("Duration", JOB_DURATION),
        AGE_COLUMN,
        c("Containers", DEPLOYMENT_CONTAINERS).wide(),
        c("Images", DEPLOYMENT_IMAGES).wide(),
        c("Selector", JOB_SELECTOR).wide(),
    ]
}

/// `Complete`, `Failed`, `Terminating`, `Suspended`... in printJob's order of precedence.
fn job_status(obj: &Value) -> &'static str {
    let has = |kind: &str| {
        obj.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == kind && c["status"] == "True"))
    };
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if obj.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

pub fn job_cells(obj: &Value, name: Value, age: Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = int(obj, "/status/succeeded");
    let completions = match obj.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(n) => format!("{succeeded}/{n}"),
        None => match int(obj, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (text(obj, "/status/startTime"), text(obj, "/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => seconds_between(&start, now).map(human_duration).unwrap_or_default(),
        (Some(start), Some(end)) => DateTime::parse_from_rfc3339(&end)
            .ok()
            .and_then(|end| seconds_between(&start, end.with_timezone(&Utc)))
            .map(human_duration)
            .unwrap_or_default(),
    };
    let (names, images) = containers(obj, "/spec/template/spec/containers");
    vec![
        name,
        json!(job_status(obj)),
        json!(completions),
        json!(duration),
        age,
        json!(names),
        json!(images),
        json!(label_selector(obj.pointer("/spec/selector"))),
    ]
}

pub fn cronjob_columns() -> Vec<Column> {
    vec![
        NAME_COLUMN,
        c("Schedule", CRONJOB_SCHEDULE),
        c("Timezone", CRONJOB_TIMEZONE),
        c("Suspend", CRONJOB_SUSPEND).typed("boolean"),
        c("Active", CRONJOB_ACTIVE).typed("integer"),
        c("Last Schedule", CRONJOB_LAST_SCHEDULE),
        AGE_COLUMN,
        c("Containers", DEPLOYMENT_CONTAINERS).wide(),
        c("Images", DEPLOYMENT_IMAGES).wide(),
        c("Selector", JOB_SELECTOR).wide(),
    ]
}

pub fn cronjob_cells(obj: &Value, name: Value, age: Value, now: DateTime<Utc>) -> Vec<Value> {
    let last = match text(obj, "/status/lastScheduleTime") {
        Some(t) => age_since(Some(&t), now),
        None => "<none>".into(),
    };
    let suspend = match obj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let active = obj.pointer("/status/active").and_then(Value::as_array).map_or(0, Vec::len);
    let (names, images) = containers(obj, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        name,
        json!(text(obj, "/spec/schedule").unwrap_or_default()),
        json!(text(obj, "/spec/timeZone").unwrap_or_else(|| "<none>".into())),
        json!(suspend),
        json!(active),
        json!(last),
        age,
        json!(names),
        json!(images),
        json!(label_selector(obj.pointer("/spec/jobTemplate/spec/selector"))),
    ]
}

pub fn pdb_columns() -> Vec<Column> {
    vec![
        NAME_COLUMN,
        c("Min Available", PDB_MIN_AVAILABLE),
        c("Max Unavailable", PDB_MAX_UNAVAILABLE),
        c("Allowed Disruptions", PDB_ALLOWED_DISRUPTIONS).typed("integer"),
        AGE_COLUMN,
    ]
}

/// An IntOrString as Go's `String()` writes it, or `N/A` when unset.
fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".into(),
    }
}

pub fn pdb_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        json!(int_or_string(obj.pointer("/spec/minAvailable"))),
        json!(int_or_string(obj.pointer("/spec/maxUnavailable"))),
        json!(int(obj, "/status/disruptionsAllowed")),
        age,
    ]
}

pub fn ingress_columns() -> Vec<Column> {
    vec![
        NAME_COLUMN,
        c("Class", INGRESS_CLASS),
        c("Hosts", INGRESS_HOSTS),
        c("Address", INGRESS_ADDRESS),
        c("Ports", INGRESS_PORTS),
        AGE_COLUMN,
    ]
}

/// Up to three hosts, then `+ N more...`; `*` when no rule names one.
fn ingress_hosts(obj: &Value) -> String {
    let empty = Vec::new();
    let rules = obj.pointer("/spec/rules").and_then(Value::as_array).unwrap_or(&empty);
    let hosts: Vec<&str> = rules.iter().take(3).filter_map(|r| r["host"].as_str().filter(|h| !h.is_empty())).collect();
    if hosts.is_empty() {
        return "*".into();
    }
    let joined = hosts.join(",");
    if rules.len() > 3 {
        format!("{joined} + {} more...", rules.len() - 3)
    } else {
        joined
    }
}

/// The load balancer's IPs (or hostnames), sorted and deduplicated as a Go string set.
fn ingress_address(obj: &Value) -> String {
    let mut addresses: Vec<&str> = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|i| i["ip"].as_str().filter(|s| !s.is_empty()).or(i["hostname"].as_str())).collect())
        .unwrap_or_default();
    addresses.retain(|a| !a.is_empty());
    addresses.sort();
    addresses.dedup();
    addresses.join(",")
}

pub fn ingress_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    let tls = obj.pointer("/spec/tls").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    vec![
        name,
        json!(text(obj, "/spec/ingressClassName").unwrap_or_else(|| "<none>".into())),
        json!(ingress_hosts(obj)),
        json!(ingress_address(obj)),
        json!(if tls { "80, 443" } else { "80" }),
        age,
    ]
}

pub fn priority_class_columns() -> Vec<Column> {
    vec![
        NAME_COLUMN,
        c("Value", PRIORITYCLASS_VALUE).typed("integer"),
        c("Global-Default", PRIORITYCLASS_GLOBAL_DEFAULT).typed("boolean"),
        AGE_COLUMN,
        c("PreemptionPolicy", PRIORITYCLASS_PREEMPTION_POLICY).wide(),
    ]
}

pub fn priority_class_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        json!(int(obj, "/value")),
        json!(obj.pointer("/globalDefault").and_then(Value::as_bool).unwrap_or(false)),
        age,
        json!(text(obj, "/preemptionPolicy").unwrap_or_default()),
    ]
}

pub fn role_binding_columns(cluster: bool) -> Vec<Column> {
    let (role, users, groups, sas) = if cluster {
        (CLUSTERROLEBINDING_ROLE, CLUSTERROLEBINDING_USERS, CLUSTERROLEBINDING_GROUPS, CLUSTERROLEBINDING_SERVICEACCOUNTS)
    } else {
        (ROLEBINDING_ROLE, ROLEBINDING_USERS, ROLEBINDING_GROUPS, ROLEBINDING_SERVICEACCOUNTS)
    };
    vec![NAME_COLUMN, c("Role", role), AGE_COLUMN, c("Users", users).wide(), c("Groups", groups).wide(), c("ServiceAccounts", sas).wide()]
}

/// Users, groups and `namespace/name` service accounts, as rbac's `SubjectsStrings`.
pub fn role_binding_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in obj.pointer("/subjects").and_then(Value::as_array).into_iter().flatten() {
        let subject_name = s["name"].as_str().unwrap_or_default();
        match s["kind"].as_str().unwrap_or_default() {
            "ServiceAccount" => sas.push(format!("{}/{subject_name}", s["namespace"].as_str().unwrap_or_default())),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    let role = format!("{}/{}", text(obj, "/roleRef/kind").unwrap_or_default(), text(obj, "/roleRef/name").unwrap_or_default());
    vec![name, json!(role), age, json!(users.join(", ")), json!(groups.join(", ")), json!(sas.join(", "))]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn job_rows_follow_print_job() {
        let running = json!({"spec": {"parallelism": 3, "template": {"spec": {"containers": [{"name": "a", "image": "busybox"}]}}},
            "status": {"startTime": "2026-01-01T00:00:00Z", "succeeded": 1}});
        let cells = job_cells(&running, json!("j"), json!("10m"), now());
        assert_eq!(cells[1..4], [json!("Running"), json!("1/1 of 3"), json!("10m")]);
        assert_eq!(cells[5..7], [json!("a"), json!("busybox")]);
        let done = json!({"spec": {"completions": 2}, "status": {"startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:42Z",
            "succeeded": 2, "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(job_cells(&done, json!("j"), json!("1m"), now())[1..4], [json!("Complete"), json!("2/2"), json!("42s")]);
        assert_eq!(job_cells(&json!({}), json!("j"), json!("1m"), now())[1..4], [json!("Running"), json!("0/1"), json!("")]);
        assert_eq!(job_columns().len(), job_cells(&json!({}), json!("j"), json!("1m"), now()).len());
    }

    #[test]
    fn cronjob_pdb_ingress_priority_class_and_binding_rows() {
        let cj = json!({"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}});
        let cells = cronjob_cells(&cj, json!("c"), json!("1m"), now());
        assert_eq!(cells[1..6], [json!("*/5 * * * *"), json!("<none>"), json!("<unset>"), json!(0), json!("<none>")]);
        assert_eq!(cells.len(), cronjob_columns().len());
        let pdb = json!({"spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(pdb_cells(&pdb, json!("p"), json!("1m"))[1..4], [json!("50%"), json!("N/A"), json!(1)]);
        let ing = json!({"spec": {"rules": [{"host": "a"}, {}, {"host": "c"}, {"host": "d"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb"}, {"ip": "10.0.0.2"}]}}});
        assert_eq!(
            ingress_cells(&ing, json!("i"), json!("1m"))[1..5],
            [json!("<none>"), json!("a,c + 1 more..."), json!("10.0.0.2,lb"), json!("80, 443")]
        );
        assert_eq!(ingress_hosts(&json!({"spec": {"rules": [{"http": {}}]}})), "*");
        let pc = json!({"value": 1000});
        assert_eq!(priority_class_cells(&pc, json!("pc"), json!("1m"))[1..3], [json!(1000), json!(false)]);
        let rb = json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "ns"}, {"kind": "Group", "name": "devs"}]});
        assert_eq!(
            role_binding_cells(&rb, json!("rb"), json!("1m"))[1..],
            [json!("Role/r"), json!("1m"), json!("alice, bob"), json!("devs"), json!("ns/default")]
        );
        assert_eq!(role_binding_columns(true)[3].description, CLUSTERROLEBINDING_USERS);
    }
}

/// `endpointColumnDefinitions`.
pub fn endpoints_columns() -> Vec<Column> {
    vec![NAME_COLUMN, c("Endpoints", "Endpoints is the list of endpoints in the service."), AGE_COLUMN]
}

/// `formatEndpoints`: the ready `ip:port` pairs (a bare IP for a subset without ports), up
/// to three, then `+ N more...`; `<none>` without subsets.
pub fn endpoints_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    let empty = Vec::new();
    let subsets = obj.pointer("/subsets").and_then(Value::as_array).unwrap_or(&empty);
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addrs: Vec<&str> = ss["addresses"].as_array().into_iter().flatten().filter_map(|a| a["ip"].as_str()).collect();
        let ports: Vec<i64> = ss["ports"].as_array().into_iter().flatten().filter_map(|p| p["port"].as_i64()).collect();
        if ports.is_empty() {
            count += addrs.len();
            list.extend(addrs.iter().map(|a| a.to_string()));
            continue;
        }
        for port in ports {
            count += addrs.len();
            list.extend(addrs.iter().map(|a| if a.contains(':') { format!("[{a}]:{port}") } else { format!("{a}:{port}") }));
        }
    }
    let cell = if subsets.is_empty() {
        "<none>".to_string()
    } else if count > 3 {
        format!("{} + {} more...", list[..3].join(","), count - 3)
    } else {
        list.join(",")
    };
    vec![name, json!(cell), age]
}

/// `endpointSliceColumnDefinitions`.
pub fn endpoint_slice_columns() -> Vec<Column> {
    vec![
        NAME_COLUMN,
        c("AddressType", "Type of address carried by this EndpointSlice"),
        c("Ports", "Ports provided by this EndpointSlice"),
        c("Endpoints", "Endpoints in this EndpointSlice"),
        AGE_COLUMN,
    ]
}

/// `formatDiscoveryPorts` and `formatDiscoveryEndpoints`: up to three, then `+ N more...`;
/// `<unset>` for none.
pub fn endpoint_slice_cells(obj: &Value, name: Value, age: Value) -> Vec<Value> {
    fn first_three(items: Vec<String>) -> String {
        match items.len() {
            0 => "<unset>".into(),
            n if n > 3 => format!("{} + {} more...", items[..3].join(","), n - 3),
            _ => items.join(","),
        }
    }
    let ports: Vec<String> = obj
        .pointer("/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| p["port"].as_i64().map_or("<unset>".to_string(), |n| n.to_string()))
        .collect();
    let addresses: Vec<String> = obj
        .pointer("/endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    vec![name, json!(text(obj, "/addressType").unwrap_or_default()), json!(first_three(ports)), json!(first_three(addresses)), age]
}
