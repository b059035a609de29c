//! Who refused a request, read from the `Status` the server sent.
//!
//! A 403's `reason` is always `Forbidden`, whoever said no: the authorizer (RBAC) and most
//! admission plugins (ServiceAccount, ResourceQuota, LimitRanger, NamespaceLifecycle,
//! PodSecurity) all build it with `apierrors.NewForbidden(resource, name, cause)`, so the
//! message reads `pods "web" is forbidden: <cause>` and only the cause tells them apart.
//! Admission webhooks (any code, often 403 with no reason) and ValidatingAdmissionPolicies
//! (422 `Invalid` by default) word theirs differently. The patterns below are
//! kube-apiserver v1.34's own format strings.

use kube::core::Status;

/// The part of the server that refused. Its own words (which fields, which expression, how
/// much quota) stay in the Status message, which every caller prints; this adds who said
/// them, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The authorizer (RBAC, on most clusters): `User "u" cannot create resource "pods" in
    /// API group "" in the namespace "default"`.
    Authorization {
        user: String,
        verb: String,
        /// `pods`, `deployments.apps`, or a non-resource path such as `/metrics`.
        resource: String,
        /// `None` at the cluster scope.
        namespace: Option<String>,
        /// What the authorizer added after the sentence (RBAC: a role it could not find).
        why: Option<String>,
    },
    /// ServiceAccount admission: the pod's service account does not exist in its namespace.
    ServiceAccount { namespace: String, name: String },
    /// ResourceQuota admission: `exceeded quota: compute, requested: ...` or `failed quota: ...`.
    Quota { quota: Option<String> },
    /// LimitRanger admission: a container's resources outside the namespace's LimitRange.
    LimitRange,
    /// NamespaceLifecycle admission: the namespace is being deleted.
    NamespaceTerminating { namespace: String },
    /// Pod Security admission: the namespace enforces a level the pod violates.
    PodSecurity { level: String },
    /// A validating or mutating admission webhook denied it.
    Webhook { name: String },
    /// A ValidatingAdmissionPolicy's CEL validation failed.
    Policy { policy: String, binding: Option<String> },
    /// Forbidden for another reason (another admission plugin): only the message tells.
    Other,
}

impl Refusal {
    /// Reads the refusal out of a failure Status; `None` when the Status is not a refusal
    /// (a 404, a 409, a validation error, ...).
    pub fn of(status: &Status) -> Option<Refusal> {
        let message = status.message.as_str();
        if let Some(rest) = message.strip_prefix("admission webhook \"") {
            let (name, _) = rest.split_once('"')?;
            return Some(Refusal::Webhook { name: name.to_string() });
        }
        let cause = match message.split_once(" is forbidden: ") {
            Some((_, cause)) => cause,
            None => match message.strip_prefix("forbidden: ") {
                Some(cause) => cause,
                None if status.code == 403 || status.reason == "Forbidden" => message,
                None => return None,
            },
        };
        Some(Self::from_cause(cause))
    }

    fn from_cause(cause: &str) -> Refusal {
        if let Some(r) = authorization(cause) {
            return r;
        }
        if let Some(rest) = cause.strip_prefix("error looking up service account ") {
            let (who, _) = rest.split_once(": ").unwrap_or((rest, ""));
            let (namespace, name) = who.split_once('/').unwrap_or(("", who));
            return Refusal::ServiceAccount { namespace: namespace.to_string(), name: name.to_string() };
        }
        if let Some(rest) = cause.strip_prefix("exceeded quota: ").or_else(|| cause.strip_prefix("failed quota: ")) {
            let quota = rest.split([',', ':']).next().map(|q| q.trim().to_string());
            return Refusal::Quota { quota };
        }
        if cause.contains("quota") {
            return Refusal::Quota { quota: None };
        }
        if let Some(rest) = cause.strip_prefix("unable to create new content in namespace ") {
            if let Some(namespace) = rest.strip_suffix(" because it is being terminated") {
                return Refusal::NamespaceTerminating { namespace: namespace.to_string() };
            }
        }
        if let Some(rest) = cause.strip_prefix("violates PodSecurity \"") {
            let level = rest.split_once('"').map_or(rest, |(level, _)| level);
            return Refusal::PodSecurity { level: level.to_string() };
        }
        if [" usage per Container is ", " usage per Pod is ", " usage per PersistentVolumeClaim is ", " limit to request ratio per "]
            .iter()
            .any(|p| cause.contains(p))
        {
            return Refusal::LimitRange;
        }
        if let Some(rest) = cause.strip_prefix("ValidatingAdmissionPolicy '") {
            let (policy, rest) = rest.split_once('\'').unwrap_or((rest, ""));
            let binding = rest.strip_prefix(" with binding '").and_then(|b| b.split_once('\'')).map(|(b, _)| b.to_string());
            return Refusal::Policy { policy: policy.to_string(), binding };
        }
        Refusal::Other
    }

