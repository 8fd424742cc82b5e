//! A blocking client of etcd's v3 JSON gateway: one keep-alive HTTP/1.1
//! connection pool (ureq), several endpoints with failover, TLS with client
//! certificates, a timeout on every call.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::Agent;

use super::wire::ErrorReply;
use super::EtcdConfig;
use crate::store::StoreError;

/// The largest reply read (a page of 1,000 reservations is about 200 KB).
const REPLY_MAX: u64 = 16 << 20;

/// gRPC status codes that mean "this member cannot serve now" (not "the
/// request is wrong"): Unavailable, DeadlineExceeded, Aborted,
/// ResourceExhausted.
fn retryable_code(code: i64) -> bool {
    matches!(code, 14 | 4 | 10 | 8)
}

/// A reply, and whether an earlier attempt of the same request may have
/// reached a member (and been applied) before it failed: a txn that was
/// sent again must then be judged by what it finds.
#[derive(Debug)]
pub(crate) struct Reply<T> {
    pub body: T,
    pub resent: bool,
}

/// Why one attempt failed.
struct Failure {
    detail: String,
    /// The request may have reached the member.
    maybe_sent: bool,
    /// The TLS handshake failed (a certificate refused either way): a configuration
    /// problem, not one that waiting cures.
    tls: bool,
}

/// ureq's resolver, but an endpoint whose host is an IP address (the usual
/// etcd endpoint) is not looked up: ureq's own resolver starts a thread per
/// request to bound the lookup by the timeout, even for a literal address
/// and on a kept-alive connection, which cost a one-shot plugin about half
/// a millisecond per request. Host names still go through it.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

