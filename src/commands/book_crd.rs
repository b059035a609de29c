//! `kubelab book-crd`: "Extending Kubernetes with custom resources", request by request.
//!
//! The blog defines a `book` kind (author, title) with a CustomResourceDefinition, first
//! with no validation, then with a schema and a status subresource. Its CRD was
//! `apiextensions.k8s.io/v1beta1`, where a schema was optional; v1beta1 is gone since
//! Kubernetes 1.22 and v1 demands a structural schema for every version, so "no
//! validation" is written `x-kubernetes-preserve-unknown-fields: true`.
//!
//! Steps (each alone with `--step N`; `--cleanup` removes what they made):
//! 1. the CRD without validation, and wait for `Established`;
//! 2. a book with any fields at all, stored as sent;
//! 3. books listed through the raw API path the CRD opened;
//! 4. the CRD replaced: author and title required, a status subresource;
//! 5. an invalid book, refused with the server's field-level message;
//! 6. `status` written through `/status`, independently of `spec`.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use super::{CommandError, Session};
use crate::cli::Global;

pub const GROUP: &str = "kubelab.dev";
const CRD_NAME: &str = "books.kubelab.dev";
const STEPS: u8 = 6;

/// `kubelab book-crd` flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only this step (1-6); earlier steps' objects must exist for later ones.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=6))]
    pub step: Option<u8>,
    /// Remove the books and the CRD, then stop.
    #[arg(long)]
    pub cleanup: bool,
}

fn crd(schema: Value, status: bool) -> Value {
    let mut version = json!({"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}});
    if status {
        version["subresources"] = json!({"status": {}});
        version["additionalPrinterColumns"] = json!([
            {"name": "Author", "type": "string", "jsonPath": ".spec.author"},
            {"name": "Title", "type": "string", "jsonPath": ".spec.title"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ]);
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "books", "singular": "book", "kind": "Book", "shortNames": ["bk"]},
            "versions": [version],
        }
    })
}

/// Step 1's CRD: anything goes under the root.
pub fn crd_without_validation() -> Value {
    crd(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}), false)
}

/// Step 4's CRD: `spec.author` and `spec.title` required, a status of its own.
pub fn crd_with_schema() -> Value {
    crd(
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["author", "title"],
                    "properties": {
                        "author": {"type": "string", "minLength": 1},
                        "title": {"type": "string", "minLength": 1},
                        "pages": {"type": "integer", "minimum": 1},
                    }
                },
                "status": {"type": "object", "properties": {"borrowed": {"type": "boolean"}, "borrower": {"type": "string"}}}
            }
        }),
        true,
    )
}

fn books(s: &Session) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", "Book"), "books");
    Api::namespaced_with(s.client.clone(), s.client.default_namespace(), &ar)
}

fn book(name: &str, spec: Value) -> Result<DynamicObject, CommandError> {
    serde_json::from_value(json!({"apiVersion": format!("{GROUP}/v1"), "kind": "Book", "metadata": {"name": name}, "spec": spec}))
        .map_err(|e| CommandError::new(e.to_string()))
}

