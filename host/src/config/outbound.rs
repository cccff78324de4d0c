//! The outbound allow-list (`allowed_outbound_hosts` in `<app>.toml` and in a tenant's `[limits]`):
//! the grammar of one entry, whether a request's URL is allowed, and whether one entry lies within
//! another (a tenant's cap on what its apps may list).
//!
//! An entry is `scheme://host[:port]`:
//! - scheme: `http`, `https`, or `*` (either);
//! - host: a name (`crm.example.com`), `*.` and a name (any name below it, at any depth, not the name
//!   itself), `*` (any host), an IP literal (`127.0.0.1`, `[::1]`) or a CIDR (`10.0.0.0/8`,
//!   `[fd00::]/8`); IP literals and CIDRs match URLs that name an IP, never a name that resolves to
//!   one;
//! - port: a number or `*`; without one, the scheme's own (80 for http, 443 for https; `*://host`
//!   means `http://host:80` and `https://host:443`).
//!
//! Matching is on the URL only. Which addresses a name may resolve to is the dialler's concern
//! (private and loopback addresses are refused there).

use std::net::IpAddr;

use ipnet::IpNet;

/// Most entries one list may hold.
pub const MAX_ALLOWED_HOSTS: usize = 64;

/// Which schemes an entry allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeRule {
    Any,
    Http,
    Https,
}

/// Which hosts an entry allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// Any name or IP.
    Any,
    /// Exactly this name (lower case, no trailing dot).
    Name(String),
    /// Any name ending in this suffix (`.example.org`): a name below it.
    Below(String),
    /// IPs in this network (a single address is a /32 or /128).
    Net(IpNet),
}

impl SchemeRule {
    /// Whether this rule allows `https` (true) or `http` (false).
    fn has(self, https: bool) -> bool {
        match self {
            SchemeRule::Any => true,
            SchemeRule::Http => !https,
            SchemeRule::Https => https,
        }
    }
}

/// The port of `https` (443) or `http` (80) when a URL names none.
pub fn default_port(https: bool) -> u16 {
    if https { 443 } else { 80 }
}

/// Which ports an entry allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRule {
    Any,
    /// The request's scheme's default port.
    Default,
    Is(u16),
}

/// One parsed entry of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    text: String,
    scheme: SchemeRule,
    host: HostRule,
    port: PortRule,
}

/// What an outbound request is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub https: bool,
    /// The host: a lower-case name, or an IP.
    pub host: TargetHost,
    /// The port, explicit or the scheme's default.
    pub port: u16,
}

/// A request's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// A DNS name, lower case, without a trailing dot.
    Name(String),
    /// An IP literal (IPv4-mapped IPv6 written as such stays IPv6 here).
    Ip(IpAddr),
}