/// The socket address of `uri` when its host is an IP address literal
/// (`127.0.0.1`, `[::1]`) and its port is known (given, or the scheme's).
fn literal_addr(uri: &ureq::http::Uri) -> Option<std::net::SocketAddr> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    let port = match (uri.port_u16(), uri.scheme_str()) {
        (Some(p), _) => p,
        (None, Some("http")) => 80,
        (None, Some("https")) => 443,
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal_addr(uri) {
            Some(addr) => {
                let mut out = self.empty();
                out.push(addr);
                Ok(out)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

pub(crate) struct Client {
    agent: Agent,
    endpoints: Vec<String>,
    /// The endpoint that answered last: tried first next time.
    current: usize,
    dial_timeout: Duration,
    /// For a whole call, across endpoints and rounds.
    request_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("current", &self.current)
            .finish()
    }
}

fn read(path: &std::path::Path, what: &'static str) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|e| StoreError::io(what, path, e))
}

fn bad_pem(path: &std::path::Path, e: ureq::Error) -> StoreError {
    StoreError::io(
        "parse PEM",
        path,
        io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
    )
}

impl Client {
    pub(crate) fn new(conf: &EtcdConfig) -> Result<Client, StoreError> {
        let mut tls = TlsConfig::builder().provider(TlsProvider::Rustls);
        if let Some(t) = &conf.tls {
            if let Some(ca) = &t.ca_file {
                let pem = read(ca, "read")?;
                let mut certs = Vec::new();
                for item in ureq::tls::parse_pem(&pem) {
                    match item.map_err(|e| bad_pem(ca, e))? {
                        ureq::tls::PemItem::Certificate(c) => certs.push(c),
                        _ => continue,
                    }
                }
                if certs.is_empty() {
                    return Err(bad_pem(
                        ca,
                        ureq::Error::Io(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "no certificate in the file",
                        )),
                    ));
                }
                tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
            }
            match (&t.cert_file, &t.key_file) {
                (Some(cert), Some(key)) => {
                    let cert_pem = read(cert, "read")?;
                    let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(&cert_pem)
                        .filter_map(|i| match i {
                            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                            Ok(_) => None,
                            Err(e) => Some(Err(e)),
                        })
                        .collect::<Result<_, _>>()
                        .map_err(|e| bad_pem(cert, e))?;
                    let key_pem = read(key, "read")?;
                    let key_parsed = PrivateKey::from_pem(&key_pem).map_err(|e| bad_pem(key, e))?;
                    tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key_parsed)));
                }
                (None, None) => {}
                _ => {
                    return Err(StoreError::Remote(
                        "etcd tls: certFile and keyFile go together".to_string(),
                    ))
                }
            }
        }
        let config = Agent::config_builder()
            .tls_config(tls.build())
            // The CNI environment's proxy settings are not for etcd.
            .proxy(None)
            .http_status_as_error(false)
            .user_agent(concat!("netns-ipam/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = Agent::with_parts(config, DefaultConnector::new(), LiteralFirst::default());
        Ok(Client {
            agent,
            endpoints: conf
                .endpoints
                .iter()
                .map(|e| e.trim_end_matches('/').to_string())
                .collect(),
            current: 0,
            dial_timeout: conf.dial_timeout,
            request_timeout: conf.request_timeout,
        })
    }

    /// POST `body` to `path` (`/v3/kv/txn`...) on the current endpoint,
    /// then on each of the others while they fail to serve, in rounds with
    /// a short back-off (a leader election takes about a second) until the
    /// config's request timeout has passed. A reply the member gave (a
    /// refused request) is final; when none serves in time, the error is
    /// [`StoreError::Unavailable`] naming every endpoint and its last
    /// failure.
    pub(crate) fn call<T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &Value,
    ) -> Result<Reply<T>, StoreError> {
        let bytes = body.to_string();
        let n = self.endpoints.len();
        let mut last: Vec<Option<String>> = vec![None; n];
        let mut resent = false;
        let start = Instant::now();
        let deadline = start + self.request_timeout;
        let mut backoff = Duration::from_millis(20);
        'rounds: loop {
            let mut tls_failures = 0;
            for k in 0..n {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    break 'rounds;
                }
                let i = (self.current + k) % n;
                // A member without a leader holds a request until it has
                // one: a share of the time left, so the endpoints after it
                // are tried too.
                let share = remaining / (n - k) as u32;
                match self.attempt(i, path, &bytes, share) {
                    Ok(Ok(text)) => {
                        self.current = i;
                        let body = serde_json::from_slice(&text).map_err(|e| {
                            StoreError::Remote(format!(
                                "etcd {}{path}: unreadable reply: {e}",
                                self.endpoints[i]
                            ))
                        })?;
                        return Ok(Reply { body, resent });
                    }
                    Ok(Err(refused)) => {
                        self.current = i;
                        return Err(StoreError::Remote(format!(
                            "etcd {}{path}: {refused}",
                            self.endpoints[i]
                        )));
                    }
                    Err(f) => {
                        resent |= f.maybe_sent;
                        tls_failures += usize::from(f.tls);
                        last[i] = Some(f.detail);
                    }
                }
            }
            if tls_failures == n {
                return Err(StoreError::Remote(format!(
                    "etcd: the TLS handshake failed with every member ({})",
                    self.describe_all(&last)
                )));
            }
            if Instant::now() + backoff >= deadline {
                break;
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(400));
        }
        let tried = self.describe_all(&last);
        Err(StoreError::Unavailable(format!(
            "etcd cluster unavailable for {} ms ({tried})",
            start.elapsed().as_millis()
        )))
    }

    /// Every endpoint with its last failure.
    fn describe_all(&self, last: &[Option<String>]) -> String {
        let mut tried = String::new();
        for (ep, why) in self.endpoints.iter().zip(last) {
            if !tried.is_empty() {
                tried.push_str("; ");
            }
            let why = why.as_deref().unwrap_or("not tried: out of time");
            let _ = write!(tried, "{ep}: {why}");
        }
        tried
    }

    /// One attempt on endpoint `i` within `budget`: the reply's bytes, a
    /// member's final refusal (`Ok(Err)`), or a failure to serve (`Err`).
    fn attempt(
        &self,
        i: usize,
        path: &str,
        body: &str,
        budget: Duration,
    ) -> Result<Result<Vec<u8>, String>, Failure> {
        let url = format!("{}{path}", self.endpoints[i]);
        let mut resp = match self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(budget))
            .timeout_connect(Some(self.dial_timeout.min(budget)))
            .build()
            .header("content-type", "application/json")
            .send(body)
        {
            Ok(r) => r,
            Err(e) => {
                let https = self.endpoints[i].starts_with("https://");
                let mut detail = describe(&e);
                if https && is_dropped(&e) {
                    // What a client sees when the member refuses its
                    // certificate (or has none) after the handshake.
                    detail.push_str(
                        " (the member closed the TLS connection: was the client certificate refused?)",
                    );
                }
                return Err(Failure {
                    maybe_sent: maybe_sent(&e),
                    tls: https && is_tls_refusal(&e),
                    detail,
                });
            }
        };
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(REPLY_MAX)
            .read_to_vec()
            .map_err(|e| Failure {
                // The member answered: the request reached it.
                maybe_sent: true,
                tls: false,
                detail: describe(&e),
            })?;
        if status == 200 {
            return Ok(Ok(text));
        }
        let (msg, retryable) = refusal(status, &text);
        if retryable {
            return Err(Failure {
                maybe_sent: true,
                tls: false,
                detail: msg,
            });
        }
        Ok(Err(msg))
    }
}

