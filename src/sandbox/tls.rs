//! The sandbox's own certificate authority and serving certificate.
//!
//! Made once, on first start, and kept in the data directory so the kubeconfig stays valid
//! across restarts. The serving certificate names 127.0.0.1, ::1 and localhost: kube-rs
//! refuses `https://127.0.0.1` without an IP SAN.

use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the sandbox certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot read or write the sandbox certificates: {0}")]
    Io(#[from] std::io::Error),
    #[error("the sandbox certificates are unusable: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("the sandbox certificates are unusable: {0}")]
    Pem(String),
}

/// PEM files of the CA and the serving certificate.
pub struct Certificates {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Certificates {
    /// Loads the certificates from `dir`, or makes and saves them.
    pub fn load_or_create(dir: &Path) -> Result<Certificates, TlsError> {
        let (ca, cert, key) = (dir.join("ca.crt"), dir.join("server.crt"), dir.join("server.key"));
        if ca.exists() && cert.exists() && key.exists() {
            return Ok(Certificates {
                ca_pem: std::fs::read_to_string(ca)?,
                cert_pem: std::fs::read_to_string(cert)?,
                key_pem: std::fs::read_to_string(key)?,
            });
        }
        let certs = Self::generate()?;
        super::private::create_dir(dir)?;
        super::private::write(&key, &certs.key_pem)?;
        super::private::write(&cert, &certs.cert_pem)?;
        super::private::write(&ca, &certs.ca_pem)?;
        Ok(certs)
    }

    fn generate() -> Result<Certificates, TlsError> {
        use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "kubelab-sandbox-ca");
        ca_params.distinguished_name = dn;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;

        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "kubelab-sandbox");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Certificates { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A rustls server configuration offering HTTP/2 and HTTP/1.1 (kubectl negotiates h2,
    /// kube-rs speaks 1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs: Vec<_> = rustls_pemfile::certs(&mut self.cert_pem.as_bytes()).collect::<Result<_, _>>()?;
        let key = rustls_pemfile::private_key(&mut self.key_pem.as_bytes())?.ok_or_else(|| TlsError::Pem("no private key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
