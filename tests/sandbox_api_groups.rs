//! Every API group of a default kube-apiserver v1.34, as real kubectl sees the sandbox:
//! `api-resources`, short names, `create` of kinds outside core and apps, and `explain`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

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

struct Kubectl<'a> {
    kubeconfig: &'a Path,
    home: &'a Path,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig)
            .env("HOME", self.home)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .expect("kubectl runs")
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
    fn lines(&self, args: &[&str]) -> BTreeSet<String> {
        self.ok(args).lines().map(str::to_string).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_every_group_of_kube_apiserver_1_34() {
    let t = common::TestSandbox::start().await;
    let kubeconfig = t.kubeconfig();
    let kubectl_home = tempfile::tempdir().unwrap();
    let home_path = kubectl_home.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let k = Kubectl { kubeconfig: &kubeconfig, home: &home_path };

        let want: BTreeSet<String> = V1_34_RESOURCES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(k.lines(&["api-resources", "-o", "name"]), want);
        let namespaced: BTreeSet<String> = V1_34_RESOURCES.iter().filter(|(_, ns)| *ns).map(|(n, _)| n.to_string()).collect();
        assert_eq!(k.lines(&["api-resources", "--namespaced=true", "-o", "name"]), namespaced);
        let versions = k.lines(&["api-versions"]);
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
            assert_eq!(table.lines().count(), 2, "{resource}: one row: {table}");
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
    .await
    .unwrap();
}
