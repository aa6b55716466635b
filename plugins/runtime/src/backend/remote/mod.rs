//! Models that run on an inference server speaking the Open Inference Protocol (KServe v2:
//! Triton, KServe, MLServer, OpenVINO Model Server) over HTTP/REST, addressed as
//! `kserve://host:port/model[/version]`. What the rest of the runtime sees is the same
//! [`Model`](crate::Model): its inputs and outputs come from the server's model metadata (so
//! the contract matchers judge a served model exactly as a local file) and a run sends the
//! tensors as raw little-endian bytes (the binary-data extension), never as JSON numbers.
//!
//! Every request has a deadline (`timeout`); a request that fails for the transport (refused,
//! reset, timed out) or because the server is unavailable (502/503/504) is tried again on a
//! fresh connection up to `retries` more times, with a short growing pause, and then fails with
//! a message naming the server and the model. Answers the server gives on purpose (a 4xx, an
//! inference error) are not retried.

mod client;
pub mod http;

pub use client::RemoteModel;

use std::time::Duration;

use crate::error::{Error, Result};

/// Request deadline and retries of a served model: the elements' `remote-timeout` and
/// `remote-retries` properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteOptions {
    pub timeout: Duration,
    pub retries: u32,
}

pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_RETRIES: u32 = 3;

impl Default for RemoteOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS.into()), retries: DEFAULT_RETRIES }
    }
}

/// The URI scheme of a served model (HTTP/REST of the KServe v2 protocol).
pub const SCHEME: &str = "kserve://";

/// A served model: server, model name, optional version, and the request options.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemoteSpec {
    pub host: String,
    pub port: u16,
    pub model: String,
    pub version: Option<String>,
    pub options: RemoteOptions,
}

/// Triton's default HTTP port, used when the URI names none.
pub const DEFAULT_PORT: u16 = 8000;

fn url_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
}

impl RemoteSpec {
    /// Parses `kserve://host[:port]/model[/version]`; None when `uri` is not of that scheme.
    pub fn parse(uri: &str) -> Option<Result<Self>> {
        let rest = uri.strip_prefix(SCHEME)?;
        let bad = |why: &str| Error::ModelLoad {
            model: uri.to_string(),
            why: format!(
                "{why}; expected {SCHEME}host[:port]/model[/version] (HTTP/REST port, {DEFAULT_PORT} by default)"
            ),
        };
        Some((|| {
            let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no model name"))?;
            let (host, port) = match authority.rsplit_once(':') {
                // An IPv6 literal in brackets: [::1]:8000.
                Some((h, p)) if !p.contains(']') => {
                    (h, p.parse::<u16>().map_err(|_| bad(&format!("'{p}' is not a port number")))?)
                }
                _ => (authority, DEFAULT_PORT),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(bad("no host"));
            }
            let mut parts = path.trim_end_matches('/').split('/');
            let model = parts.next().unwrap_or_default();
            if !url_safe(model) {
                return Err(bad(&format!("'{model}' is not a model name (letters, digits, - _ . ~)")));
            }
            let version = parts.next().map(str::to_string);
            if let Some(v) = &version
                && !url_safe(v)
            {
                return Err(bad(&format!("'{v}' is not a version")));
            }
            if parts.next().is_some() {
                return Err(bad("too many path parts"));
            }
            Ok(Self {
                host: host.to_string(),
                port,
                model: model.to_string(),
                version,
                options: RemoteOptions::default(),
            })
        })())
    }

    /// The server part, as messages name it: `host:port`.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `kserve://host:port/model[/version]`.
    pub fn uri(&self) -> String {
        match &self.version {
            Some(v) => format!("{SCHEME}{}/{}/{v}", self.server(), self.model),
            None => format!("{SCHEME}{}/{}", self.server(), self.model),
        }
    }

    /// `/v2/models/NAME[/versions/V]`, the root of this model's endpoints.
    pub fn model_path(&self) -> String {
        match &self.version {
            Some(v) => format!("/v2/models/{}/versions/{v}", self.model),
            None => format!("/v2/models/{}", self.model),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        let s = RemoteSpec::parse("kserve://10.0.0.5:8100/sr_x2/3").unwrap().unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.model.as_str(), s.version.as_deref()),
            ("10.0.0.5", 8100, "sr_x2", Some("3"))
        );
        assert_eq!(s.uri(), "kserve://10.0.0.5:8100/sr_x2/3");
        assert_eq!(s.model_path(), "/v2/models/sr_x2/versions/3");
        let s = RemoteSpec::parse("kserve://triton/style").unwrap().unwrap();
        assert_eq!((s.port, s.version), (DEFAULT_PORT, None));
        let s = RemoteSpec::parse("kserve://[::1]:9000/m/").unwrap().unwrap();
        assert_eq!((s.host.as_str(), s.port, s.uri().as_str()), ("::1", 9000, "kserve://[::1]:9000/m"));
        assert!(RemoteSpec::parse("/models/x.onnx").is_none());
        for bad in ["kserve://host", "kserve://host:port/m", "kserve://:80/m", "kserve://h/m/1/2", "kserve://h/a b"] {
            let e = RemoteSpec::parse(bad).unwrap().unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("expected kserve://"), "{e}");
        }
    }
}
