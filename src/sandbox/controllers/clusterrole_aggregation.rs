//! The ClusterRole aggregation controller (`pkg/controller/clusterroleaggregation`): a
//! ClusterRole with an `aggregationRule` gets the rules of every ClusterRole its selectors
//! match. That is how `admin`, `edit` and `view` come to hold rules, and how a CRD's author
//! extends them with a role labelled `rbac.authorization.k8s.io/aggregate-to-view: "true"`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::controller_ref::selects;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

const WHO: &str = "clusterrole-aggregation";
/// The field manager of its applies.
const MANAGER: &str = "clusterrole-aggregation-controller";

pub struct Aggregator {
    client: kube::Client,
    roles: Lister<ClusterRole>,
    queue: RateLimitingQueue<String>,
    decisions: super::Decisions,
}

/// Upstream's `enqueue`: any change to any ClusterRole may change what an aggregated one
/// should hold, so every aggregating role is looked at again.
fn enqueue_aggregating(roles: &Lister<ClusterRole>, queue: &RateLimitingQueue<String>) {
    for r in roles.list_matching(|r| r.aggregation_rule.is_some()) {
        queue.add(r.metadata.name.clone().unwrap_or_default());
    }
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let informer = ctx.factory.informer_for::<ClusterRole>()?;
    let roles = informer.lister();
    let (l1, l2, l3) = (roles.clone(), roles.clone(), roles.clone());
    let (q1, q2, q3) = (queue.clone(), queue.clone(), queue.clone());
    informer.add_named_event_handler(
        "clusterrole-aggregation-controller",
        ResourceEventHandlerFuncs::new()
            .on_add(move |_, _| enqueue_aggregating(&l1, &q1))
            .on_update(move |_, _| enqueue_aggregating(&l2, &q2))
            .on_delete(move |_| enqueue_aggregating(&l3, &q3)),
    );
    let aggregator = Aggregator { client: ctx.client("kube-controller-manager"), roles, queue, decisions: ctx.decisions.clone() };
    ctx.spawn_workers(Arc::new(aggregator), 5);
    Ok(())
}

/// The rules `role` should hold: those of the roles its selectors match, in selector
/// order, each selector's roles by name, without repeats (`syncClusterRole`).
pub fn aggregated_rules(role: &ClusterRole, all: &[Arc<ClusterRole>]) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    let selectors = role.aggregation_rule.as_ref().and_then(|a| a.cluster_role_selectors.clone()).unwrap_or_default();
    for selector in &selectors {
        let mut matched: Vec<&Arc<ClusterRole>> =
            all.iter().filter(|r| r.metadata.name != role.metadata.name && selects(selector, r.metadata.labels.as_ref())).collect();
        matched.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for r in matched {
            for rule in r.rules.iter().flatten() {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    rules
}

impl super::Reconciler for Aggregator {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, name: String) -> Result<Option<Duration>, kube::Error> {
        let Some(role) = self.roles.get(&name) else { return Ok(None) };
        if role.aggregation_rule.is_none() {
            return Ok(None);
        }
        let rules = aggregated_rules(&role, &self.roles.list());
        if role.rules.clone().unwrap_or_default() == rules {
            return Ok(None);
        }
        let apply =
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules});
        let api: Api<ClusterRole> = Api::all(self.client.clone());
        api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&apply)).await?;
        self.decisions.say(WHO, &name, &format!("aggregated {} rule(s)", rules.len()));
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, labels: serde_json::Value, rules: serde_json::Value, aggregate: Option<serde_json::Value>) -> Arc<ClusterRole> {
        let mut v = json!({"metadata": {"name": name, "labels": labels}, "rules": rules});
        if let Some(a) = aggregate {
            v["aggregationRule"] = json!({"clusterRoleSelectors": a});
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn rules_come_from_matching_roles_by_name_without_repeats() {
        let get_pods = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]});
        let list_cms = json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]});
        let view = role("view", json!({}), json!(null), Some(json!([{"matchLabels": {"to-view": "true"}}])));
        let all = vec![
            view.clone(),
            role("z-books", json!({"to-view": "true"}), json!([list_cms, get_pods]), None),
            role("a-pods", json!({"to-view": "true"}), json!([get_pods]), None),
            role("other", json!({"to-edit": "true"}), json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]), None),
        ];
        let got: Vec<String> = aggregated_rules(&view, &all).iter().map(|r| r.resources.clone().unwrap_or_default().join(",")).collect();
        assert_eq!(got, ["pods", "configmaps"]);
    }
}
