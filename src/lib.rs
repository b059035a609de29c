//! kubelab: how a Kubernetes client really works, run layer by layer.

pub mod machinery;
pub mod sandbox;