/// What a reply of HTTP status `status` (not 200) with body `text` says:
/// the gateway's message (else its error, else the status and the body)
/// and whether it means the member cannot serve now (a retryable gRPC
/// code, or a proxy's 502-504), so another member is tried.
pub(crate) fn refusal(status: u16, text: &[u8]) -> (String, bool) {
    let err: ErrorReply = serde_json::from_slice(text).unwrap_or_default();
    let retryable = retryable_code(err.code) || matches!(status, 502..=504);
    let msg = if err.message.is_empty() {
        if err.error.is_empty() {
            format!("HTTP {status}: {}", String::from_utf8_lossy(text).trim())
        } else {
            err.error
        }
    } else {
        err.message
    };
    (msg, retryable)
}

/// Whether a failed request may have reached the member: not when the
/// connection was never made.
fn maybe_sent(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => !matches!(
            io.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::AddrNotAvailable
                | io::ErrorKind::NetworkUnreachable
                | io::ErrorKind::HostUnreachable
        ),
        ureq::Error::Timeout(t) => !matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::BadUri(_)
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_) => false,
        _ => true,
    }
}

/// The member's certificate was refused (rustls reports it as an I/O error
/// of kind InvalidData through the connection).
fn is_tls_refusal(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => true,
        ureq::Error::Io(io) => io.kind() == io::ErrorKind::InvalidData,
        _ => false,
    }
}

/// The connection was closed under the request.
fn is_dropped(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::Io(io) if matches!(
        io.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    ))
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => crate::store::go_os_message(io),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts_resolve_without_a_lookup() {
        let addr = |u: &str| literal_addr(&u.parse().unwrap()).map(|a| a.to_string());
        assert_eq!(
            addr("http://127.0.0.1:2379/v3/kv/txn").as_deref(),
            Some("127.0.0.1:2379")
        );
        assert_eq!(
            addr("https://10.0.0.1/v3/kv/txn").as_deref(),
            Some("10.0.0.1:443")
        );
        assert_eq!(
            addr("http://[::1]:2379/v3/kv/range").as_deref(),
            Some("[::1]:2379")
        );
        assert_eq!(addr("http://[fe80::1]/x").as_deref(), Some("[fe80::1]:80"));
        // Names are looked up by ureq's resolver.
        assert_eq!(addr("http://localhost:2379/x"), None);
        assert_eq!(addr("http://etcd-0.etcd:2379/x"), None);
    }
}
