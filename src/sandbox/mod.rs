//! The sandbox: a small kube-apiserver (with its storage and controllers) embedded in kubelab,
//! so every lesson runs on a fresh machine with no cluster.

pub mod discovery;
pub mod managed_fields;
pub mod openapi;
pub mod patch;
pub mod registry;
pub mod resources;
pub mod selectors;
pub mod status;
pub mod table;
