//! The `IGFS_*` environment variables, read in this one place for every face of igfs: the
//! TensorFlow plugin, and (once the bindings expose it) the Python API.
//!
//! Why the environment: the original TensorFlow IGFS plugin took its cluster from it, so
//! `igfs:///path` names a file without naming a host, and code written for it keeps working.
//! Variables that are unset or empty take their defaults.

use std::path::PathBuf;

use super::IgfsSettings;
use crate::error::{Error, Result};
use crate::{ConnectionConfig, TlsOptions};

/// Every variable read here. A change of any of them (a test, or a process that switches
/// clusters) must give a new handle: the TensorFlow plugin keys its handles on their values.
pub const VARIABLES: [&str; 12] = [
    "IGFS_HOST",
    "IGFS_PORT",
    "IGFS_FS_NAME",
    "IGFS_USERNAME",
    "IGFS_PASSWORD",
    "IGFS_TLS",
    "IGFS_CA_FILE",
    "IGFS_CERT_FILE",
    "IGFS_KEY_FILE",
    "IGFS_KEY_PASSWORD",
    "IGFS_CHECK_HOSTNAME",
    "IGFS_BLOCK_SIZE",
];

pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 10800;
pub const DEFAULT_BLOCK_SIZE: u32 = 1 << 20;

/// What the environment says about the cluster and the file system on it.
#[derive(Debug, Clone)]
pub struct IgfsEnv {
    /// `IGFS_HOST` (127.0.0.1) and `IGFS_PORT` (10800): the cluster of `igfs:///path`.
    pub host: String,
    pub port: u16,
    /// `IGFS_FS_NAME`: names the two caches (see [`IgfsSettings::named`]).
    pub name: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Set when `IGFS_TLS` is on or `IGFS_CA_FILE` is given: `IGFS_CA_FILE`, `IGFS_CERT_FILE`,
    /// `IGFS_KEY_FILE`, `IGFS_KEY_PASSWORD`, and `IGFS_CHECK_HOSTNAME` (`0` turns it off).
    pub tls: Option<TlsOptions>,
    /// `IGFS_BLOCK_SIZE`: bytes per block of new files.
    pub block_size: u32,
}

impl IgfsEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<IgfsEnv> {
        IgfsEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<IgfsEnv> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let flag = |name: &str, default: bool| get(name).map_or(default, |v| is_on(&v));
        let tls = (flag("IGFS_TLS", false) || get("IGFS_CA_FILE").is_some()).then(|| TlsOptions {
            ca_file: get("IGFS_CA_FILE").map(PathBuf::from),
            cert_file: get("IGFS_CERT_FILE").map(PathBuf::from),
            key_file: get("IGFS_KEY_FILE").map(PathBuf::from),
            key_password: get("IGFS_KEY_PASSWORD"),
            verify_hostname: flag("IGFS_CHECK_HOSTNAME", true),
        });
        Ok(IgfsEnv {
            host: get("IGFS_HOST").unwrap_or_else(|| DEFAULT_HOST.to_string()),
            port: number("IGFS_PORT", get("IGFS_PORT"))?.unwrap_or(DEFAULT_PORT),
            name: get("IGFS_FS_NAME").unwrap_or_default(),
            username: get("IGFS_USERNAME"),
            password: get("IGFS_PASSWORD"),
            tls,
            block_size: number("IGFS_BLOCK_SIZE", get("IGFS_BLOCK_SIZE"))?
                .unwrap_or(DEFAULT_BLOCK_SIZE),
        })
    }

    /// `host:port` of the cluster the environment names.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// How to connect to `addresses` with the environment's credentials and TLS (the
    /// certificates are read now, so a wrong file is reported here).
    pub fn connection_config(&self, addresses: Vec<String>) -> Result<ConnectionConfig> {
        let tls = self
            .tls
            .as_ref()
            .map(crate::tls_client_config)
            .transpose()?;
        Ok(ConnectionConfig {
            addresses,
            username: self.username.clone(),
            password: self.password.clone(),
            tls,
            ..ConnectionConfig::default()
        })
    }

    /// The file system's settings: its caches, named after `IGFS_FS_NAME`, and the block size.
    pub fn settings(&self) -> IgfsSettings {
        IgfsSettings {
            block_size: self.block_size,
            ..IgfsSettings::named(&self.name)
        }
    }
}

/// A flag is on unless it says `0`, `false`, `no` or `off`.
fn is_on(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off"
    )
}

/// The number variable `name` holds, if it is set.
fn number<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<Option<T>> {
    value
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| Error::InvalidArgument(format!("{name}={v:?} is not a valid number")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<IgfsEnv> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        IgfsEnv::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let env = read(&[]).unwrap();
        assert_eq!(env.address(), "127.0.0.1:10800");
        assert_eq!((env.name.as_str(), env.block_size), ("", 1 << 20));
        assert!(env.username.is_none() && env.password.is_none() && env.tls.is_none());
        let settings = env.settings();
        assert_eq!(
            (settings.meta_cache.as_str(), settings.data_cache.as_str()),
            ("igfs_meta", "igfs_data")
        );
    }

    #[test]
    fn every_variable_is_read() {
        let env = read(&[
            ("IGFS_HOST", "node1"),
            ("IGFS_PORT", "10850"),
            ("IGFS_FS_NAME", "ckpt"),
            ("IGFS_USERNAME", "ignite"),
            ("IGFS_PASSWORD", "secret"),
            ("IGFS_TLS", "1"),
            ("IGFS_CERT_FILE", "/c.pem"),
            ("IGFS_KEY_FILE", "/k.pem"),
            ("IGFS_KEY_PASSWORD", "kp"),
            ("IGFS_CHECK_HOSTNAME", " Off "),
            ("IGFS_BLOCK_SIZE", "65536"),
        ])
        .unwrap();
        assert_eq!(env.address(), "node1:10850");
        assert_eq!(
            (env.username.as_deref(), env.password.as_deref()),
            (Some("ignite"), Some("secret"))
        );
        let tls = env.tls.as_ref().unwrap();
        assert_eq!(tls.ca_file, None);
        assert_eq!(
            tls.cert_file.as_deref(),
            Some(std::path::Path::new("/c.pem"))
        );
        assert_eq!(
            tls.key_file.as_deref(),
            Some(std::path::Path::new("/k.pem"))
        );
        assert_eq!(tls.key_password.as_deref(), Some("kp"));
        assert!(!tls.verify_hostname);
        let settings = env.settings();
        assert_eq!(
            (settings.meta_cache.as_str(), settings.block_size),
            ("igfs_ckpt_meta", 65536)
        );
    }

    #[test]
    fn a_ca_file_turns_tls_on_and_empty_values_are_unset() {
        let env = read(&[
            ("IGFS_CA_FILE", "/ca.pem"),
            ("IGFS_TLS", ""),
            ("IGFS_USERNAME", ""),
        ])
        .unwrap();
        let tls = env.tls.unwrap();
        assert!(tls.verify_hostname && tls.ca_file.is_some());
        assert!(env.username.is_none());
        assert!(read(&[("IGFS_TLS", "false")]).unwrap().tls.is_none());
    }

    #[test]
    fn bad_numbers_are_reported_by_name() {
        let err = read(&[("IGFS_PORT", "eighty")]).unwrap_err().to_string();
        assert!(err.contains("IGFS_PORT") && err.contains("eighty"), "{err}");
        let err = read(&[("IGFS_BLOCK_SIZE", "-1")]).unwrap_err().to_string();
        assert!(err.contains("IGFS_BLOCK_SIZE"), "{err}");
    }
}
