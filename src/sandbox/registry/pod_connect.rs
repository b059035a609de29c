//! `pods/exec`, `pods/attach` and `pods/portforward`: upstream these are `rest.Connecter`s
//! that upgrade the connection and proxy it to the node's kubelet and on to a running
//! container. The sandbox's kubelets run no processes, so there is nothing to connect to:
//! each answers one clear 400 pointing at what is simulated, the containers' logs.

use serde_json::Value;

use super::strategy::{Streamed, SubresourceStream, SubresourceStreamer};
use crate::sandbox::status::ApiError;

/// One of the streaming connections the sandbox refuses.
pub struct PodConnect {
    /// `exec`, `attach` or `portforward`.
    pub subresource: &'static str,
}

impl SubresourceStreamer for PodConnect {
    fn open(&self, req: SubresourceStream<'_>) -> Result<Streamed, ApiError> {
        // An unknown pod is the usual 404 first, as the apiserver looks the pod up before
        // it dials the kubelet.
        let pod = req.objects.get("", "Pod", req.namespace, req.name)?;
        let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(req.name);
        Err(ApiError::bad_request(format!(
            "pods/{} is not available in the kubelab sandbox: pod {name} runs no processes (its containers are simulated), \
             so exec, attach and port-forward cannot connect; see what a container would run with kubectl logs {name}",
            self.subresource
        )))
    }
}

pub const EXEC: PodConnect = PodConnect { subresource: "exec" };
pub const ATTACH: PodConnect = PodConnect { subresource: "attach" };
pub const PORT_FORWARD: PodConnect = PodConnect { subresource: "portforward" };