    /// Who refused and why, in one sentence.
    pub fn cause(&self) -> String {
        match self {
            Refusal::Authorization { user, verb, resource, namespace, why } => {
                let place = namespace.as_ref().map_or("at the cluster scope".to_string(), |ns| format!("in namespace {ns}"));
                let why = why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default();
                format!("authorization refused (RBAC, on most clusters): no role bound to {user} allows {verb} on {resource} {place}{why}")
            }
            Refusal::ServiceAccount { namespace, name } => {
                format!("admission refused, not RBAC: the ServiceAccount plugin found no service account {name:?} in namespace {namespace}")
            }
            Refusal::Quota { quota } => match quota {
                Some(q) => format!("admission refused, not RBAC: the ResourceQuota {q:?} of this namespace does not allow it"),
                None => "admission refused, not RBAC: a ResourceQuota of this namespace does not allow it".to_string(),
            },
            Refusal::LimitRange => {
                "admission refused, not RBAC: the LimitRanger plugin found resources outside this namespace's LimitRange".to_string()
            }
            Refusal::NamespaceTerminating { namespace } => {
                format!("admission refused, not RBAC: namespace {namespace} is being deleted, and accepts no new objects")
            }
            Refusal::PodSecurity { level } => format!("admission refused, not RBAC: the namespace enforces Pod Security {level:?}"),
            Refusal::Webhook { name } => format!("admission refused, not RBAC: the admission webhook {name:?} denied it"),
            Refusal::Policy { policy, binding } => {
                let binding = binding.as_ref().map(|b| format!(" (binding {b:?})")).unwrap_or_default();
                format!("admission refused, not RBAC: the ValidatingAdmissionPolicy {policy:?}{binding} denied it")
            }
            Refusal::Other => {
                "refused by the server's admission or authorization; the message after \"forbidden:\" is its reason".to_string()
            }
        }
    }

    /// What to do about it.
    pub fn advice(&self) -> String {
        match self {
            Refusal::Authorization { user, verb, resource, namespace, .. } => {
                let ns = namespace.as_ref().map(|ns| format!(" -n {ns}")).unwrap_or_default();
                format!(
                    "check with `kubectl auth can-i {verb} {resource}{ns} --as {user}`; a Role/ClusterRole and a binding to {user} grant it (an admin's job)"
                )
            }
            Refusal::ServiceAccount { namespace, name } if name == "default" => format!(
                "kube-controller-manager creates `default` in each namespace, so a cluster without one running (a bare kube-apiserver) has none: `kubectl create serviceaccount default -n {namespace}`"
            ),
            Refusal::ServiceAccount { namespace, name } => format!(
                "create it (`kubectl create serviceaccount {name} -n {namespace}`), or set the pod's serviceAccountName to one that exists"
            ),
            Refusal::Quota { quota } => {
                let describe = quota.as_ref().map_or("kubectl describe resourcequota".to_string(), |q| format!("kubectl describe resourcequota {q}"));
                format!("`{describe}` shows what is used and the hard limits; free some (delete objects), set the requests/limits it tracks, or ask for more")
            }
            Refusal::LimitRange => {
                "`kubectl describe limitrange` shows the minimum, maximum and ratio allowed; change the container's requests/limits".to_string()
            }
            Refusal::NamespaceTerminating { namespace } => {
                format!("wait until `kubectl get namespace {namespace}` says NotFound and create it again, or use another namespace")
            }
            Refusal::PodSecurity { .. } => "set the securityContext fields the message lists; the namespace's label pod-security.kubernetes.io/enforce sets the level".to_string(),
            Refusal::Webhook { .. } => {
                "the webhook's message is its reason; `kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations` shows who runs it".to_string()
            }
            Refusal::Policy { policy, .. } => {
                format!("the message names the failed CEL expression; `kubectl get validatingadmissionpolicy {policy} -o yaml` shows the rules")
            }
            Refusal::Other => "read the server's reason in the message; `kubectl auth can-i` tells an RBAC refusal from the rest".to_string(),
        }
    }
}