impl Target {
    /// The target of `scheme` (`http`/`https`), `host` (a name, an IPv4 literal, or a bracketed
    /// IPv6 literal) and `port` (`None`: the scheme's default).
    pub fn new(https: bool, host: &str, port: Option<u16>) -> Option<Target> {
        let host = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            TargetHost::Ip(IpAddr::V6(inner.parse().ok()?))
        } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            TargetHost::Ip(IpAddr::V4(ip))
        } else {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() {
                return None;
            }
            TargetHost::Name(name)
        };
        Some(Target { https, host, port: port.unwrap_or(default_port(https)) })
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl AllowedHost {
    /// Parses one entry; the error says what is wrong with it.
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let text = entry.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!("`{text}` is not `scheme://host[:port]` (for example `https://crm.example.com`)"));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "*" => SchemeRule::Any,
            "http" => SchemeRule::Http,
            "https" => SchemeRule::Https,
            other => return Err(format!("`{text}`: the scheme `{other}` is not http, https or *")),
        };
        let (host, port) = split_host_port(rest).map_err(|e| format!("`{text}`: {e}"))?;
        let port = match port {
            None => PortRule::Default,
            Some("*") => PortRule::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => PortRule::Is(n),
                _ => return Err(format!("`{text}`: the port `{p}` is not 1 to 65535 or *")),
            },
        };
        let host = parse_host(host).map_err(|e| format!("`{text}`: {e}"))?;
        Ok(AllowedHost { text: text.to_owned(), scheme, host, port })
    }

    /// The one port this entry allows for `https` or `http`, or `None` for any.
    fn port_for(&self, https: bool) -> Option<u16> {
        match self.port {
            PortRule::Any => None,
            PortRule::Default => Some(default_port(https)),
            PortRule::Is(p) => Some(p),
        }
    }

    /// Whether a request to `target` is allowed by this entry.
    pub fn allows(&self, target: &Target) -> bool {
        let host = match (&self.host, &target.host) {
            (HostRule::Any, _) => true,
            (HostRule::Name(n), TargetHost::Name(t)) => n == t,
            (HostRule::Below(suffix), TargetHost::Name(t)) => t.len() > suffix.len() && t.ends_with(suffix.as_str()),
            (HostRule::Net(net), TargetHost::Ip(ip)) => net.contains(&canonical(*ip)),
            _ => false,
        };
        self.scheme.has(target.https) && self.port_for(target.https).is_none_or(|p| p == target.port) && host
    }

    /// Whether every URL this entry allows is allowed by `outer` too: for each scheme this entry
    /// allows, `outer` allows it with every port this entry does, and every host.
    pub fn within(&self, outer: &AllowedHost) -> bool {
        let ports = [false, true].into_iter().filter(|&https| self.scheme.has(https)).all(|https| {
            outer.scheme.has(https)
                && match (outer.port_for(https), self.port_for(https)) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(o), Some(i)) => o == i,
                }
        });
        let host = match (&outer.host, &self.host) {
            (HostRule::Any, _) => true,
            (_, HostRule::Any) => false,
            (HostRule::Name(o), HostRule::Name(i)) => o == i,
            (HostRule::Below(o), HostRule::Below(i)) if o == i => true,
            (HostRule::Below(o), HostRule::Name(i) | HostRule::Below(i)) => {
                i.len() > o.len() && i.ends_with(o.as_str())
            }
            (HostRule::Net(o), HostRule::Net(i)) => o.contains(i),
            _ => false,
        };
        ports && host
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `host[:port]`, where host may be `[v6]`, `[v6]/len`, `[v6/len]` or `v4/len`.
fn split_host_port(rest: &str) -> Result<(&str, Option<&str>), String> {
    if rest.is_empty() {
        return Err("no host".into());
    }
    if rest.starts_with('[') {
        let close = rest.find(']').ok_or("an IPv6 address must be closed by `]`")?;
        let after = &rest[close + 1..];
        // `[fd00::]/8` keeps its prefix length with the host.
        let (host_end, tail) = match after.strip_prefix('/') {
            Some(len) => {
                let end = len.find(':').unwrap_or(len.len());
                (close + 2 + end, &len[end..])
            }
            None => (close + 1, after),
        };
        let host = &rest[..host_end];
        return match tail {
            "" => Ok((host, None)),
            t => match t.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{t}` after the host (no paths, queries or users)")),
            },
        };
    }
    if rest.contains(['?', '#', '@']) || rest.trim_end_matches('/').contains('/') && !looks_like_cidr(rest) {
        return Err("an entry names a host and port only (no paths, queries or users)".into());
    }
    let rest = if looks_like_cidr(rest) { rest } else { rest.trim_end_matches('/') };
    Ok(match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    })
}

fn looks_like_cidr(rest: &str) -> bool {
    rest.split_once('/').is_some_and(|(addr, len)| {
        addr.parse::<std::net::Ipv4Addr>().is_ok()
            && !len.is_empty()
            && len.split(':').next().is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn parse_host(host: &str) -> Result<HostRule, String> {
    if host == "*" {
        return Ok(HostRule::Any);
    }
    if let Some(inner) = host.strip_prefix('[') {
        // `[v6]`, `[v6]/len` or `[v6/len]`.
        let (addr, len) = match inner.split_once(']') {
            Some((addr, "")) => match addr.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (addr, None),
            },
            Some((addr, len)) => (addr, Some(len.trim_start_matches('/'))),
            None => return Err("an IPv6 address must be closed by `]`".into()),
        };
        let ip: std::net::Ipv6Addr = addr.parse().map_err(|_| format!("`{addr}` is not an IPv6 address"))?;
        return net(IpAddr::V6(ip), len);
    }
    if let Some((addr, len)) = host.split_once('/') {
        let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| format!("`{host}` is not a CIDR (`10.0.0.0/8`)"))?;
        return net(IpAddr::V4(ip), Some(len));
    }
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return net(IpAddr::V4(ip), None);
    }
    let (below, name) = match host.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, host),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        let hint = if name.contains('*') { " (`*` stands alone or as the first label: `*.example.com`)" } else { "" };
        return Err(format!("`{host}` is not a host name, IP address or CIDR{hint}"));
    }
    Ok(if below { HostRule::Below(format!(".{name}")) } else { HostRule::Name(name) })
}

fn net(ip: IpAddr, len: Option<&str>) -> Result<HostRule, String> {
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("the prefix length `/{l}` is not 0 to {max}")),
        },
    };
    // `[::ffff:10.0.0.0]/104` is the IPv4 network it maps.
    let net = match ip {
        IpAddr::V6(v6) if len >= 96 && v6.to_ipv4_mapped().is_some() => IpNet::new(canonical(ip), len - 96),
        _ => IpNet::new(ip, len),
    }
    .map_err(|e| e.to_string())?;
    Ok(HostRule::Net(net.trunc()))
}

/// Parses a whole list; the error names the entry (`key[i]`) and what is wrong with it.
pub fn parse_list(key: &str, entries: &[String]) -> Result<Vec<AllowedHost>, String> {
    if entries.len() > MAX_ALLOWED_HOSTS {
        return Err(format!("`{key}` has {} entries, at most {MAX_ALLOWED_HOSTS}", entries.len()));
    }
    entries.iter().enumerate().map(|(i, e)| AllowedHost::parse(e).map_err(|m| format!("`{key}[{i}]`: {m}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, url: (bool, &str, Option<u16>)) -> bool {
        let target = Target::new(url.0, url.1, url.2).expect("target");
        AllowedHost::parse(entry).expect("entry").allows(&target)
    }

    #[test]
    fn names_ports_and_schemes() {
        assert!(allows("https://crm.example.com", (true, "crm.example.com", None)));
        assert!(allows("https://crm.example.com", (true, "CRM.Example.com.", Some(443))));
        assert!(!allows("https://crm.example.com", (false, "crm.example.com", None)));
        assert!(!allows("https://crm.example.com", (true, "crm.example.com", Some(8443))));
        assert!(!allows("https://crm.example.com", (true, "evil.com", None)));
        assert!(!allows("https://crm.example.com", (true, "crm.example.com.evil.com", None)));
        assert!(allows("*://crm.example.com", (false, "crm.example.com", None)));
        assert!(allows("*://crm.example.com", (true, "crm.example.com", None)));
        // `*://h` is each scheme's own port, not the other's.
        assert!(!allows("*://crm.example.com", (false, "crm.example.com", Some(443))));
        assert!(allows("http://crm.example.com:*", (false, "crm.example.com", Some(9999))));
        assert!(allows("http://127.0.0.1:8099", (false, "127.0.0.1", Some(8099))));
        assert!(!allows("http://127.0.0.1:8099", (false, "127.0.0.1", Some(8098))));
        assert!(allows("*://*:*", (true, "anything.example", Some(1))));
        assert!(allows("https://*", (true, "10.1.2.3", None)));
    }

    #[test]
    fn wildcard_labels_are_below_the_name_only() {
        let e = "https://*.example.org:8443";
        assert!(allows(e, (true, "api.example.org", Some(8443))));
        assert!(allows(e, (true, "a.b.example.org", Some(8443))));
        assert!(!allows(e, (true, "example.org", Some(8443))));
        assert!(!allows(e, (true, "badexample.org", Some(8443))));
        assert!(!allows(e, (true, "api.example.org", None)));
    }

    #[test]
    fn ips_and_cidrs_match_ip_urls_only() {
        assert!(allows("http://10.0.0.0/8", (false, "10.200.3.4", None)));
        assert!(allows("http://10.0.0.0/8:8080", (false, "10.200.3.4", Some(8080))));
        assert!(!allows("http://10.0.0.0/8", (false, "11.0.0.1", None)));
        assert!(allows("http://[::1]", (false, "[::1]", None)));
        assert!(allows("http://[fd00::]/8:*", (false, "[fd12::1]", Some(5))));
        assert!(allows("http://[fd00::/8]", (false, "[fd12::1]", None)));
        // An IPv4-mapped IPv6 URL is its IPv4 address.
        assert!(allows("http://127.0.0.1", (false, "[::ffff:127.0.0.1]", None)));
        assert!(allows("http://[::ffff:10.0.0.0]/104", (false, "10.9.9.9", None)));
        // A name never matches an IP entry, whatever it resolves to.
        assert!(!allows("http://127.0.0.1", (false, "localhost", None)));
        assert!(!allows("http://localhost", (false, "127.0.0.1", None)));
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, says) in [
            ("crm.example.com", "scheme://host"),
            ("ftp://crm.example.com", "scheme `ftp`"),
            ("https://crm.example.com/path", "no paths"),
            ("https://crm.example.com?x=1", "no paths"),
            ("https://user@crm.example.com", "no paths"),
            ("https://crm.example.com:0", "port `0`"),
            ("https://crm.example.com:99999", "port `99999`"),
            ("https://crm.*.com", "first label"),
            ("https://", "no host"),
            ("http://10.0.0.0/33", "prefix length"),
            ("http://[::1", "closed by"),
            ("http://[zz::1]", "not an IPv6"),
            ("http://exa mple.com", "not a host name"),
        ] {
            let e = AllowedHost::parse(entry).expect_err(entry);
            assert!(e.contains(says), "{entry}: {e}");
        }
        let list = parse_list("allowed_outbound_hosts", &["https://a.com".into(), "nope".into()]).expect_err("bad");
        assert!(list.starts_with("`allowed_outbound_hosts[1]`"), "{list}");
    }

    #[test]
    fn entries_within_a_cap() {
        let within = |inner: &str, outer: &str| {
            AllowedHost::parse(inner).expect("inner").within(&AllowedHost::parse(outer).expect("outer"))
        };
        assert!(within("https://crm.example.com", "https://*.example.com"));
        assert!(within("https://a.b.example.com", "*://*.example.com"));
        assert!(within("https://*.b.example.com", "https://*.example.com"));
        assert!(within("https://*.example.com", "https://*.example.com"));
        assert!(!within("https://example.com", "https://*.example.com"));
        assert!(!within("*://crm.example.com", "https://crm.example.com"));
        assert!(!within("https://crm.example.com:*", "https://crm.example.com"));
        assert!(within("https://crm.example.com:443", "https://crm.example.com"));
        assert!(within("https://crm.example.com", "https://crm.example.com:443"));
        assert!(!within("https://crm.example.com:8443", "https://crm.example.com"));
        assert!(within("http://10.1.0.0/16", "http://10.0.0.0/8"));
        assert!(!within("http://10.0.0.0/8", "http://10.1.0.0/16"));
        assert!(!within("https://*", "https://*.example.com"));
        assert!(within("https://evil.com", "*://*:*"));
    }
}

