//! The one HTTP client every remote vault uses: blocking ureq over rustls (ring), with TLS
//! verification on by default, an optional CA file, and timeouts.

use std::path::PathBuf;
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};
use zeroize::Zeroizing;

use crate::cache::Bounded;
use crate::error::{ErrorKind, VaultError};
use crate::vault::{Request, VaultConfig, file};

const DEFAULT_CONNECT: Duration = Duration::from_secs(5);
const DEFAULT_READ: Duration = Duration::from_secs(10);
/// Secrets are small; a larger answer is not one.
const BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// How to connect, from a vault's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Settings {
    ca_cert: Option<PathBuf>,
    verify: bool,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl Settings {
    pub(crate) fn from_config(config: &VaultConfig) -> Result<Settings, VaultError> {
        let seconds = |name: &str, default: Duration| -> Result<Duration, VaultError> {
            Ok(config
                .duration(name, crate::vault::MAX_TIMEOUT)?
                .filter(|d| !d.is_zero())
                .unwrap_or(default))
        };
        Ok(Settings {
            ca_cert: config
                .get("ca_cert")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            verify: config.flag("ssl_verify")?.unwrap_or(true),
            connect_timeout: seconds("connect_timeout", DEFAULT_CONNECT)?,
            read_timeout: seconds("read_timeout", DEFAULT_READ)?,
        })
    }
}

/// Agents by settings: building one parses the CA file and sets up TLS, so it is done once
/// (per settings, among the most recently used: see `ResolverBuilder::cache_capacity`).
#[derive(Default)]
pub(crate) struct Agents {
    agents: Bounded<Settings, Agent>,
}

impl Agents {
    /// The agent for a request's settings, built on first use; the request's
    /// `max_file_size` bounds the `ca_cert` read.
    pub(crate) fn get(
        &self,
        settings: &Settings,
        request: &Request<'_>,
    ) -> Result<Agent, VaultError> {
        if let Some(agent) = self.agents.get(settings) {
            return Ok(agent);
        }
        // Built without the lock: reading `ca_cert` and setting up TLS must not hold up
        // fetches that use other settings (nor all of them, if the file is slow to read).
        // Two threads may build the same agent at once; the first one stored is kept, so
        // every caller shares it.
        let agent = build(settings, request.max_file_size())?;
        Ok(self
            .agents
            .insert(settings.clone(), agent, request.cache_capacity()))
    }
}

fn build(settings: &Settings, max_file_size: u64) -> Result<Agent, VaultError> {
    let roots = match &settings.ca_cert {
        // The bundled Mozilla roots; a private CA is given with `ca_cert`.
        None => RootCerts::WebPki,
        Some(path) => {
            // A regular file within the size limit: `ca_cert = /dev/zero` or a FIFO fails at
            // once instead of exhausting memory or blocking.
            let pem = file::read(path, max_file_size).map_err(|e| {
                VaultError::invalid_config(format!("cannot read ca_cert: {e}")).with_source(e)
            })?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    VaultError::invalid_config(format!(
                        "ca_cert {} is not PEM: {e}",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(VaultError::invalid_config(format!(
                    "ca_cert {} holds no certificate",
                    path.display()
                )));
            }
            RootCerts::new_with_certs(&certs)
        }
    };
    let tls = TlsConfig::builder()
        .root_certs(roots)
        .disable_verification(!settings.verify)
        .build();
    let config = Agent::config_builder()
        .tls_config(tls)
        // Error statuses carry the vault's explanation in the body.
        .http_status_as_error(false)
        .timeout_connect(Some(settings.connect_timeout))
        .timeout_recv_response(Some(settings.read_timeout))
        .timeout_recv_body(Some(settings.read_timeout))
        .max_redirects(0)
        .user_agent(concat!("secret-ref/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(Agent::with_parts(
        config,
        DefaultConnector::new().chain(WipeOnClose),
        DefaultResolver::default(),
    ))
}

/// The last link of the connector chain: connections whose buffers are wiped when they
/// close. A connection's output buffer holds the last request (its token header) and its
/// input buffer the last answer (a secret); the client would free both unwiped.
#[derive(Debug)]
struct WipeOnClose;

impl Connector<Box<dyn Transport>> for WipeOnClose {
    type Out = Wiping;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Wiping>, ureq::Error> {
        Ok(chained.map(Wiping))
    }
}

/// A connection (plain, or TLS on top of one) that wipes its buffers when dropped. For TLS,
/// these are the plaintext buffers; what rustls keeps inside its own state is beyond reach.
#[derive(Debug)]
struct Wiping(Box<dyn Transport>);

impl Transport for Wiping {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
    }
}

impl Drop for Wiping {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        let buffers = self.0.buffers();
        buffers.output().zeroize();
        // Once an answer is consumed, the free part of the input buffer is all of it.
        buffers.input_append_buf().zeroize();
    }
}

