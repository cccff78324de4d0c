//! Who is calling the admin, deploy and inspector routes.
//!
//! Tokens are sent as `Authorization: Bearer <token>`; the host keeps only their SHA-256 (the
//! operator's in the serve config, each tenant's in its `tenant.toml`) and compares digests in
//! constant time. With no operator token configured, a request without a token from a loopback
//! address is the operator's. Every refusal is logged without the token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AppError, Shared};

/// Who a request comes from, once its token (or its loopback address) was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator: everything.
    Operator,
    /// A tenant's token: that tenant only.
    Tenant {
        /// The tenant.
        tenant: String,
        /// The token's name, or its hash prefix (what the version list shows as the deployer).
        label: String,
    },
}

impl Caller {
    /// Who deployed, for the version list.
    pub fn label(&self) -> String {
        match self {
            Caller::Operator => "operator".into(),
            Caller::Tenant { label, .. } => label.clone(),
        }
    }
}

/// The peer address of the connection (set by the accept loop).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(out)
}

fn matches(presented: &[u8; 32], configured: &str) -> bool {
    decode_hex(configured).is_some_and(|c| bool::from(presented.ct_eq(&c)))
}

/// Why a request from a loopback address may still not come from this machine's own user: a proxy
/// in front (forwarding headers), a web page in a browser here (a cross-site `Origin` or
/// `Sec-Fetch-Site`), or a name rebound to 127.0.0.1 (a `Host` that is not a loopback name).
fn not_local(headers: &HeaderMap) -> Option<&'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("forwarded").is_some() || header("x-forwarded-for").is_some() || header("x-real-ip").is_some() {
        return Some("this request came through a proxy");
    }
    if header("sec-fetch-site").is_some_and(|s| s == "cross-site" || s == "same-site") {
        return Some("this request came from another site's page");
    }
    let local_name = |h: &str| {
        let host =
            h.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(h, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    };
    if header("origin").is_some_and(|o| {
        let rest = o.split_once("://").map_or(o, |(_, r)| r);
        !local_name(rest.split('/').next().unwrap_or(rest))
    }) {
        return Some("this request came from another site's page");
    }
    if header("host").is_some_and(|h| !local_name(h)) {
        return Some("this request names a host other than this machine");
    }
    None
}

/// What a route needs.
#[derive(Debug, Clone, Copy)]
pub enum Need<'a> {
    /// The operator.
    Operator,
    /// The operator or a token of this tenant.
    Tenant(&'a str),
    /// The operator or any tenant's token (which then sees only its own tenant).
    AnyTenant,
}

/// Checks the request's credential against what `need` asks.
pub fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    peer: Peer,
    need: Need<'_>,
    route: &str,
) -> Result<Caller, AppError> {
    let refuse = |error: AppError| {
        let peer = peer.0.map(|p| p.to_string()).unwrap_or_default();
        tracing::warn!(peer, route, "refused: {error}");
        Err(error)
    };
    let token = match headers.get(axum::http::header::AUTHORIZATION) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) {
            Some(t) if !t.is_empty() => Some(t.to_owned()),
            _ => return refuse(AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())),
        },
    };
    let admin = shared.config.admin_token_sha256.as_deref();
    let Some(token) = token else {
        if admin.is_none() && peer.0.is_some_and(|p| p.ip().is_loopback()) {
            if let Some(why) = not_local(headers) {
                return refuse(AppError::Forbidden(format!(
                    "without admin_token_sha256, only local clients get in without a token, and {why}"
                )));
            }
            return Ok(Caller::Operator);
        }
        let why = if admin.is_none() {
            "a token is required (Authorization: Bearer <token>); without admin_token_sha256 in the serve config, only loopback clients get in without one"
        } else {
            "a token is required (Authorization: Bearer <token>)"
        };
        return refuse(AppError::Unauthorized(why.into()));
    };
    let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if admin.is_some_and(|h| matches(&presented, h)) {
        return Ok(Caller::Operator);
    }
    let snapshot = shared.registry.snapshot();
    let owner = snapshot.tenants.values().find_map(|t| {
        let hit = t.config.api_token_sha256.iter().find(|h| matches(&presented, &h.sha256()));
        hit.map(|h| (t.name.clone(), h.label()))
    });
    match (owner, need) {
        (None, _) => refuse(AppError::Unauthorized("the token is not valid".into())),
        (Some(_), Need::Operator) => refuse(AppError::Forbidden("this route needs the operator's token".into())),
        (Some((tenant, label)), Need::AnyTenant) => Ok(Caller::Tenant { tenant, label }),
        (Some((tenant, label)), Need::Tenant(wanted)) if tenant == wanted => Ok(Caller::Tenant { tenant, label }),
        (Some(_), Need::Tenant(_)) => refuse(AppError::Forbidden("this token does not reach this tenant".into())),
    }
}
