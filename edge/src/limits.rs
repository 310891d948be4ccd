//! Rate limits: every visitor and every address, through Cloudflare's rate-limit bindings
//! (`VISITOR_LIMITER`, `IP_LIMITER` in wrangler.toml).

use worker::Env;

use crate::error::{ApiError, Context};

/// Counts a request against the visitor's and the address's limits. Where a binding is not
/// configured, there is no limit.
pub async fn check(env: &Env, site: &str, visitor_id: &str, address: &str) -> Result<(), ApiError> {
    for (binding, key) in [
        ("VISITOR_LIMITER", format!("visitor:{site}:{visitor_id}")),
        ("IP_LIMITER", format!("ip:{address}")),
    ] {
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
