//! The service-account token issuer: the signing key, signed JWTs, and the OIDC discovery
//! documents that let anyone verify them (`/.well-known/openid-configuration`,
//! `/openid/v1/jwks`), as kube-apiserver's `pkg/serviceaccount` serves them.
//!
//! kube-apiserver signs with whatever `--service-account-signing-key-file` holds: RS256 for
//! an RSA key, ES256 for a P-256 one. ring cannot generate RSA keys, so the sandbox makes
//! a P-256 key on first start and signs ES256, which upstream does for EC keys alike. The
//! key stays in the data directory (`sa.key`, PKCS#8 PEM, 0600) so tokens survive restarts.

use std::convert::Infallible;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{Method, Response};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// `--service-account-issuer` of a kubeadm or kind cluster, and so the default audience.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// Where the OIDC provider configuration is served (`serviceaccount.OpenIDConfigPath`).
pub const OPENID_CONFIG_PATH: &str = "/.well-known/openid-configuration";
/// Where the public keys are served (`serviceaccount.JWKSPath`).
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// The signature algorithm of a P-256 key.
pub const ALGORITHM: &str = "ES256";
/// `staticPublicKeysGetter.GetCacheAgeMaxSeconds`: how long clients may cache the keys.
const CACHE_MAX_AGE_SECONDS: u32 = 3600;

/// The DER `SubjectPublicKeyInfo` header of a P-256 public key (id-ecPublicKey,
/// prime256v1, then the 65-byte uncompressed point), as Go's `MarshalPKIXPublicKey` writes it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
    0x07, 0x03, 0x42, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("cannot read or write the service-account signing key: {0}")]
    Io(#[from] std::io::Error),
    #[error("the service-account signing key {0} is unusable: {1}")]
    Key(String, String),
    #[error("cannot sign a service-account token: {0}")]
    Sign(String),
}

/// The key that signs service-account tokens, with what the JWKS says about it.
pub struct ServiceAccountIssuer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    /// `keyIDFromPublicKey`: base64url of the SHA-256 of the DER public key.
    key_id: String,
}

/// `-----BEGIN <label>-----` armour with 64-column base64, as Go's `pem.Encode` writes it.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn unpem(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    STANDARD.decode(body).ok()
}

impl ServiceAccountIssuer {
    /// Loads `dir/sa.key`, or makes a key and saves it there (and its public half in `sa.pub`,
    /// as kubeadm keeps them).
    pub fn load_or_create(dir: &Path) -> Result<ServiceAccountIssuer, IssuerError> {
        let path = dir.join("sa.key");
        let rng = SystemRandom::new();
        let unusable = |why: String| IssuerError::Key(path.display().to_string(), why);
        let pkcs8 = match std::fs::read_to_string(&path) {
            Ok(text) => unpem(&text).ok_or_else(|| unusable("not PEM".into()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|e| unusable(e.to_string()))?;
                super::private::write(&path, pem("PRIVATE KEY", doc.as_ref()))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).map_err(|e| unusable(e.to_string()))?;
        let issuer = ServiceAccountIssuer::from_key(key, rng);
        let public = dir.join("sa.pub");
        if !public.exists() {
            super::private::write(&public, pem("PUBLIC KEY", &issuer.public_key_der()))?;
        }
        Ok(issuer)
    }

    fn from_key(key: EcdsaKeyPair, rng: SystemRandom) -> ServiceAccountIssuer {
        let mut issuer = ServiceAccountIssuer { key, rng, key_id: String::new() };
        let digest = ring::digest::digest(&ring::digest::SHA256, &issuer.public_key_der());
        issuer.key_id = URL_SAFE_NO_PAD.encode(digest.as_ref());
        issuer
    }

    /// The public key as DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.key.public_key().as_ref());
        der
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A compact JWS of `claims`: header `{"alg":"ES256","kid":...}` as go-jose writes it.
    pub fn sign(&self, claims: &Value) -> Result<String, IssuerError> {
        let header = json!({"alg": ALGORITHM, "kid": self.key_id});
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.key.sign(&self.rng, input.as_bytes()).map_err(|e| IssuerError::Sign(e.to_string()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    /// The key as a JWK, fields in go-jose's order (`use`, `kty`, `kid`, `crv`, `alg`, `x`, `y`).
    pub fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({
            "use": "sig",
            "kty": "EC",
            "kid": self.key_id,
            "crv": "P-256",
            "alg": ALGORITHM,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    /// `openIDConfigJSON`: the provider metadata, with the JWKS under the advertised address.
    pub fn configuration(&self, address: &str) -> Value {
        json!({
            "issuer": ISSUER,
            "jwks_uri": format!("https://{address}{JWKS_PATH}"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
        })
    }

    /// `openIDKeysetJSON`.
    pub fn keyset(&self) -> Value {
        json!({"keys": [self.jwk()]})
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// Answers the two issuer discovery paths (`None` for any other path). The server routes
/// here after authorization: in kube-apiserver only `system:service-account-issuer-discovery`
/// may read them, which the default bindings grant to service accounts, not to anonymous.
pub fn serve(path: &str, method: &Method, issuer: Option<&ServiceAccountIssuer>, address: &str) -> Option<Response<Body>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    if path != OPENID_CONFIG_PATH && path != JWKS_PATH {
        return None;
    }
    let response = |status: u16, content_type: &str, cache: &str, body: String| {
        Response::builder()
            .status(status)
            .header("Content-Type", content_type)
            .header("Cache-Control", cache)
            .body(Full::new(Bytes::from(body)).boxed())
            .expect("a valid response")
    };
    // go-restful routes these for GET only.
    if method != Method::GET {
        return Some(response(405, "text/plain; charset=utf-8", "no-cache, private", "405: Method Not Allowed".into()));
    }
    let Some(issuer) = issuer else {
        return Some(response(404, "text/plain; charset=utf-8", "no-cache, private", "404 page not found\n".into()));
    };
    let cache = format!("public, max-age={CACHE_MAX_AGE_SECONDS}");
    Some(if path == OPENID_CONFIG_PATH {
        response(200, "application/json", &cache, issuer.configuration(address).to_string())
    } else {
        response(200, "application/jwk-set+json", &cache, issuer.keyset().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn the_key_is_kept_and_its_id_is_the_hash_of_its_public_der() {
        let dir = tempfile::tempdir().unwrap();
        let a = ServiceAccountIssuer::load_or_create(dir.path()).unwrap();
        let b = ServiceAccountIssuer::load_or_create(dir.path()).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        let digest = ring::digest::digest(&ring::digest::SHA256, &a.public_key_der());
        assert_eq!(a.key_id(), URL_SAFE_NO_PAD.encode(digest));
        assert_eq!(a.public_key_der().len(), 91);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sa.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_signed_token_verifies_with_the_jwk() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = ServiceAccountIssuer::load_or_create(dir.path()).unwrap();
        let token = issuer.sign(&json!({"sub": "x"})).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let jwk = issuer.jwk();
        let mut point = vec![4u8];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(signed.as_bytes(), &sig).unwrap();
        let mut tampered = sig.clone();
        tampered[0] ^= 1;
        assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(signed.as_bytes(), &tampered).is_err());
    }
}
