//! The root-CA publisher (`pkg/controller/certificates/rootcacertpublisher`): every
//! namespace gets a `kube-root-ca.crt` ConfigMap holding the cluster CA, which pods mount
//! to verify the apiserver. An edited or deleted one is put back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};

use crate::machinery::delta_fifo::DeltaObject;
use crate::machinery::lister::Lister;
use crate::machinery::rate_limiting_queue::RateLimitingQueue;
use crate::machinery::shared_informer::ResourceEventHandlerFuncs;

pub const CONFIG_MAP: &str = "kube-root-ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub struct Publisher {
    client: kube::Client,
    root_ca: String,
    decisions: super::Decisions,
    namespaces: Lister<Namespace>,
    config_maps: Lister<ConfigMap>,
    queue: RateLimitingQueue<String>,
}

pub fn start(ctx: &super::Context) -> Result<(), super::StartError> {
    let queue = RateLimitingQueue::with_default_rate_limiter();
    let namespaces = ctx.factory.informer_for::<Namespace>()?;
    let config_maps = ctx.factory.informer_for::<ConfigMap>()?;
    let (q1, q2) = (queue.clone(), queue.clone());
    namespaces.add_named_event_handler(
        "root-ca-certificate-publisher",
        ResourceEventHandlerFuncs::new()
            .on_add(move |ns: &Arc<Namespace>, _| q1.add(ns.metadata.name.clone().unwrap_or_default()))
            .on_update(move |_, ns: &Arc<Namespace>| q2.add(ns.metadata.name.clone().unwrap_or_default())),
    );
    let (q3, q4) = (queue.clone(), queue.clone());
    let ours = |cm: &ConfigMap| cm.metadata.name.as_deref() == Some(CONFIG_MAP);
    config_maps.add_named_event_handler(
        "root-ca-certificate-publisher",
        ResourceEventHandlerFuncs::new()
            .on_update(move |_, cm: &Arc<ConfigMap>| {
                if ours(cm) {
                    q3.add(cm.metadata.namespace.clone().unwrap_or_default());
                }
            })
            .on_delete(move |cm: &DeltaObject<ConfigMap>| {
                if let DeltaObject::Object(cm) = cm {
                    if ours(cm) {
                        q4.add(cm.metadata.namespace.clone().unwrap_or_default());
                    }
                }
            }),
    );
    let publisher = Publisher {
        client: ctx.client("kube-controller-manager"),
        root_ca: ctx.ca_pem.clone(),
        decisions: ctx.decisions.clone(),
        namespaces: namespaces.lister(),
        config_maps: config_maps.lister(),
        queue,
    };
    ctx.spawn_workers(Arc::new(publisher), 1);
    Ok(())
}

impl super::Reconciler for Publisher {
    fn queue(&self) -> &RateLimitingQueue<String> {
        &self.queue
    }

    async fn sync(&self, ns: String) -> Result<Option<Duration>, kube::Error> {
        let Some(namespace) = self.namespaces.get(&ns) else { return Ok(None) };
        if namespace.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &ns);
        let data = BTreeMap::from([("ca.crt".to_string(), self.root_ca.clone())]);
        let result = match self.config_maps.get(&format!("{ns}/{CONFIG_MAP}")) {
            None => {
                let mut cm = ConfigMap { data: Some(data), ..Default::default() };
                cm.metadata.name = Some(CONFIG_MAP.into());
                cm.metadata.annotations = Some(BTreeMap::from([(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string())]));
                let created = api.create(&PostParams::default(), &cm).await.map(|_| ());
                if created.is_ok() {
                    self.decisions.say("root-ca-cert-publisher", &ns, &format!("published {CONFIG_MAP}"));
                }
                created
            }
            Some(cm) => {
                let described =
                    cm.metadata.annotations.as_ref().is_some_and(|a| a.get(DESCRIPTION_ANNOTATION).is_some_and(|d| !d.is_empty()));
                if cm.data.as_ref() == Some(&data) && described {
                    return Ok(None);
                }
                let mut cm = (*cm).clone();
                cm.data = Some(data);
                cm.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
                api.replace(CONFIG_MAP, &PostParams::default(), &cm).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(None),
            // The namespace is gone or terminating, or the cache lagged: the next event decides.
            Err(kube::Error::Api(s)) if matches!(s.code, 403 | 404 | 409) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
