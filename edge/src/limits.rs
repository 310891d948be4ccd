//! Rate limits: every visitor and every address, through Cloudflare's rate-limit bindings
//! (`VISITOR_LIMITER`, `IP_LIMITER` in wrangler.toml).

use worker::Env;

use crate::error::{ApiError, Context};

/// Counts a request against the visitor's (when it names one) and the address's limits.
/// Where a binding is not configured, there is no limit.
pub async fn check(
    env: &Env,
    site: &str,
    visitor_id: Option<&str>,
    address: &str,
) -> Result<(), ApiError> {
    let visitor = visitor_id.map(|id| ("VISITOR_LIMITER", format!("visitor:{site}:{id}")));
    let address = ("IP_LIMITER", format!("ip:{address}"));
    for (binding, key) in visitor.into_iter().chain([address]) {
        let Ok(limiter) = env.rate_limiter(binding) else {
            continue;
        };
        let outcome = limiter
            .limit(key)
            .await
            .context(format_args!("asking the {binding} rate limit"))?;
        if !outcome.success {
            return Err(ApiError::RateLimited { retry_after: 60 });
        }
    }
    Ok(())
}

/// Counts a console sign-in attempt against the address's limit (`SIGNIN_LIMITER`: a few a
/// minute), so that the admin token cannot be guessed at speed.
pub async fn check_sign_in(env: &Env, address: &str) -> Result<(), ApiError> {
    let Ok(limiter) = env.rate_limiter("SIGNIN_LIMITER") else {
        return Ok(());
    };
    let outcome = limiter
        .limit(format!("signin:{address}"))
        .await
        .context("asking the SIGNIN_LIMITER rate limit")?;
    if outcome.success {
        Ok(())
    } else {
        Err(ApiError::RateLimited { retry_after: 60 })
    }
}