#[cfg(test)]
mod app_config_tests {
    use std::path::Path;

    use crate::config::{AppConfig, Ceilings, TenantConfig};

    fn tenant(text: &str) -> Ceilings {
        TenantConfig::parse(Path::new("acme/tenant.toml"), text).expect("tenant.toml").ceilings()
    }

    #[test]
    fn an_app_lists_only_what_its_tenant_allows() {
        let capped =
            tenant("[limits]\nallowed_outbound_hosts = [\"https://*.example.com\"]\nmax_outbound_requests = 4\n");
        let file = Path::new("acme/crm.toml");
        let ok =
            AppConfig::parse(file, "allowed_outbound_hosts = [\"https://crm.example.com\"]\n", &capped).expect("ok");
        assert!(ok.outbound.enabled());
        assert_eq!(ok.outbound.max_requests, 4, "the default comes down to the tenant's ceiling");
        let err = AppConfig::parse(
            file,
            "allowed_outbound_hosts = [\"https://crm.example.com\", \"https://evil.net\"]\n",
            &capped,
        )
        .expect_err("outside the cap");
        let text = err.to_string();
        assert!(text.contains("acme/crm.toml") && text.contains("`allowed_outbound_hosts[1]`"), "{text}");
        assert!(text.contains("`https://*.example.com`"), "{text}");
        let err = AppConfig::parse(file, "max_outbound_requests = 5\n", &capped).expect_err("over the ceiling");
        assert!(err.to_string().contains("`max_outbound_requests` must be between 0 and 4"), "{err}");
        let err = AppConfig::parse(file, "allowed_outbound_hosts = [\"crm.example.com\"]\n", &Ceilings::default())
            .expect_err("no scheme");
        assert!(err.to_string().contains("`allowed_outbound_hosts[0]`"), "{err}");
        let err = TenantConfig::parse(
            Path::new("acme/tenant.toml"),
            "[limits]\nallowed_outbound_hosts = [\"https://a.com/x\"]\n",
        )
        .expect_err("bad cap");
        assert!(err.to_string().contains("`limits.allowed_outbound_hosts[0]`"), "{err}");
        // A configuration kept from before a tenant narrowed its cap is narrowed with it.
        let wide = AppConfig::parse(
            file,
            "allowed_outbound_hosts = [\"https://crm.example.com\", \"https://evil.net\"]\nmax_outbound_requests = 20\n",
            &Ceilings::default(),
        )
        .expect("ok");
        let narrowed = wide.outbound.clamped(&capped);
        let kept: Vec<String> = narrowed.allowed.iter().map(ToString::to_string).collect();
        assert_eq!(kept, ["https://crm.example.com"]);
        assert_eq!(narrowed.max_requests, 4);
        // No list: no network, and the caps at their defaults.
        let none = AppConfig::parse(file, "timeout_ms = 100\n", &Ceilings::default()).expect("ok");
        assert!(!none.outbound.enabled());
        assert_eq!((none.outbound.max_requests, none.outbound.max_response_bytes), (8, 1 << 20));
    }
}
