//! Signed webhooks: the JWT's check against the tenant's secret and `application_id`, and the
//! replay guard on its `jti`.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, header};

use super::{AppError, AppState, refused};
use crate::registry::Tenant;
use crate::runtime::Claims;
use crate::signature;
use crate::state::Namespace;

/// The verified claims of a signed webhook (`None` when the tenant does not sign): HS256 with the
/// body's hash and the time window, the tenant's `application_id`, and a `jti` never seen before.
pub(super) async fn authenticate(
    shared: &AppState,
    tenant: &Tenant,
    app_name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Claims>, AppError> {
    let Some(secret) = &tenant.config.signature_secret else { return Ok(None) };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let checked = match signature::verify(authorization, secret, body, shared.signature_window, SystemTime::now()) {
        Err(e) => Err(e.to_string()),
        Ok(v) if tenant.config.application_id.as_ref().is_some_and(|id| v.application_id.as_ref() != Some(id)) => {
            Err("its `application_id` is not the tenant's".to_owned())
        }
        Ok(v) => first_use(shared, &tenant.name, v.jti.as_deref()).await.map(|()| v),
    };
    match checked {
        Ok(v) => Ok(Some(Claims { api_key: v.api_key, application_id: v.application_id, jti: v.jti, iat: v.iat })),
        Err(why) => {
            tracing::warn!(tenant = %tenant.name, app = %app_name, "signed webhook refused: {why}");
            Err(refused())
        }
    }
}

/// Longest `jti` remembered.
const MAX_JTI_BYTES: usize = 128;

/// Remembers a signed webhook's token id for as long as the token could be accepted (its `iat`
/// window either way), in the state backend so every host behind a load balancer agrees: a token is
/// good for one webhook only.
async fn first_use(shared: &AppState, tenant: &str, jti: Option<&str>) -> Result<(), String> {
    let jti = jti.filter(|j| !j.is_empty()).ok_or("the token has no `jti` claim")?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(format!("the token's `jti` is longer than {MAX_JTI_BYTES} bytes"));
    }
    let ns = Namespace::Replay { tenant: tenant.to_owned() };
    let remember = shared.signature_window * 2 + Duration::from_secs(60);
    match shared.state.insert_new(&ns, jti, Vec::new(), Some(remember)).await {
        Ok(true) => Ok(()),
        Ok(false) => Err("the token was used before (replayed `jti`)".into()),
        // Fail closed: without the record, a replay could not be told apart.
        Err(e) => Err(format!("cannot check the token for replay: {e}")),
    }
}
