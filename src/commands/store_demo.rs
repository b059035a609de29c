//! `kubelab store-demo`: blog post II's books store, with client-go's `cache.Indexer`.
//!
//! The post stores books under a key and finds them by author through an index. Here a
//! book is a ConfigMap (any Kubernetes object works: the machinery only needs its
//! metadata), kept under `MetaNamespaceKeyFunc`'s `namespace/name` key, with its authors in
//! an annotation: an index function may return several values, so a book with two authors
//! is found under both. Every add, update and delete prints the keys and the `author`
//! index right after it, so one sees the index follow the objects without any scan.
//!
//! Nothing here talks to a cluster: an informer fills exactly this kind of indexer, which
//! `kubelab informer-demo` shows next.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use serde_json::json;

use super::live::Out;
use super::CommandError;
use crate::cli::Global;
use crate::machinery::indexer::{IndexFunc, Indexer, Indexers, NAMESPACE_INDEX};
use crate::machinery::lister::Lister;
use crate::machinery::store::{meta_namespace_key_func, Store, StoreError};

/// `kubelab store-demo` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The author to look up with `by_index("author", ...)` at the end.
    #[arg(long, default_value = "kernighan")]
    pub author: String,
}

/// The name of the demo's index (`cache.Indexers{"author": authorIndexFunc}`).
pub const AUTHOR_INDEX: &str = "author";
/// Where a book keeps its authors, comma-separated.
pub const AUTHORS_ANNOTATION: &str = "books.kubelab.dev/authors";

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        CommandError::new(e.to_string())
    }
}

/// A book: a ConfigMap named after it, authors in an annotation, title and year as data.
pub fn book(namespace: &str, name: &str, title: &str, year: u16, authors: &[&str]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.namespace = Some(namespace.into());
    cm.metadata.labels = Some(BTreeMap::from([("app.kubernetes.io/part-of".to_string(), "books".to_string())]));
    cm.metadata.annotations = Some(BTreeMap::from([(AUTHORS_ANNOTATION.to_string(), authors.join(","))]));
    cm.data = Some(BTreeMap::from([("title".to_string(), title.to_string()), ("year".to_string(), year.to_string())]));
    cm
}

