//! The service-account issuer discovery endpoints as OpenAPI describes them:
//! `/openapi/v3/.well-known/openid-configuration` and `/openapi/v3/openid/v1/jwks`.
//!
//! Upstream registers them as go-restful web services (`pkg/routes/openidmetadata.go`) that
//! return a plain string, so their documents have one `GET`, no parameters and no schemas.

use serde_json::{json, Value};

use super::KUBERNETES_VERSION;
use crate::sandbox::oidc::{JWKS_PATH, OPENID_CONFIG_PATH};

/// One issuer discovery endpoint.
pub struct Endpoint {
    /// How `/openapi/v3` names it: the path without its leading slash.
    pub key: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub description: &'static str,
    pub tag: &'static str,
    /// What the route `Produces`.
    pub media_type: &'static str,
}

/// Both endpoints, as upstream's routes declare them.
pub const ENDPOINTS: [Endpoint; 2] = [
    Endpoint {
        key: ".well-known/openid-configuration",
        path: OPENID_CONFIG_PATH,
        operation_id: "getServiceAccountIssuerOpenIDConfiguration",
        description: "get service account issuer OpenID configuration, also known as the 'OIDC discovery doc'",
        tag: "WellKnown",
        media_type: "application/json",
    },
    Endpoint {
        key: "openid/v1/jwks",
        path: JWKS_PATH,
        operation_id: "getServiceAccountIssuerOpenIDKeyset",
        description: "get service account issuer OpenID JSON Web Key Set (contains public token verification keys)",
        tag: "openid",
        media_type: "application/jwk-set+json",
    },
];

pub fn find(key: &str) -> Option<&'static Endpoint> {
    ENDPOINTS.iter().find(|e| e.key == key)
}

impl Endpoint {
    /// The OpenAPI 3.0 document of the endpoint.
    pub fn v3_document(&self) -> Value {
        let mut content = serde_json::Map::new();
        content.insert(self.media_type.into(), json!({"schema": {"type": "string"}}));
        json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
            "paths": {
                format!("{}/", self.path): {
                    "get": {
                        "tags": [self.tag],
                        "description": self.description,
                        "operationId": self.operation_id,
                        "responses": {
                            "200": {"description": "OK", "content": content},
                            "401": {"description": "Unauthorized"}
                        }
                    }
                }
            },
            "components": {
                "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}
            }
        })
    }

    /// The endpoint's path item in the Swagger 2.0 document.
    pub fn v2_path_item(&self) -> Value {
        json!({
            "get": {
                "description": self.description,
                "produces": [self.media_type],
                "schemes": ["https"],
                "tags": [self.tag],
                "operationId": self.operation_id,
                "responses": {
                    "200": {"description": "OK", "schema": {"type": "string"}},
                    "401": {"description": "Unauthorized"}
                }
            }
        })
    }
}
