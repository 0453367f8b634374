//! Where and how to connect, built once in Python and handed to the native client and the file
//! system, so that the connection and TLS parameters are named in one place.

use std::path::PathBuf;

use ignite_core::{ConnectionConfig, ProtocolVersion, TlsOptions};
use pyo3::prelude::*;

use crate::args::seconds;
use crate::errors::detach;

/// Addresses, credentials, timeouts, the protocol version to start the handshake at, and TLS
/// (the client configuration is built here, once: certificates are read and checked now).
#[pyclass(module = "ignite_fast._native", frozen)]
pub struct ConnectionSpec {
    pub(crate) config: ConnectionConfig,
}

impl ConnectionSpec {
    /// Runs `connect` on this spec's configuration without the GIL: how each client and the
    /// file system connect.
    pub(crate) fn connect<T: Send>(
        &self,
        py: Python<'_>,
        connect: impl FnOnce(ConnectionConfig) -> ignite_core::Result<T> + Send,
    ) -> PyResult<T> {
        let config = self.config.clone();
        detach(py, || connect(config))
    }
}

#[pymethods]
impl ConnectionSpec {
    #[new]
    #[pyo3(signature = (addresses, username=None, password=None, connect_timeout=10.0, read_timeout=Some(60.0),
                        protocol_version=(1, 7, 0), tls=false, ca_file=None, cert_file=None, key_file=None,
                        key_password=None, verify_hostname=true),
           // Written out: pyo3 shows defaults that are not plain literals (`Some(60.0)`, a tuple) as `...`.
           text_signature = "(addresses, username=None, password=None, connect_timeout=10.0, read_timeout=60.0, \
                             protocol_version=(1, 7, 0), tls=False, ca_file=None, cert_file=None, key_file=None, \
                             key_password=None, verify_hostname=True)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        addresses: Vec<String>,
        username: Option<String>,
        password: Option<String>,
        connect_timeout: f64,
        read_timeout: Option<f64>,
        protocol_version: (i16, i16, i16),
        tls: bool,
        ca_file: Option<PathBuf>,
        cert_file: Option<PathBuf>,
        key_file: Option<PathBuf>,
        key_password: Option<String>,
        verify_hostname: bool,
    ) -> PyResult<Self> {
        let tls = match tls {
            true => {
                let options = TlsOptions {
                    ca_file,
                    cert_file,
                    key_file,
                    key_password,
                    verify_hostname,
                };
                Some(detach(py, || ignite_core::tls_client_config(&options))?)
            }
            false => None,
        };
        let config = ConnectionConfig {
            addresses,
            username,
            password,
            connect_timeout: seconds(connect_timeout, "connect_timeout")?,
            read_timeout: read_timeout
                .map(|t| seconds(t, "read_timeout"))
                .transpose()?,
            protocol_version: ProtocolVersion(
                protocol_version.0,
                protocol_version.1,
                protocol_version.2,
            ),
            tls,
            ..ConnectionConfig::default()
        };
        Ok(ConnectionSpec { config })
    }

    /// The addresses, the user and whether TLS is on; never the password.
    fn __repr__(&self) -> String {
        let c = &self.config;
        let user = c
            .username
            .as_deref()
            .map_or("None".to_string(), |u| format!("{u:?}"));
        let tls = if c.tls.is_some() { "True" } else { "False" };
        format!(
            "ConnectionSpec({:?}, username={user}, tls={tls})",
            c.addresses
        )
    }
}