/// A response: its status and body, the body zeroized when dropped since it holds secrets.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// Sends a request. Transport failures (refused, unresolvable, timed out, TLS) are
/// [`ErrorKind::Unreachable`]; the message names the host, never the body or headers.
///
/// Header values (a token) and the answer (a secret) sit in buffers that are wiped when
/// dropped: the values are handed to the HTTP client without a copy, and the body is read
/// into a buffer grown by hand, since a growing `Vec` frees its old allocations unwiped.
/// What the client keeps in its own connection buffers is beyond this crate's reach.
pub(crate) fn send(
    agent: &Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, VaultError> {
    let where_ = host_of(url);
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        let owned = bytes::Bytes::from_owner(Wiped(Zeroizing::new(value.as_bytes().to_vec())));
        let value = ureq::http::HeaderValue::from_maybe_shared(owned).map_err(|_| {
            VaultError::invalid_config(format!(
                "bad request to {where_}: the {name} header holds characters a header cannot"
            ))
        })?;
        request = request.header(*name, value);
    }
    let result = match body {
        Some(bytes) => request
            .body(bytes)
            .map_err(|e| VaultError::invalid_config(format!("bad request to {where_}: {e}")))
            .and_then(|r| agent.run(r).map_err(|e| transport(e, &where_))),
        None => request
            .body(())
            .map_err(|e| VaultError::invalid_config(format!("bad request to {where_}: {e}")))
            .and_then(|r| agent.run(r).map_err(|e| transport(e, &where_))),
    };
    let mut response = result?;
    let status = response.status().as_u16();
    let hint = response.body().content_length();
    let reader = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT + 1)
        .reader();
    let body = read_body(reader, hint).map_err(|e| match e.into_inner() {
        Some(inner) => match inner.downcast::<ureq::Error>() {
            Ok(e) => transport(*e, &where_),
            Err(other) => VaultError::unreachable(format!("{where_}: {other}")),
        },
        None => VaultError::bad_response(format!(
            "{where_}: the answer is larger than {BODY_LIMIT} bytes"
        )),
    })?;
    Ok(Response { status, body })
}

/// A header value's bytes, wiped when the HTTP client drops the value.
struct Wiped(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Reads an answer into a buffer sized from its `Content-Length` (bounded) and grown by
/// hand, each old buffer wiped as it is replaced. More than [`BODY_LIMIT`] bytes is an
/// error (an `io::Error` without an inner error).
fn read_body(
    mut reader: impl std::io::Read,
    hint: Option<u64>,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let limit = BODY_LIMIT as usize;
    let first = hint.map_or(8 * 1024, |n| n.min(BODY_LIMIT) as usize + 1);
    let mut buf = Zeroizing::new(vec![0u8; first]);
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() > limit {
                return Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge));
            }
            let mut bigger = Zeroizing::new(vec![0u8; (buf.len() * 2).min(limit + 1)]);
            bigger[..filled].copy_from_slice(&buf[..filled]);
            buf = bigger;
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if filled > limit {
        return Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge));
    }
    // Shrinking the length keeps the allocation, which is wiped whole when dropped.
    buf.truncate(filled);
    Ok(buf)
}

fn transport(e: ureq::Error, host: &str) -> VaultError {
    let kind = match e {
        ureq::Error::BodyExceedsLimit(_) | ureq::Error::Protocol(_) => ErrorKind::BadResponse,
        _ => ErrorKind::Unreachable,
    };
    VaultError::new(kind, format!("{host}: {e}"))
}

/// `scheme://host:port` of a URL, for messages.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://{host}"),
        None => host.to_owned(),
    }
}

/// Percent-encodes one path segment for a URL: everything but the unreserved characters,
/// `/` included.
// The aws backend signs its own paths: an aws-only build does not call this.
#[cfg_attr(
    not(any(
        feature = "hcv",
        feature = "azure",
        feature = "conjur",
        feature = "gcp"
    )),
    allow(dead_code)
)]
pub(crate) fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_hosts() {
        let mut out = String::new();
        encode_segment("db creds/ü?#", &mut out);
        assert_eq!(out, "db%20creds%2F%C3%BC%3F%23");
        assert_eq!(
            host_of("https://127.0.0.1:8200/v1/secret/data/x?version=2"),
            "https://127.0.0.1:8200"
        );
    }

    #[test]
    fn settings() {
        let config: VaultConfig = [("ssl_verify", "off"), ("connect_timeout", "0.5")]
            .into_iter()
            .collect();
        let s = Settings::from_config(&config).unwrap();
        assert!(!s.verify);
        assert_eq!(s.connect_timeout, Duration::from_millis(500));
        assert_eq!(s.read_timeout, DEFAULT_READ);
        let bad: VaultConfig = [("ssl_verify", "maybe")].into_iter().collect();
        assert!(Settings::from_config(&bad).is_err());
    }
}
