//! apiextensions.k8s.io: CustomResourceDefinitions and the custom resources they define
//! (`staging/src/k8s.io/apiextensions-apiserver`). The CRD's strategy and validation are
//! here; its naming, establishing and finalizer loops run inside the sandbox
//! ([`controller`]) and put the custom resources into the catalogue ([`served`]); the
//! custom resources themselves go through the generic REST verbs with
//! `registry::CustomResourceStrategy`, which calls the structural-schema engine
//! ([`schema`]).

pub mod conditions;
pub mod controller;
pub mod schema;
pub mod served;
pub mod strategy;
pub mod validation;

pub use strategy::{CrdStrategy, CLEANUP_FINALIZER};
