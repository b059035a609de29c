//! client-go's controller machinery, rebuilt in Rust so each piece can be watched at work.
//!
//! The pipeline, as in the blog series "Understanding Kubernetes controllers":
//!
//! ```text
//! API server --list/watch--> Reflector --deltas--> DeltaFIFO --pop--> SharedIndexInformer
//!                                                                       |-> Indexer (cache) <- Lister
//!                                                                       '-> sharedProcessor -> processorListener -> handler
//!                                                                                                                  '-> WorkQueue -> workers
//! ```
//!
//! Each file mirrors one client-go piece and names the kube-rs runtime piece that plays the
//! same role. Every long-running part takes a [`stop::StopSignal`]; the reflector, the
//! DeltaFIFO and the informer accept a [`trace::Tracer`] so a demo can narrate the hand-offs.

pub mod delaying_queue;
pub mod delta_fifo;
pub mod indexer;
pub mod informer_factory;
pub mod lister;
pub mod rate_limiter;
pub mod rate_limiting_queue;
pub mod reflector;
pub mod shared_informer;
pub mod stop;
pub mod store;
pub mod trace;
pub mod workqueue;
