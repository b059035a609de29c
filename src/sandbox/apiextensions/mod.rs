//! apiextensions-apiserver's machinery: what custom resources are checked, pruned and
//! defaulted with.

pub mod schema;