/// `User "u" cannot VERB resource "R" in API group "G" in the namespace "N"` (or `at the
/// cluster scope`), or `User "u" cannot VERB path "/p"`, each optionally followed by `: why`.
fn authorization(cause: &str) -> Option<Refusal> {
    let rest = cause.strip_prefix("User \"")?;
    let (user, rest) = rest.split_once("\" cannot ")?;
    let (verb, rest) = rest.split_once(' ')?;
    let (resource, namespace, rest) = if let Some(path) = rest.strip_prefix("path \"") {
        let (path, rest) = path.split_once('"')?;
        (path.to_string(), None, rest)
    } else {
        let rest = rest.strip_prefix("resource \"")?;
        let (resource, rest) = rest.split_once("\" in API group \"")?;
        let (group, rest) = rest.split_once('"')?;
        let resource = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
        if let Some(ns) = rest.strip_prefix(" in the namespace \"") {
            let (ns, rest) = ns.split_once('"')?;
            (resource, Some(ns.to_string()), rest)
        } else {
            (resource, None, rest.strip_prefix(" at the cluster scope")?)
        }
    };
    let why = rest.strip_prefix(": ").map(str::to_string);
    Some(Refusal::Authorization { user: user.to_string(), verb: verb.to_string(), resource, namespace, why })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Status bodies as kube-apiserver v1.34 sends them (JSON, as `kubectl -v=8` shows).
    fn status(body: &str) -> Status {
        serde_json::from_str(body).expect("a Status body")
    }

    #[test]
    fn each_refusal_is_told_apart_from_its_status_body() {
        // (body, the cause must contain, the advice must contain)
        let cases = [
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"real-p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found","reason":"Forbidden","details":{"name":"real-p","kind":"pods"},"code":403}"#,
                "the ServiceAccount plugin found no service account \"default\" in namespace default",
                "kubectl create serviceaccount default -n default",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"system:serviceaccount:default:reader\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}"#,
                "authorization refused (RBAC, on most clusters): no role bound to system:serviceaccount:default:reader allows create on pods in namespace default",
                "kubectl auth can-i create pods -n default --as system:serviceaccount:default:reader",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"kind":"nodes"},"code":403}"#,
                "allows list on nodes at the cluster scope",
                "kubectl auth can-i list nodes --as alice",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"prod\": RBAC: clusterrole.rbac.authorization.k8s.io \"deployer\" not found","reason":"Forbidden","details":{"name":"web","group":"apps","kind":"deployments"},"code":403}"#,
                "allows get on deployments.apps in namespace prod (RBAC: clusterrole.rbac.authorization.k8s.io \"deployer\" not found)",
                "kubectl auth can-i get deployments.apps -n prod --as bob",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/metrics\"","reason":"Forbidden","details":{},"code":403}"#,
                "allows get on /metrics at the cluster scope",
                "kubectl auth can-i get /metrics --as system:anonymous",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10","reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403}"#,
                "the ResourceQuota \"compute\" of this namespace",
                "kubectl describe resourcequota compute",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden: failed quota: compute: must specify limits.cpu for: web; requests.cpu for: web","reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403}"#,
                "the ResourceQuota \"compute\"",
                "set the requests/limits it tracks",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden: maximum cpu usage per Container is 500m, but limit is 2","reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403}"#,
                "LimitRange",
                "kubectl describe limitrange",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden: unable to create new content in namespace old because it is being terminated","reason":"Forbidden","details":{"name":"web","kind":"pods","causes":[{"reason":"NamespaceTerminating","message":"namespace old is being terminated","field":"metadata.namespace"}]},"code":403}"#,
                "namespace old is being deleted",
                "kubectl get namespace old",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"web\" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container \"web\" must set securityContext.runAsNonRoot=true)","reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403}"#,
                "the namespace enforces Pod Security \"restricted:latest\"",
                "pod-security.kubernetes.io/enforce",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"admission webhook \"validate.policy.example.com\" denied the request: images must come from registry.example.com","code":403}"#,
                "the admission webhook \"validate.policy.example.com\" denied it",
                "validatingwebhookconfigurations,mutatingwebhookconfigurations",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-prod' denied request: failed expression: object.spec.replicas <= 5","reason":"Invalid","details":{"name":"web","group":"apps","kind":"deployments"},"code":422}"#,
                "the ValidatingAdmissionPolicy \"max-replicas\" (binding \"max-replicas-prod\") denied it",
                "kubectl get validatingadmissionpolicy max-replicas -o yaml",
            ),
            (
                r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" is forbidden: a mirror pod may not reference service accounts","reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403}"#,
                "admission or authorization",
                "kubectl auth can-i",
            ),
        ];
        for (body, cause, advice) in cases {
            let s = status(body);
            let r = Refusal::of(&s).unwrap_or_else(|| panic!("a refusal: {}", s.message));
            assert!(r.cause().contains(cause), "{}\n  cause: {}\n  wanted: {cause}", s.message, r.cause());
            assert!(r.advice().contains(advice), "{}\n  advice: {}\n  wanted: {advice}", s.message, r.advice());
            let rbac = matches!(r, Refusal::Authorization { .. });
            assert_eq!(r.cause().contains("not RBAC"), !rbac && r != Refusal::Other, "{}", r.cause());
        }
    }

    #[test]
    fn what_is_not_a_refusal_is_left_to_its_reason() {
        for body in [
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" already exists","reason":"AlreadyExists","details":{"name":"web","kind":"pods"},"code":409}"#,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"namespaces"},"code":404}"#,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Pod \"Hello_World\" is invalid: metadata.name: Invalid value: \"Hello_World\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'","reason":"Invalid","code":422}"#,
        ] {
            assert_eq!(Refusal::of(&status(body)), None, "{body}");
        }
    }

    #[test]
    fn the_service_account_refusal_keeps_its_parts() {
        let s = status(
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: error looking up service account team-a/builder: serviceaccount \"builder\" not found","reason":"Forbidden","code":403}"#,
        );
        let r = Refusal::of(&s).unwrap();
        assert!(matches!(&r, Refusal::ServiceAccount { namespace, name } if namespace == "team-a" && name == "builder"), "{r:?}");
        assert!(r.advice().starts_with("create it (`kubectl create serviceaccount builder -n team-a`)"), "{}", r.advice());
    }
}
