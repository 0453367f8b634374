//! The `IGFS_*` environment variables, read in this one place for every face of igfs: the
//! TensorFlow plugin, and the Python API and fsspec (through the bindings' `igfs_env`).
//!
//! Why the environment: the original TensorFlow IGFS plugin took its cluster from it, so
//! `igfs:///path` names a file without naming a host, and code written for it keeps working.
//! Variables that are unset or empty take their defaults.
//!
//! Its credentials (`IGFS_USERNAME`, `IGFS_PASSWORD`, the client certificate and key) belong to
//! the cluster it names, and go nowhere else: a URL naming another host may come from a config
//! file nobody checked. [`IgfsEnv::for_addresses`] is that rule, and every face applies it.

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
#[derive(Clone)]
pub struct IgfsEnv {
    /// `IGFS_HOST` (127.0.0.1): the cluster of `igfs:///path`, one address or several separated
    /// by commas (`node1,node2:10801`).
    pub host: String,
    /// `IGFS_PORT` (10800): the port of an address in `IGFS_HOST` that names none.
    pub port: u16,
    /// Whether a port was given (`IGFS_PORT`): if not, the credentials go to the cluster's hosts
    /// on any port.
    pub port_given: bool,
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

// The password never reaches a log line through Debug (TlsOptions hides its key password).
impl std::fmt::Debug for IgfsEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgfsEnv")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("port_given", &self.port_given)
            .field("name", &self.name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("tls", &self.tls)
            .field("block_size", &self.block_size)
            .finish()
    }
}

