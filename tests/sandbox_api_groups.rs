//! Every API group of a default kube-apiserver v1.34, as real kubectl sees the sandbox:
//! `api-resources`, short names, `create` of kinds outside core and apps, and `explain`.

mod common;

use std::collections::BTreeSet;

/// `kubectl api-resources -o name` of a default kube-apiserver v1.34 (GA versions only),
/// written from upstream's `pkg/registry/*/rest/storage_*.go`, with whether each is
/// namespaced.
const V1_34_RESOURCES: &[(&str, bool)] = &[
    ("bindings", true),
    ("componentstatuses", false),
    ("configmaps", true),
    ("endpoints", true),
    ("events", true),
    ("limitranges", true),
    ("namespaces", false),
    ("nodes", false),
    ("persistentvolumeclaims", true),
    ("persistentvolumes", false),
    ("pods", true),
    ("podtemplates", true),
    ("replicationcontrollers", true),
    ("resourcequotas", true),
    ("secrets", true),
    ("serviceaccounts", true),
    ("services", true),
    ("mutatingwebhookconfigurations.admissionregistration.k8s.io", false),
    ("validatingadmissionpolicies.admissionregistration.k8s.io", false),
    ("validatingadmissionpolicybindings.admissionregistration.k8s.io", false),
    ("validatingwebhookconfigurations.admissionregistration.k8s.io", false),
    ("customresourcedefinitions.apiextensions.k8s.io", false),
    ("apiservices.apiregistration.k8s.io", false),
    ("controllerrevisions.apps", true),
    ("daemonsets.apps", true),
    ("deployments.apps", true),
    ("replicasets.apps", true),
    ("statefulsets.apps", true),
    ("selfsubjectreviews.authentication.k8s.io", false),
    ("tokenreviews.authentication.k8s.io", false),
    ("localsubjectaccessreviews.authorization.k8s.io", true),
    ("selfsubjectaccessreviews.authorization.k8s.io", false),
    ("selfsubjectrulesreviews.authorization.k8s.io", false),
    ("subjectaccessreviews.authorization.k8s.io", false),
    ("horizontalpodautoscalers.autoscaling", true),
    ("cronjobs.batch", true),
    ("jobs.batch", true),
    ("certificatesigningrequests.certificates.k8s.io", false),
    ("leases.coordination.k8s.io", true),
    ("endpointslices.discovery.k8s.io", true),
    ("events.events.k8s.io", true),
    ("flowschemas.flowcontrol.apiserver.k8s.io", false),
    ("prioritylevelconfigurations.flowcontrol.apiserver.k8s.io", false),
    ("ingressclasses.networking.k8s.io", false),
    ("ingresses.networking.k8s.io", true),
    ("ipaddresses.networking.k8s.io", false),
    ("networkpolicies.networking.k8s.io", true),
    ("servicecidrs.networking.k8s.io", false),
    ("runtimeclasses.node.k8s.io", false),
    ("poddisruptionbudgets.policy", true),
    ("clusterrolebindings.rbac.authorization.k8s.io", false),
    ("clusterroles.rbac.authorization.k8s.io", false),
    ("rolebindings.rbac.authorization.k8s.io", true),
    ("roles.rbac.authorization.k8s.io", true),
    ("deviceclasses.resource.k8s.io", false),
    ("resourceclaims.resource.k8s.io", true),
    ("resourceclaimtemplates.resource.k8s.io", true),
    ("resourceslices.resource.k8s.io", false),
    ("priorityclasses.scheduling.k8s.io", false),
    ("csidrivers.storage.k8s.io", false),
    ("csinodes.storage.k8s.io", false),
    ("csistoragecapacities.storage.k8s.io", true),
    ("storageclasses.storage.k8s.io", false),
    ("volumeattachments.storage.k8s.io", false),
    ("volumeattributesclasses.storage.k8s.io", false),
];

/// Upstream's short names outside core and apps (each kind's `ShortNames()`).
const SHORT_NAMES: &[&str] = &["hpa", "cj", "csr", "ing", "ip", "netpol", "pdb", "pc", "sc", "vac", "crd", "crds"];

use common::{with_kubectl, Kubectl};

