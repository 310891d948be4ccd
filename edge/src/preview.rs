//! Preview tokens: how a marketer sees one experience on a real page of the shop before (or
//! without) its audience seeing it.
//!
//! A token is `PAYLOAD.MAC`: the hex of `{"site", "experience", "rulebook", "expires"}` and
//! its HMAC-SHA256 under the `PREVIEW_KEY` secret, a key of its own: a preview link grants
//! nothing but the preview, and nothing a browser holds can mint admin power. Tokens are
//! stateless (any isolate can check one), expire, work for one site, and stop working when
//! the key changes. `rulebook` names a draft kept for previews (`objects::rulebooks::
//! previewed`); without it the active rulebook shows the experience.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The longest a preview token lives.
pub const MAX_MINUTES: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub site: String,
    pub experience: String,
    /// The draft to preview (its content hash), or `None` for the active rulebook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rulebook: Option<String>,
    /// Seconds since the epoch.
    pub expires: i64,
}

fn mac(key: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    // Keeps preview MACs apart from any other use of the key.
    mac.update(b"rapport preview v2\0");
    mac
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

pub fn sign(claims: &Claims, key: &str) -> String {
    let payload = hex::encode(serde_json::to_vec(claims).expect("claims serialise"));
    let mut mac = mac(key);
    mac.update(payload.as_bytes());
    format!("{payload}.{}", hex::encode(mac.finalize().into_bytes()))
}

/// What a token previews, if the token is genuine, unexpired and for `site`.
pub fn verify(token: &str, key: &str, site: &str, now_s: i64) -> Result<Claims, &'static str> {
    let (payload, signature) = token
        .split_once('.')
        .ok_or("the preview token is malformed")?;
    let signature = unhex(signature).ok_or("the preview token is malformed")?;
    let mut mac = mac(key);
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| "the preview token is not valid")?;
    let claims: Claims = unhex(payload)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("the preview token is malformed")?;
    if claims.site != site {
        return Err("the preview token is for another site");
    }
    if claims.expires <= now_s {
        return Err("the preview token has expired");
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            site: "demo".into(),
            experience: "vip-early-access-bar".into(),
            rulebook: Some("draft-hash".into()),
            expires: 1_000,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(&claims(), "preview-key");
        assert_eq!(verify(&token, "preview-key", "demo", 999), Ok(claims()));
        assert_eq!(
            verify(&token, "preview-key", "demo", 1_000),
            Err("the preview token has expired")
        );
    }

    #[test]
    fn forged_or_misused_tokens_are_refused() {
        let token = sign(&claims(), "preview-key");
        assert_eq!(
            verify(&token, "another-key", "demo", 0),
            Err("the preview token is not valid")
        );
        assert_eq!(
            verify(&token, "preview-key", "other-site", 0),
            Err("the preview token is for another site")
        );
        // Changing the payload (a later expiry) breaks the MAC.
        let mut longer = claims();
        longer.expires = 9_999_999;
        let forged_payload = sign(&longer, "x");
        let (payload, _) = forged_payload.split_once('.').unwrap();
        let (_, signature) = token.split_once('.').unwrap();
        assert_eq!(
            verify(&format!("{payload}.{signature}"), "preview-key", "demo", 0),
            Err("the preview token is not valid")
        );
        for junk in ["", "nodot", "zz.zz", "abc.abc"] {
            assert!(verify(junk, "preview-key", "demo", 0).is_err(), "{junk}");
        }
    }
}