impl IgfsEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<IgfsEnv> {
        IgfsEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<IgfsEnv> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str, default: bool| get(name).map_or(default, |v| is_on(&v));
        let tls = (flag("IGFS_TLS", false) || get("IGFS_CA_FILE").is_some()).then(|| TlsOptions {
            ca_file: get("IGFS_CA_FILE").map(PathBuf::from),
            cert_file: get("IGFS_CERT_FILE").map(PathBuf::from),
            key_file: get("IGFS_KEY_FILE").map(PathBuf::from),
            key_password: get("IGFS_KEY_PASSWORD"),
            verify_hostname: flag("IGFS_CHECK_HOSTNAME", true),
        });
        let port = number("IGFS_PORT", get("IGFS_PORT"))?;
        let env = IgfsEnv {
            host: get("IGFS_HOST").unwrap_or_else(|| DEFAULT_HOST.to_string()),
            port: port.unwrap_or(DEFAULT_PORT),
            port_given: port.is_some(),
            name: get("IGFS_FS_NAME").unwrap_or_default(),
            username: get("IGFS_USERNAME"),
            password: get("IGFS_PASSWORD"),
            tls,
            block_size: number("IGFS_BLOCK_SIZE", get("IGFS_BLOCK_SIZE"))?
                .unwrap_or(DEFAULT_BLOCK_SIZE),
        };
        // A malformed IGFS_HOST is reported here, by name.
        if env.entries()?.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "IGFS_HOST={:?} names no address",
                env.host
            )));
        }
        Ok(env)
    }

    /// `IGFS_HOST`'s entries as written (`node1`, `node2:10801`, `[::1]`).
    pub fn hosts(&self) -> Vec<String> {
        self.host
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `IGFS_HOST`'s entries as (host, the port given with it).
    fn entries(&self) -> Result<Vec<(String, Option<u16>)>> {
        self.hosts()
            .iter()
            .map(|h| {
                split_address(h).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "IGFS_HOST={:?}: {h:?} is not a host or host:port",
                        self.host
                    ))
                })
            })
            .collect()
    }

    /// `host:port` of each address of the cluster the environment names (`igfs:///path`).
    pub fn addresses(&self) -> Vec<String> {
        self.entries()
            .unwrap_or_default()
            .into_iter()
            .map(|(host, port)| join_address(&host, port.unwrap_or(self.port)))
            .collect()
    }

    /// Whether `address` (`host:port`, or a host alone) is one of the cluster's: its host is one
    /// `IGFS_HOST` names (by name, compared without case; no name is resolved), and its port that
    /// host's port, when the environment gives one (`IGFS_HOST`'s `host:port`, or `IGFS_PORT`).
    pub fn names(&self, address: &str) -> bool {
        let Some((host, port)) = split_address(address.trim()) else {
            return false;
        };
        self.entries().unwrap_or_default().iter().any(|(h, p)| {
            let wanted = p.or(self.port_given.then_some(self.port));
            h.eq_ignore_ascii_case(&host) && (wanted.is_none() || port.is_none() || wanted == port)
        })
    }

    /// Whether the environment holds anything that authenticates: a user, a password, a client
    /// certificate or key.
    pub fn has_credentials(&self) -> bool {
        self.username.is_some()
            || self.password.is_some()
            || self.tls.as_ref().is_some_and(|t| {
                t.cert_file.is_some() || t.key_file.is_some() || t.key_password.is_some()
            })
    }

    /// The environment as it applies to a connection to `addresses`: all of it when every one of
    /// them is the cluster's own ([`IgfsEnv::names`]); for any other host, the same file system
    /// and TLS trust (CA file, host-name check) but no credentials: no user, password, client
    /// certificate or key. Credentials for another host are given explicitly (the Python API,
    /// fsspec's storage options).
    pub fn for_addresses(&self, addresses: &[String]) -> IgfsEnv {
        if !addresses.is_empty() && addresses.iter().all(|a| self.names(a)) {
            return self.clone();
        }
        IgfsEnv {
            username: None,
            password: None,
            tls: self.tls.as_ref().map(|t| TlsOptions {
                cert_file: None,
                key_file: None,
                key_password: None,
                ..t.clone()
            }),
            ..self.clone()
        }
    }

    /// How to connect to `addresses` with what the environment lets go there (see
    /// [`IgfsEnv::for_addresses`]; the certificates are read now, so a wrong file is reported
    /// here).
    pub fn connection_config(&self, addresses: Vec<String>) -> Result<ConnectionConfig> {
        let env = self.for_addresses(&addresses);
        let tls = env.tls.as_ref().map(crate::tls_client_config).transpose()?;
        Ok(ConnectionConfig {
            addresses,
            username: env.username,
            password: env.password,
            tls,
            ..ConnectionConfig::default()
        })
    }

    /// `error` from connecting to `addresses`, with a word on why a refused login got no
    /// credentials when the environment kept them back.
    pub fn explain(&self, addresses: &[String], error: Error) -> Error {
        match error {
            Error::Authentication(m)
                if self.has_credentials() && !self.for_addresses(addresses).has_credentials() =>
            {
                Error::Authentication(format!(
                    "{m} (the IGFS_* credentials go only to the cluster IGFS_HOST names, {}; \
                     give this host's credentials explicitly)",
                    self.addresses().join(", ")
                ))
            }
            other => other,
        }
    }

    /// The file system's settings: its caches, named after `IGFS_FS_NAME`, and the block size.
    pub fn settings(&self) -> IgfsSettings {
        IgfsSettings {
            block_size: self.block_size,
            ..IgfsSettings::named(&self.name)
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address -> (host, port); the host
/// without brackets. `None` when the port is not a number.
pub fn split_address(address: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = address.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        return match tail {
            "" => Some((host.to_string(), None)),
            _ => Some((
                host.to_string(),
                Some(tail.strip_prefix(':')?.parse().ok()?),
            )),
        };
    }
    match address.matches(':').count() {
        0 => Some((address.to_string(), None)),
        1 => {
            let (host, port) = address.split_once(':')?;
            Some((host.to_string(), Some(port.parse().ok()?)))
        }
        _ => Some((address.to_string(), None)), // IPv6 without brackets
    }
    .filter(|(host, _)| !host.is_empty())
}

/// `host:port`, with an IPv6 host in brackets.
fn join_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
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
        assert_eq!(env.addresses(), ["127.0.0.1:10800"]);
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
        assert_eq!(env.addresses(), ["node1:10850"]);
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

    #[test]
    fn a_host_list_names_every_address() {
        let env = read(&[("IGFS_HOST", "node1, node2:10801,[::1],fe80::1")]).unwrap();
        assert_eq!(
            env.addresses(),
            [
                "node1:10800",
                "node2:10801",
                "[::1]:10800",
                "[fe80::1]:10800"
            ]
        );
        for bad in [",", "node1:port", "[::1"] {
            let err = read(&[("IGFS_HOST", bad)]).unwrap_err().to_string();
            assert!(err.contains("IGFS_HOST"), "{err}");
        }
    }

    #[test]
    fn the_cluster_is_named_by_host_and_by_the_port_the_environment_gives() {
        // No IGFS_PORT: the credentials go to the named hosts on any port.
        let env = read(&[("IGFS_HOST", "Node1,node2:10801")]).unwrap();
        assert!(env.names("node1:10800") && env.names("NODE1:47500") && env.names("node1"));
        assert!(env.names("node2:10801") && !env.names("node2:10800"));
        assert!(!env.names("node3:10800") && !env.names("node1.evil:10800"));
        assert!(
            !env.names("127.0.0.1:10800"),
            "no name is resolved or aliased"
        );
        // IGFS_PORT pins the port of the hosts that name none.
        let env = read(&[("IGFS_HOST", "node1,[::1]"), ("IGFS_PORT", "10850")]).unwrap();
        assert!(env.names("node1:10850") && !env.names("node1:10800"));
        assert!(env.names("[::1]:10850") && !env.names("[::2]:10850"));
        // Unset, IGFS_HOST is 127.0.0.1.
        assert!(read(&[]).unwrap().names("127.0.0.1:10900"));
        assert!(!read(&[]).unwrap().names("localhost:10800"));
    }

    fn with_credentials(host: &str) -> IgfsEnv {
        read(&[
            ("IGFS_HOST", host),
            ("IGFS_PORT", "10850"),
            ("IGFS_USERNAME", "ignite"),
            ("IGFS_PASSWORD", "secret"),
            ("IGFS_CA_FILE", "/ca.pem"),
            ("IGFS_CERT_FILE", "/c.pem"),
            ("IGFS_KEY_FILE", "/k.pem"),
            ("IGFS_KEY_PASSWORD", "kp"),
            ("IGFS_FS_NAME", "ckpt"),
        ])
        .unwrap()
    }

    #[test]
    fn credentials_go_only_to_the_cluster_the_environment_names() {
        let env = with_credentials("node1,node2");
        let own = env.for_addresses(&["node2:10850".to_string()]);
        assert_eq!(own.password.as_deref(), Some("secret"));
        assert!(own.tls.as_ref().unwrap().key_password.is_some());
        for other in [
            vec!["other:10850".to_string()],
            vec!["node1:10850".to_string(), "other:10850".to_string()],
            vec![],
        ] {
            let foreign = env.for_addresses(&other);
            assert!(!foreign.has_credentials(), "{other:?}");
            assert!(foreign.username.is_none() && foreign.password.is_none());
            let tls = foreign.tls.unwrap();
            // The trust stays: the other host is still checked against the CA, by name.
            assert_eq!(
                tls.ca_file.as_deref(),
                Some(std::path::Path::new("/ca.pem"))
            );
            assert!(tls.verify_hostname);
            assert!(
                tls.cert_file.is_none() && tls.key_file.is_none() && tls.key_password.is_none()
            );
            assert_eq!(foreign.name, "ckpt");
        }
        let config = read(&[("IGFS_USERNAME", "u"), ("IGFS_PASSWORD", "p")])
            .unwrap()
            .connection_config(vec!["elsewhere:10800".to_string()])
            .unwrap();
        assert!(config.username.is_none() && config.password.is_none());
    }

    #[test]
    fn a_refused_login_says_why_no_credentials_were_sent() {
        let env = with_credentials("node1");
        let refused = || Error::Authentication("refused user '<none>'".into());
        let other = ["other:10850".to_string()];
        let text = env.explain(&other, refused()).to_string();
        assert!(
            text.contains("IGFS_HOST") && text.contains("node1:10850"),
            "{text}"
        );
        let own = ["node1:10850".to_string()];
        assert!(!env
            .explain(&own, refused())
            .to_string()
            .contains("IGFS_HOST"));
        let timeout = env.explain(&other, Error::Timeout("slow".into()));
        assert!(matches!(timeout, Error::Timeout(_)));
    }

    #[test]
    fn debug_hides_the_passwords() {
        let text = format!("{:?}", with_credentials("node1"));
        assert!(
            !text.contains("secret") && !text.contains("\"kp\""),
            "{text}"
        );
        assert!(
            text.contains("ignite") && text.contains("<hidden>"),
            "{text}"
        );
    }
}
