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
//! same role:
//!
//! | module | client-go | kube-rs runtime |
//! | --- | --- | --- |
//! | [`workqueue`] | `util/workqueue` `Type` | `Controller`'s scheduler + runner |
//! | [`delaying_queue`] | `DelayingInterface` | `scheduler` (`DelayQueue`) |
//! | [`rate_limiter`], [`rate_limiting_queue`] | `DefaultControllerRateLimiter`, `RateLimitingInterface` | `error_policy` -> `Action::requeue` |
//! | [`store`], [`indexer`], [`lister`] | `cache.Store`, `cache.Indexer`, generated listers | `reflector::Store` |
//! | [`delta_fifo`] | `cache.DeltaFIFO` | `watcher::Event` stream |
//! | [`reflector`] | `cache.Reflector` | `watcher` |
//! | [`shared_informer`] | `sharedIndexInformer`, `sharedProcessor`, `processorListener` | `reflector` + shared streams |
//! | [`informer_factory`] | `informers.SharedInformerFactory` | (none) |
//! Every long-running part takes a [`stop::StopSignal`]; the reflector, the
//! DeltaFIFO and the informer accept a [`trace::Tracer`] so a demo can narrate the hand-offs.

pub mod delaying_queue;
pub mod delta_fifo;
pub mod indexer;
pub mod informer_factory;
pub mod lister;
pub mod metadata_informer;
pub mod rate_limiter;
pub mod rate_limiting_queue;
pub mod reflector;
pub mod shared_informer;
pub mod stop;
pub mod store;
pub mod trace;
pub mod workqueue;
