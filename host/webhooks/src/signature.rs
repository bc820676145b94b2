//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` of
//! `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the secret's bytes (the base64
//! after `whsec_`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// Why a secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is \"whsec_\" and base64 of 24 to 64 bytes")]
pub struct BadSecret;

/// A new random signing secret (24 bytes), as `whsec_<base64>`.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let bytes = STANDARD
        .decode(secret.strip_prefix(PREFIX).ok_or(BadSecret)?)
        .map_err(|_| BadSecret)?;
    if (24..=64).contains(&bytes.len()) {
        Ok(bytes)
    } else {
        Err(BadSecret)
    }
}

/// The `webhook-signature` header value of a message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vector of the Standard Webhooks test suite.
    #[test]
    fn the_specifications_reference_vector_signs_as_published() {
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_new_secret_signs_and_a_bad_one_is_refused() {
        let s = new_secret().unwrap();
        assert!(s.starts_with("whsec_"));
        assert!(sign(&s, "msg_1", 1, b"{}").unwrap().starts_with("v1,"));
        assert_eq!(sign("whsec_short", "m", 1, b""), Err(BadSecret));
        assert_eq!(sign("secret", "m", 1, b""), Err(BadSecret));
    }
}