async fn wait_established(s: &Session, crds: &Api<CustomResourceDefinition>) -> Result<(), CommandError> {
    for _ in 0..100 {
        let crd = crds.get(CRD_NAME).await.map_err(|e| s.explain(e))?;
        let conditions = crd.status.and_then(|st| st.conditions).unwrap_or_default();
        if conditions.iter().any(|c| c.type_ == "Established" && c.status == "True") {
            s.n.detail("Established", "True: the books endpoints are served");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(CommandError::new(format!("{CRD_NAME} was not Established within 10 s")))
}

async fn apply_crd(s: &Session, doc: Value) -> Result<(), CommandError> {
    let crds: Api<CustomResourceDefinition> = Api::all(s.client.clone());
    s.n.block(serde_json::to_string_pretty(&doc["spec"]["versions"][0]).unwrap_or_default());
    crds.patch(CRD_NAME, &PatchParams::apply("kubelab-book-crd").force(), &Patch::Apply(&doc)).await.map_err(|e| s.explain(e))?;
    wait_established(s, &crds).await
}

async fn step(s: &mut Session, n: u8) -> Result<(), CommandError> {
    match n {
        1 => {
            s.n.step("1. a CustomResourceDefinition for books, without validation");
            s.n.note(
                "The blog's CRD was apiextensions.k8s.io/v1beta1, where a schema was optional. v1beta1 was\n\
                 removed in Kubernetes 1.22; v1 requires a structural schema per version, so \"no validation\"\n\
                 is spelled x-kubernetes-preserve-unknown-fields: true (keep every field as sent).",
            );
            apply_crd(s, crd_without_validation()).await?;
            println!("customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} established (no validation)");
        }
        2 => {
            s.n.step("2. a book with any fields: nothing checks them yet");
            let b = book(
                "kubernetes-up-and-running",
                json!({"author": "Brendan Burns", "title": "Kubernetes: Up and Running", "color": "blue"}),
            )?;
            let created = books(s).create(&PostParams::default(), &b).await.map_err(|e| s.explain(e))?;
            s.n.detail("stored spec", created.data["spec"].to_string());
            println!("book.{GROUP}/{} created", created.metadata.name.unwrap_or_default());
        }
        3 => {
            let ns = s.client.default_namespace().to_string();
            let path = format!("/apis/{GROUP}/v1/namespaces/{ns}/books");
            s.n.step(format!("3. books through the raw API path the CRD opened: GET {path}"));
            s.n.note("the same path kubectl uses; the CRD added it to discovery, so `kubectl get books` knows it too");
            let req = http::Request::get(&path).body(Vec::new()).map_err(|e| CommandError::new(e.to_string()))?;
            let text = s.client.request_text(req).await.map_err(|e| s.explain(e))?;
            let list: Value = serde_json::from_str(&text).map_err(|e| CommandError::new(e.to_string()))?;
            s.n.detail("kind", list["kind"].as_str().unwrap_or_default());
            for item in list["items"].as_array().into_iter().flatten() {
                println!("{}\t{}\t{}", item["metadata"]["name"].as_str().unwrap_or(""), item["spec"]["author"], item["spec"]["title"]);
            }
        }
        4 => {
            s.n.step("4. the CRD replaced: spec.author and spec.title required, and a status subresource");
            s.n.note("objects already stored are not re-validated; new writes are. With the status subresource,\nwrites to the book ignore .status and writes to /status ignore everything else.");
            apply_crd(s, crd_with_schema()).await?;
            println!("customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} updated (schema, status subresource)");
        }
        5 => {
            s.n.step("5. a book without a title: refused by the schema, with the field that is wrong");
            let b = book("untitled", json!({"author": "Nobody"}))?;
            match books(s).create(&PostParams::default(), &b).await {
                Err(kube::Error::Api(status)) => {
                    s.n.detail("code", status.code);
                    s.n.detail("reason", &status.reason);
                    println!("{}", status.message);
                }
                Ok(_) => {
                    return Err(CommandError::new("the invalid book was accepted: is step 4's schema in place?")
                        .hint("run `kubelab book-crd --step 4`"))
                }
                Err(e) => return Err(s.explain(e)),
            }
        }
        6 => {
            s.n.step("6. status written through /status, independently of spec");
            let api = books(s);
            let name = "kubernetes-up-and-running";
            let patch = json!({"status": {"borrowed": true, "borrower": "gopher"}, "spec": {"title": "ignored on /status"}});
            let after = api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| s.explain(e))?;
            s.n.detail("metadata.generation", after.metadata.generation.unwrap_or_default());
            s.n.note("generation did not move: it counts spec changes only, and /status changed none");
            println!("status {} ; spec.title {}", after.data["status"], after.data["spec"]["title"]);
        }
        _ => return Err(CommandError::new(format!("there are {STEPS} steps"))),
    }
    Ok(())
}

async fn cleanup(s: &mut Session) -> Result<(), CommandError> {
    s.n.step("cleanup: the books, then the CRD (deleting a CRD deletes its objects too)");
    let crds: Api<CustomResourceDefinition> = Api::all(s.client.clone());
    match crds.delete(CRD_NAME, &DeleteParams::default()).await {
        Ok(_) => println!("customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} deleted"),
        Err(kube::Error::Api(st)) if st.code == 404 => println!("nothing to clean up"),
        Err(e) => return Err(s.explain(e)),
    }
    Ok(())
}

pub async fn run(global: &Global, args: Args) -> Result<(), CommandError> {
    let mut s = Session::open(global).await?;
    if args.cleanup {
        return cleanup(&mut s).await;
    }
    match args.step {
        Some(n) => step(&mut s, n).await,
        None => {
            for n in 1..=STEPS {
                step(&mut s, n).await?;
            }
            Ok(())
        }
    }
}