/// The index function: one value per author (`func(obj) ([]string, error)`).
pub fn authors(book: &ConfigMap) -> Vec<String> {
    book.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(AUTHORS_ANNOTATION))
        .map(|v| v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// Runs the store walk-through.
pub async fn run(global: &Global, args: Args) -> Result<(), CommandError> {
    let out = Out::new(global);

    out.title("the key function: where an object is filed");
    out.note("MetaNamespaceKeyFunc: namespace/name for namespaced objects, name for cluster-scoped ones.\nkube-rs keys its reflector::Store by ObjectRef (kind, namespace, name) instead.");
    let gopl = book("library", "gopl", "The Go Programming Language", 2015, &["donovan", "kernighan"]);
    let mut ns = Namespace::default();
    ns.metadata.name = Some("library".into());
    for (what, key) in [("ConfigMap library/gopl", meta_namespace_key_func(&gopl)?), ("Namespace library", meta_namespace_key_func(&ns)?)] {
        out.step(&format!("key_func({what}) = {key}"), || json!({ "op": "key_func", "object": what, "key": key }));
    }
    let mut nameless = ConfigMap::default();
    nameless.metadata.namespace = Some("library".into());
    let err = meta_namespace_key_func(&nameless).err().map(|e| e.to_string()).unwrap_or_default();
    out.step(
        &format!("key_func(a book without a name) = error: {err}"),
        || json!({ "op": "key_func", "object": "nameless", "error": err }),
    );

    out.title("an indexer with an \"author\" index");
    out.note("cache.NewIndexer(MetaNamespaceKeyFunc, Indexers{\"namespace\": MetaNamespaceIndexFunc, \"author\": authors})");
    let mut indexers: Indexers<ConfigMap> = HashMap::new();
    let by_author: IndexFunc<ConfigMap> = Arc::new(authors);
    indexers.insert(AUTHOR_INDEX.into(), by_author);
    indexers.insert(NAMESPACE_INDEX.into(), Arc::new(crate::machinery::indexer::meta_namespace_index_func::<ConfigMap>));
    let store = Indexer::with_indexers(meta_namespace_key_func::<ConfigMap>, indexers);
    let names = store.indexer_names();
    out.step(&format!("indexers: {}", names.join(", ")), || json!({ "op": "indexers", "names": names }));

    out.title("add, update, delete: the index follows every change");
    let books = [
        gopl,
        book("library", "k-and-r", "The C Programming Language", 1978, &["kernighan", "ritchie"]),
        book("library", "programming-kubernetes", "Programming Kubernetes", 2019, &["hausenblas", "schimanski"]),
        book("archive", "kubernetes-in-action", "Kubernetes in Action", 2017, &["luksa"]),
    ];
    for b in books {
        let key = store.key_of(&b)?;
        store.add(Arc::new(b))?;
        show(&out, &store, "add", &key);
    }
    let mut second = book("archive", "kubernetes-in-action", "Kubernetes in Action, Second Edition", 2024, &["luksa", "sarcevic"]);
    second.metadata.resource_version = Some("2".into());
    store.update(Arc::new(second))?;
    show(&out, &store, "update", "archive/kubernetes-in-action");
    let k_and_r = store.get_by_key("library/k-and-r").ok_or_else(|| CommandError::new("library/k-and-r vanished from the store"))?;
    store.delete(&k_and_r)?;
    show(&out, &store, "delete", "library/k-and-r");

    out.title("reading: by_index, the namespace index, a lister");
    out.note("by_index is a map lookup, not a scan: the index already holds author -> keys.");
    let found: Vec<String> = store.by_index(AUTHOR_INDEX, &args.author)?.iter().map(|b| title(b)).collect();
    out.step(
        &format!("by_index(\"author\", {:?}) -> {}", args.author, list(&found)),
        || json!({ "op": "by_index", "index": AUTHOR_INDEX, "value": args.author, "titles": found }),
    );
    let values = store.list_index_func_values(AUTHOR_INDEX);
    out.step(
        &format!("list_index_func_values(\"author\") -> {}", list(&values)),
        || json!({ "op": "list_index_func_values", "values": values }),
    );
    let in_library = store.index_keys(NAMESPACE_INDEX, "library")?;
    out.step(
        &format!("index_keys(\"namespace\", \"library\") -> {}", list(&in_library)),
        || json!({ "op": "index_keys", "index": NAMESPACE_INDEX, "value": "library", "keys": in_library }),
    );
    let lister = Lister::new(store.clone());
    let got = lister.namespaced("archive").get("kubernetes-in-action").map(|b| title(&b)).unwrap_or_else(|| "(none)".into());
    out.step(
        &format!("lister.namespaced(\"archive\").get(\"kubernetes-in-action\") -> {got}"),
        || json!({ "op": "lister_get", "namespace": "archive", "name": "kubernetes-in-action", "title": got }),
    );

    let keys = store.list_keys();
    out.summary(
        &[format!("{} books: {}", keys.len(), keys.join(", ")), format!("books by {}: {}", args.author, found.len())],
        json!({ "keys": keys, "by_author": { args.author.clone(): found } }),
    );
    Ok(())
}

fn title(b: &ConfigMap) -> String {
    b.data.as_ref().and_then(|d| d.get("title")).cloned().unwrap_or_default()
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// One change and the state right after it: the keys, and the author index.
fn show(out: &Out, store: &Indexer<ConfigMap>, op: &str, key: &str) {
    let keys = store.list_keys();
    let index: BTreeMap<String, Vec<String>> = store
        .list_index_func_values(AUTHOR_INDEX)
        .into_iter()
        .map(|author| {
            let keys = store.index_keys(AUTHOR_INDEX, &author).unwrap_or_default();
            (author, keys)
        })
        .collect();
    let text = format!(
        "{op:<7} {key}\n        keys   {}\n        author {}",
        list(&keys),
        index.iter().map(|(a, k)| format!("{a}={}", list(k))).collect::<Vec<_>>().join(" ")
    );
    out.step(&text, || json!({ "op": op, "key": key, "keys": keys, "author_index": index }));
}