fn lines(k: &Kubectl, args: &[&str]) -> BTreeSet<String> {
    k.ok(args).lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_every_group_of_kube_apiserver_1_34() {
    with_kubectl(|k| {

        let want: BTreeSet<String> = V1_34_RESOURCES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(lines(&k, &["api-resources", "-o", "name"]), want);
        let namespaced: BTreeSet<String> = V1_34_RESOURCES.iter().filter(|(_, ns)| *ns).map(|(n, _)| n.to_string()).collect();
        assert_eq!(lines(&k, &["api-resources", "--namespaced=true", "-o", "name"]), namespaced);
        let versions = lines(&k, &["api-versions"]);
        for gv in ["autoscaling/v1", "autoscaling/v2", "resource.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1", "apiregistration.k8s.io/v1"] {
            assert!(versions.contains(gv), "{gv} in {versions:?}");
        }
        assert!(!versions.iter().any(|v| v.contains("alpha") || v.contains("beta")), "no pre-release API is on by default: {versions:?}");
        for short in SHORT_NAMES {
            k.ok(&["get", short]);
        }

        // `kubectl create <kind>` for kinds of batch, rbac, policy, networking and scheduling.
        let created = [
            (vec!["create", "job", "j1", "--image=busybox"], "job.batch/j1 created"),
            (vec!["create", "cronjob", "c1", "--image=busybox", "--schedule=*/5 * * * *"], "cronjob.batch/c1 created"),
            (vec!["create", "role", "r1", "--verb=get", "--resource=pods"], "role.rbac.authorization.k8s.io/r1 created"),
            (vec!["create", "rolebinding", "rb1", "--role=r1", "--user=alice"], "rolebinding.rbac.authorization.k8s.io/rb1 created"),
            (vec!["create", "pdb", "p1", "--selector=app=web", "--min-available=1"], "poddisruptionbudget.policy/p1 created"),
            (vec!["create", "ingress", "i1", "--rule=foo.example.com/bar=svc1:8080"], "ingress.networking.k8s.io/i1 created"),
            (vec!["create", "priorityclass", "pc1", "--value=1000"], "priorityclass.scheduling.k8s.io/pc1 created"),
        ];
        for (args, said) in &created {
            assert!(k.ok(args).contains(said), "kubectl {args:?}");
        }
        let jsonpath = |resource: &str, path: &str| k.ok(&["get", resource, "-o", &format!("jsonpath={path}")]);
        assert_eq!(jsonpath("job/j1", "{.spec.template.spec.containers[0].image}"), "busybox");
        assert_eq!(jsonpath("cj/c1", "{.spec.schedule}"), "*/5 * * * *");
        assert_eq!(jsonpath("role/r1", "{.rules[0].resources[0]}"), "pods");
        assert_eq!(jsonpath("rolebinding/rb1", "{.roleRef.name} {.subjects[0].name}"), "r1 alice");
        assert_eq!(jsonpath("pdb/p1", "{.spec.minAvailable}"), "1");
        assert_eq!(jsonpath("ing/i1", "{.spec.rules[0].host}"), "foo.example.com");
        assert_eq!(jsonpath("pc/pc1", "{.value}"), "1000");
        // Server-side tables with upstream's columns.
        for (resource, header) in [
            ("jobs", "STATUS"),
            ("cronjobs", "SCHEDULE"),
            ("rolebindings", "ROLE"),
            ("pdb", "MIN AVAILABLE"),
            ("ingresses", "HOSTS"),
            ("priorityclasses", "GLOBAL-DEFAULT"),
        ] {
            let table = k.ok(&["get", resource]);
            let first = table.lines().next().unwrap_or_default();
            assert!(first.starts_with("NAME") && first.contains(header), "{resource}: {table}");
            // Besides ours, a new cluster's two system PriorityClasses.
            let rows = if resource == "priorityclasses" { 4 } else { 2 };
            assert_eq!(table.lines().count(), rows, "{resource}: {table}");
        }
        let row = k.ok(&["get", "rolebinding", "rb1", "-o", "wide", "--no-headers"]);
        assert!(row.contains("Role/r1") && row.contains("alice"), "{row}");
        assert!(k.ok(&["delete", "pdb", "p1"]).contains("deleted"));
        assert!(k.run(&["get", "pdb", "p1"]).stderr.starts_with(b"Error from server (NotFound)"));

        // An autoscaling/v1 HPA reads back as v1; kubectl's default is v2.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hpa.yaml");
        std::fs::write(
            &file,
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h1\nspec:\n  maxReplicas: 3\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  targetCPUUtilizationPercentage: 50\n",
        )
        .unwrap();
        k.ok(&["create", "-f", file.to_str().unwrap()]);
        assert_eq!(jsonpath("horizontalpodautoscalers.v1.autoscaling/h1", "{.apiVersion} {.spec.targetCPUUtilizationPercentage}"), "autoscaling/v1 50");

        // Explain, through each group's OpenAPI v3 document.
        for (what, group, kind) in [
            ("cronjob.spec.schedule", "batch", "CronJob"),
            ("ingress.spec.rules", "networking.k8s.io", "Ingress"),
            ("role.rules", "rbac.authorization.k8s.io", "Role"),
            ("hpa.spec.metrics", "autoscaling", "HorizontalPodAutoscaler"),
            ("resourceclaim.spec", "resource.k8s.io", "ResourceClaim"),
            ("tokenreview.spec", "authentication.k8s.io", "TokenReview"),
        ] {
            let explain = k.ok(&["explain", what]);
            assert!(explain.contains(&format!("GROUP:      {group}")) && explain.contains(&format!("KIND:       {kind}")), "{explain}");
            assert!(explain.contains("DESCRIPTION:"), "{explain}");
        }
    })
    .await;
}

/// A minimal object of every stored kind outside core, apps, events.k8s.io and
/// coordination.k8s.io, by `group/version/plural`: only the fields their Go types need to
/// decode (the sandbox validates none of these kinds yet).
fn sample(group: &str, version: &str, plural: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    let pod_template = json!({"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}});
    let role_ref = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"});
    let hpa = json!({"maxReplicas": 3, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}});
    Some(match (group, version, plural) {
        ("admissionregistration.k8s.io", "v1", _) => json!({}),
        ("apiextensions.k8s.io", "v1", "customresourcedefinitions") => json!({"spec": {
            "group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}}),
        ("apiregistration.k8s.io", "v1", "apiservices") => {
            json!({"spec": {"group": "example.com", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 10}})
        }
        ("autoscaling", "v1" | "v2", "horizontalpodautoscalers") => json!({"spec": hpa}),
        ("batch", "v1", "jobs") => json!({"spec": {"template": pod_template}}),
        ("batch", "v1", "cronjobs") => json!({"spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": pod_template}}}}),
        ("certificates.k8s.io", "v1", "certificatesigningrequests") => {
            json!({"spec": {"request": "Y3Ny", "signerName": "example.com/signer"}})
        }
        ("discovery.k8s.io", "v1", "endpointslices") => json!({"addressType": "IPv4", "endpoints": []}),
        ("flowcontrol.apiserver.k8s.io", "v1", _) => json!({}),
        ("networking.k8s.io", "v1", _) => json!({}),
        ("node.k8s.io", "v1", "runtimeclasses") => json!({"handler": "runc"}),
        ("policy", "v1", "poddisruptionbudgets") => json!({"spec": {"minAvailable": 1}}),
        ("rbac.authorization.k8s.io", "v1", "roles" | "clusterroles") => json!({"rules": []}),
        ("rbac.authorization.k8s.io", "v1", "rolebindings" | "clusterrolebindings") => json!({"roleRef": role_ref}),
        ("resource.k8s.io", "v1", "deviceclasses" | "resourceclaims") => json!({"spec": {}}),
        ("resource.k8s.io", "v1", "resourceclaimtemplates") => json!({"spec": {"spec": {}}}),
        ("resource.k8s.io", "v1", "resourceslices") => {
            json!({"spec": {"driver": "example.com", "pool": {"name": "p", "generation": 0, "resourceSliceCount": 1}}})
        }
        ("scheduling.k8s.io", "v1", "priorityclasses") => json!({"value": 10}),
        ("storage.k8s.io", "v1", "csidrivers") => json!({"spec": {}}),
        ("storage.k8s.io", "v1", "csinodes") => json!({"spec": {"drivers": []}}),
        ("storage.k8s.io", "v1", "csistoragecapacities") => json!({"storageClassName": "standard"}),
        ("storage.k8s.io", "v1", "storageclasses") => json!({"provisioner": "example.com/disk"}),
        ("storage.k8s.io", "v1", "volumeattachments") => {
            json!({"spec": {"attacher": "example.com", "nodeName": "kubelab-worker-1", "source": {"persistentVolumeName": "pv"}}})
        }
        ("storage.k8s.io", "v1", "volumeattributesclasses") => json!({"driverName": "example.com"}),
        _ => return None,
    })
}

/// Create, get, list by label, merge-patch, watch, Table and delete for every stored kind
/// of the groups the sandbox serves without per-kind code: the generic REST layer alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_crud_list_watch_and_table_for_every_new_kind() {
    use futures::StreamExt;
    use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
    use kube::discovery::{verbs, Discovery, Scope};
    use serde_json::json;

    let t = common::TestSandbox::start().await;
    let client = t.sandbox.client().await.unwrap();
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let mut exercised = 0;
    for group in discovery.groups() {
        if matches!(group.name(), "" | "apps" | "events.k8s.io" | "coordination.k8s.io") {
            continue;
        }
        for version in group.versions() {
            for (ar, caps) in group.versioned_resources(version) {
                if !caps.supports_operation(verbs::LIST) {
                    assert_eq!(caps.operations, vec![verbs::CREATE.to_string()], "{} is a review", ar.plural);
                    continue;
                }
                let what = format!("{}/{}/{}", ar.group, ar.version, ar.plural);
                let mut body = sample(&ar.group, &ar.version, &ar.plural).unwrap_or_else(|| panic!("no sample object for {what}"));
                let name = if ar.plural == "customresourcedefinitions" {
                    "widgets.example.com".to_string()
                } else {
                    format!("{}-1", ar.kind.to_lowercase())
                };
                body["apiVersion"] = json!(ar.api_version);
                body["kind"] = json!(ar.kind);
                body["metadata"] = json!({"name": name, "labels": {"suite": "api-groups"}});
                let api: Api<DynamicObject> = match caps.scope {
                    Scope::Namespaced => Api::namespaced_with(client.clone(), "default", &ar),
                    Scope::Cluster => Api::all_with(client.clone(), &ar),
                };
                let obj: DynamicObject = serde_json::from_value(body).unwrap();
                let created = api.create(&PostParams::default(), &obj).await.unwrap_or_else(|e| panic!("create {what}: {e}"));
                let rv = created.metadata.resource_version.clone().unwrap();
                assert_eq!(created.types.as_ref().unwrap().api_version, ar.api_version, "{what}");
                api.get(&name).await.unwrap_or_else(|e| panic!("get {what}: {e}"));
                let listed = api.list(&ListParams::default().labels("suite=api-groups")).await.unwrap();
                assert_eq!(listed.items.len(), 1, "{what}");

                let mut watch = api.watch(&WatchParams::default().timeout(5), &rv).await.unwrap().boxed();
                let patch = Patch::Merge(json!({"metadata": {"labels": {"patched": "yes"}}}));
                let patched = api.patch(&name, &PatchParams::default(), &patch).await.unwrap_or_else(|e| panic!("patch {what}: {e}"));
                assert_eq!(patched.metadata.labels.unwrap()["patched"], "yes", "{what}");
                match watch.next().await {
                    Some(Ok(WatchEvent::Modified(o))) => assert_eq!(o.metadata.name.as_deref(), Some(name.as_str()), "{what}"),
                    other => panic!("watch {what}: {other:?}"),
                }

                let url = format!("{}?labelSelector=suite%3Dapi-groups", ar_collection_url(&ar, caps.scope == Scope::Namespaced));
                let req = http::Request::get(url).header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").body(vec![]).unwrap();
                let table: serde_json::Value = client.request(req).await.unwrap_or_else(|e| panic!("table {what}: {e}"));
                assert_eq!(table["kind"], "Table", "{what}");
                assert_eq!(table["rows"][0]["cells"][0], json!(name), "{what}");

                api.delete(&name, &DeleteParams::default()).await.unwrap_or_else(|e| panic!("delete {what}: {e}"));
                // A CRD goes once its finalizer has removed its custom resources.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while api.get_opt(&name).await.unwrap().is_some() {
                    assert!(ar.plural == "customresourcedefinitions" && std::time::Instant::now() < deadline, "{what} is gone");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                exercised += 1;
            }
        }
    }
    // v1.34's stored resources outside those four groups: 35, and autoscaling/v1's HPAs.
    assert_eq!(exercised, 36, "stored kinds exercised");
}

fn ar_collection_url(ar: &kube::api::ApiResource, namespaced: bool) -> String {
    let base = format!("/apis/{}/{}", ar.group, ar.version);
    if namespaced {
        format!("{base}/namespaces/default/{}", ar.plural)
    } else {
        format!("{base}/{}", ar.plural)
    }
}

/// A deprecated API warns on every verb, watch included, in kube-apiserver's words.
#[tokio::test(flavor = "multi_thread")]
async fn deprecated_endpoints_warn_as_kubectl_prints_it() {
    common::with_kubectl(|k| {
        let warning = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice";
        let out = k.run(&["get", "endpoints", "-A"]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(warning), "{}", String::from_utf8_lossy(&out.stderr));
        let out = k.run(&["get", "endpointslices", "-A"]);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("deprecated"), "{}", String::from_utf8_lossy(&out.stderr));
        let out = k.run(&["get", "endpoints", "--watch", "--request-timeout=1s"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains(warning), "{}", String::from_utf8_lossy(&out.stderr));
    })
    .await;
}
