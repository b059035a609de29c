//! The baseline for `benches/RESULTS.md` ("client startup"): the smallest kube-rs program
//! that lists nodes — read the kubeconfig named by KUBECONFIG, build the default client, one
//! GET, print the names. `kubelab list-nodes -q` is measured against it, so the difference is
//! kubelab's own overhead (argument parsing, target resolution, the recording layer).

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::from_env()?.ok_or("set KUBECONFIG")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    let nodes: Api<Node> = Api::all(kube::Client::try_from(config)?);
    for node in nodes.list(&ListParams::default()).await? {
        println!("{}", node.metadata.name.unwrap_or_default());
    }
    Ok(())
}
