//! Dialling for plugins' requests: resolve the name, drop every address a plugin may not reach
//! (private, loopback, link-local, unspecified, unless the operator allows them), then connect to
//! what is left. The check is on the addresses actually dialled, so a name that resolves to
//! loopback (`localhost`, a rebinding DNS record) is refused like the literal.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Longest a connection attempt to one address may take (a request's own deadline is usually
/// shorter, and ends it first).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the whole set-up of a connection may take: lookup, TCP to each address, TLS.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Address lookups running at once over all tenants: each holds a thread of the blocking pool
/// until the system resolver answers, however long that takes.
pub const MAX_LOOKUPS: usize = 64;
/// Address lookups of one tenant running at once (a tenant whose DNS never answers holds at most
/// these).
pub const TENANT_LOOKUPS: usize = 8;

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Every address the name has is one plugins may not reach.
    #[error("{0} is a private, loopback or link-local address, which plugins may not reach")]
    Prohibited(IpAddr),
    /// The name did not resolve.
    #[error("cannot resolve {0}: {1}")]
    Dns(String, String),
    /// The name resolved to no address.
    #[error("{0} has no address")]
    NotFound(String),
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// No address accepted the connection in time.
    #[error("connection to {0} timed out")]
    Timeout(SocketAddr),
    /// Lookup, connection and TLS together took longer than [`SETUP_TIMEOUT`].
    #[error("setting up the connection took longer than {} s", SETUP_TIMEOUT.as_secs())]
    SetupTimeout,
    /// Connecting failed.
    #[error("cannot connect to {0}: {1}")]
    Io(SocketAddr, std::io::Error),
}

/// Connects one tenant's requests (the inner connector of the TLS connector).
#[derive(Debug, Clone)]
pub struct Dialer {
    /// Private, loopback and link-local addresses may be dialled (the operator's
    /// `allow_private_networks`; `dev` sets it).
    allow_private: bool,
    /// The host's lookups at once, and this tenant's.
    lookups: Arc<Semaphore>,
    tenant_lookups: Arc<Semaphore>,
}

impl Dialer {
    /// A tenant's dialler, sharing the host's lookup limit `lookups`.
    pub fn new(allow_private: bool, lookups: Arc<Semaphore>) -> Self {
        Dialer { allow_private, lookups, tenant_lookups: Arc::new(Semaphore::new(TENANT_LOOKUPS)) }
    }
}

/// `host`'s addresses, from the system resolver on a blocking thread that holds a lookup permit of
/// the tenant and of the host until the resolver returns (not only while someone waits for it).
async fn lookup(
    host: &str,
    port: u16,
    tenant: &Arc<Semaphore>,
    all: &Arc<Semaphore>,
) -> Result<Vec<SocketAddr>, DialError> {
    let closed = |_| DialError::Dns(host.to_owned(), "the resolver is shutting down".into());
    let mine = Arc::clone(tenant).acquire_owned().await.map_err(closed)?;
    let host_wide = Arc::clone(all).acquire_owned().await.map_err(closed)?;
    let name = host.to_owned();
    let found = tokio::task::spawn_blocking(move || {
        let _held = (mine, host_wide);
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port)).map(Iterator::collect::<Vec<_>>)
    })
    .await
    .map_err(|e| DialError::Dns(host.to_owned(), e.to_string()))?;
    found.map_err(|e| DialError::Dns(host.to_owned(), e.to_string()))
}

impl tower::Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = DialError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DialError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let allow_private = self.allow_private;
        let (tenant, all) = (Arc::clone(&self.tenant_lookups), Arc::clone(&self.lookups));
        Box::pin(async move {
            let host = uri.host().ok_or(DialError::NoHost)?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            let https = uri.scheme() == Some(&hyper::http::uri::Scheme::HTTPS);
            let port = uri.port_u16().unwrap_or(crate::config::outbound::default_port(https));
            let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => lookup(&host, port, &tenant, &all).await?,
            };
            let reachable: Vec<SocketAddr> =
                addrs.iter().copied().filter(|a| allow_private || !prohibited(a.ip())).collect();
            let Some(first) = addrs.first() else { return Err(DialError::NotFound(host)) };
            if reachable.is_empty() {
                return Err(DialError::Prohibited(first.ip()));
            }
            let mut last = None;
            for addr in reachable {
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(TokioIo::new(stream));
                    }
                    Ok(Err(e)) => last = Some(DialError::Io(addr, e)),
                    Err(_) => last = Some(DialError::Timeout(addr)),
                }
            }
            Err(last.unwrap_or(DialError::NotFound(host)))
        })
    }
}

/// Whether plugins are kept from `ip` unless the operator allows private networks: loopback,
/// private, link-local, unspecified, shared (CGNAT), multicast, broadcast, reserved and
/// documentation ranges, and IPv6 forms that embed such an IPv4 address.
pub fn prohibited(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => prohibited_v4(v4),
        IpAddr::V6(v6) => prohibited_v6(v6),
    }
}

fn prohibited_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || a >= 240 // reserved
}

fn prohibited_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return prohibited_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    let o = ip.octets();
    let embedded = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return prohibited_v4(embedded);
    }
    // NAT64, well-known (64:ff9b::/96) and local-use (64:ff9b:1::/48), and IPv4-translated
    // (::ffff:0:a.b.c.d) addresses carry the IPv4 address in their last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] || s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return prohibited_v4(embedded);
    }
    // 6to4 (2002::/16) carries it in bits 16 to 48.
    if s[0] == 0x2002 {
        return prohibited_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation, 2001:db8::/32
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard, 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_unspecified_are_prohibited() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
            "::ffff:0:7f00:1",
            "2002:c0a8:101::1",
            "2002:7f00:1::",
            "ff02::1",
        ] {
            assert!(prohibited(ip.parse().expect(ip)), "{ip} should be prohibited");
        }
    }

    #[test]
    fn public_addresses_are_not() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!prohibited(ip.parse().expect(ip)), "{ip} should be reachable");
        }
    }

    #[tokio::test]
    async fn localhost_is_refused_on_the_address_it_resolves_to() {
        let mut dialer = Dialer::new(false, Arc::new(Semaphore::new(MAX_LOOKUPS)));
        let uri: Uri = "http://localhost:9/".parse().expect("uri");
        let err = tower::Service::call(&mut dialer, uri).await.expect_err("refused");
        assert!(matches!(err, DialError::Prohibited(ip) if ip.is_loopback()), "{err}");
        let uri: Uri = "http://[::ffff:127.0.0.1]:9/".parse().expect("uri");
        let err = tower::Service::call(&mut dialer, uri).await.expect_err("refused");
        assert!(matches!(err, DialError::Prohibited(_)), "{err}");
    }
}
