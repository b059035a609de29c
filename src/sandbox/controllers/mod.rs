//! The sandbox's controller manager: the loops that make a cluster more than a database.
//!
//! Each controller is an ordinary client of the apiserver: it follows the stream of
//! committed changes and writes back through the same REST layer a client uses.

pub mod namespace;

use std::sync::Arc;

use super::rest::Apiserver;

/// Starts every built-in controller; they stop when `shutdown` turns true.
pub fn spawn_all(api: Arc<Apiserver>, shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(namespace::run(api, shutdown));
}
