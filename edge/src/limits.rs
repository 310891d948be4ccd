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
