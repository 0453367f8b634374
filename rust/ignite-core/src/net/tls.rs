//! TLS for connections: a rustls client configuration built once from PEM files, with the
//! server's certificate verified by default (against a CA file, or the system's store) and its
//! host name checked unless the caller opts out. Client certificates give mutual TLS; their
//! private key may be a PKCS#8 key encrypted with a password.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::error::{Error, Result};

#[derive(Clone, Default)]
pub struct TlsOptions {
    /// PEM file of the CA certificates that sign the server's certificate; `None`: the system's
    /// trusted roots.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client's certificate chain, for clusters that require client certificates.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client's private key (if not in `cert_file`).
    pub key_file: Option<PathBuf>,
    /// Password of an encrypted (PKCS#8) private key.
    pub key_password: Option<String>,
    /// Check that the certificate names the host we connect to (on unless asked otherwise).
    pub verify_hostname: bool,
}

// The key password never reaches a log line through Debug.
impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("key_password", &self.key_password.as_ref().map(|_| "***"))
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

fn tls_error(message: impl Into<String>) -> Error {
    Error::Tls(message.into())
}

fn read_certificates(path: &PathBuf, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| {
            tls_error(format!(
                "cannot read the {what} file {}: {e}",
                path.display()
            ))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            tls_error(format!(
                "the {what} file {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "the {what} file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_private_key(path: &PathBuf, password: Option<&str>) -> Result<PrivateKeyDer<'static>> {
    let text = std::fs::read(path)
        .map_err(|e| tls_error(format!("cannot read the key file {}: {e}", path.display())))?;
    if let Ok(key) = PrivateKeyDer::from_pem_slice(&text) {
        return Ok(key);
    }
    // An encrypted PKCS#8 key: "-----BEGIN ENCRYPTED PRIVATE KEY-----".
    let begin = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
    let start = text
        .windows(begin.len())
        .position(|w| w == begin)
        .ok_or_else(|| {
            tls_error(format!(
                "the key file {} holds no private key",
                path.display()
            ))
        })?;
    let password = password.ok_or_else(|| {
        tls_error(format!(
            "the private key in {} is encrypted: a key password is needed",
            path.display()
        ))
    })?;
    let (_, der) = pkcs8::der::pem::decode_vec(&text[start..]).map_err(|e| {
        tls_error(format!(
            "the encrypted key in {} is not valid PEM: {e}",
            path.display()
        ))
    })?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice()).map_err(|e| {
        tls_error(format!(
            "the encrypted key in {} cannot be parsed: {e}",
            path.display()
        ))
    })?;
    let decrypted = encrypted.decrypt(password).map_err(|_| {
        tls_error(format!(
            "cannot decrypt the private key in {}: wrong key password?",
            path.display()
        ))
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        decrypted.as_bytes().to_vec(),
    )))
}

/// Builds the client configuration all connections of a client share.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &options.ca_file {
        Some(path) => {
            for cert in read_certificates(path, "CA")? {
                roots.add(cert).map_err(|e| {
                    tls_error(format!("bad CA certificate in {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert); // skip the odd unparsable system certificate
            }
            if roots.is_empty() {
                return Err(tls_error(
                    "no trusted CA certificates in the system store; pass a CA file",
                ));
            }
        }
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| tls_error(format!("cannot build the certificate verifier: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if options.verify_hostname {
        verifier
    } else {
        Arc::new(AnyHostName(verifier))
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &options.cert_file {
        None => builder.with_no_client_auth(),
        Some(cert_path) => {
            let chain = read_certificates(cert_path, "client certificate")?;
            let key_path = options.key_file.as_ref().unwrap_or(cert_path);
            let key = read_private_key(key_path, options.key_password.as_deref())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_error(format!("the client certificate and key do not fit: {e}")))?
        }
    };
    Ok(Arc::new(config))
}

/// The name TLS checks the certificate against: the host part of `host:port`.
pub fn server_name(address: &str) -> Result<ServerName<'static>> {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| tls_error(format!("'{host}' is not a valid TLS server name")))
}

/// Verifies the certificate chain but accepts any host name: the caller's explicit opt-out.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                ..
            })) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:10800").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:10800").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("ignite.example:10800").unwrap(),
            ServerName::DnsName(_)
        ));
    }

    #[test]
    fn missing_files_are_tls_errors() {
        let options = TlsOptions {
            ca_file: Some("/no/such/ca.pem".into()),
            verify_hostname: true,
            ..Default::default()
        };
        assert!(matches!(client_config(&options), Err(Error::Tls(_))));
    }
}
