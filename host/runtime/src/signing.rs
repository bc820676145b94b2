//! Signed components: a connector is accepted only if a key the host trusts signed
//! its exact bytes (ed25519, through `ed25519-dalek`).
//!
//! What is signed: `"epms connector v1\n"` followed by the SHA-256 of the component's
//! bytes, so the signature covers every byte and cannot be replayed for another use
//! of the same key. Text forms, one line each (what `epms connector keygen` and
//! `epms connector sign` write):
//!
//! - public key: `epms-ed25519-public <base64 of 32 bytes>`
//! - secret key: `epms-ed25519-secret <base64 of the 32-byte seed>`
//! - signature:  `epms-ed25519 <key id> <base64 of 64 bytes>`
//!
//! A key id is the first 16 hex digits of the SHA-256 of the public key: a name for
//! logs and audit entries, never trusted by itself (verification uses the key).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"epms connector v1\n";
const PUBLIC_TAG: &str = "epms-ed25519-public";
const SECRET_TAG: &str = "epms-ed25519-secret";
const SIGNATURE_TAG: &str = "epms-ed25519";

/// Why a component's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the component is not signed, and this host accepts signed components only")]
    Unsigned,
    #[error("the signature is not in the `{SIGNATURE_TAG} <key id> <base64>` form: {0}")]
    Malformed(String),
    #[error("the component is signed by key {0}, which this host does not trust")]
    UntrustedKey(String),
    #[error(
        "the signature of key {0} does not match these bytes: the component was changed after signing, or signed as another file"
    )]
    Mismatch(String),
}

/// A key's text form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {expected} key: {reason}")]
pub struct KeyError {
    expected: &'static str,
    reason: String,
}

fn message(wasm: &[u8]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(wasm));
    m
}

fn decode_tagged<const N: usize>(
    text: &str,
    tag: &str,
    expected: &'static str,
) -> Result<[u8; N], KeyError> {
    let err = |reason: String| KeyError { expected, reason };
    let text = text.trim();
    // The bare base64 is accepted too (as pasted into a configuration file).
    let b64 = match text.split_once(char::is_whitespace) {
        Some((t, rest)) if t == tag => rest.trim(),
        Some((t, _)) => return Err(err(format!("starts with {t:?}, not {tag:?}"))),
        None => text,
    };
    let bytes = B64
        .decode(b64)
        .map_err(|e| err(format!("bad base64: {e}")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| err(format!("{} bytes, not {N}", b.len())))
}

/// A key a host trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = decode_tagged::<32>(text, PUBLIC_TAG, "public")?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| KeyError {
                expected: "public",
                reason: e.to_string(),
            })
    }

    pub fn id(&self) -> String {
        key_id(&self.0)
    }

    pub fn to_text(&self) -> String {
        format!("{PUBLIC_TAG} {}", B64.encode(self.0.as_bytes()))
    }
}

fn key_id(key: &VerifyingKey) -> String {
    Sha256::digest(key.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A connector author's signing key.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<SecretKey, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let seed = decode_tagged::<32>(text, SECRET_TAG, "secret")?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    pub fn to_text(&self) -> String {
        format!("{SECRET_TAG} {}", B64.encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The signature line for these exact bytes.
    pub fn sign(&self, wasm: &[u8]) -> String {
        let sig = self.0.sign(&message(wasm));
        format!(
            "{SIGNATURE_TAG} {} {}",
            key_id(&self.0.verifying_key()),
            B64.encode(sig.to_bytes())
        )
    }
}

/// Which keys a host accepts components from.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    pub keys: Vec<PublicKey>,
    /// Development only: accept components without a signature (a signature that is
    /// present must still be valid and trusted).
    pub allow_unsigned: bool,
}

/// Who vouched for a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Signed by the trusted key with this id.
    Signed { key_id: String },
    /// Accepted unsigned (development mode).
    Unsigned,
}

impl TrustedKeys {
    /// Checks `signature` (a signature line, if any) against `wasm`.
    pub fn verify(
        &self,
        wasm: &[u8],
        signature: Option<&str>,
    ) -> Result<Provenance, SignatureError> {
        let Some(line) = signature.map(str::trim).filter(|s| !s.is_empty()) else {
            return if self.allow_unsigned {
                Ok(Provenance::Unsigned)
            } else {
                Err(SignatureError::Unsigned)
            };
        };
        let mut parts = line.split_whitespace();
        let (Some(tag), Some(id), Some(b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::Malformed("expected three fields".into()));
        };
        if tag != SIGNATURE_TAG {
            return Err(SignatureError::Malformed(format!("unknown scheme {tag:?}")));
        }
        let bytes: [u8; 64] = B64
            .decode(b64)
            .map_err(|e| SignatureError::Malformed(format!("bad base64: {e}")))?
            .try_into()
            .map_err(|b: Vec<u8>| {
                SignatureError::Malformed(format!("{} bytes, not 64", b.len()))
            })?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id() == id)
            .ok_or_else(|| SignatureError::UntrustedKey(id.to_owned()))?;
        key.0
            .verify_strict(&message(wasm), &Signature::from_bytes(&bytes))
            .map_err(|_| SignatureError::Mismatch(id.to_owned()))?;
        Ok(Provenance::Signed {
            key_id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(keys: &[&SecretKey]) -> TrustedKeys {
        TrustedKeys {
            keys: keys.iter().map(|k| k.public()).collect(),
            allow_unsigned: false,
        }
    }

    #[test]
    fn a_signature_covers_the_exact_bytes() {
        let author = SecretKey::generate().unwrap();
        let wasm = b"\0asm component bytes".to_vec();
        let sig = author.sign(&wasm);
        let id = author.public().id();
        assert_eq!(
            trust(&[&author]).verify(&wasm, Some(&sig)),
            Ok(Provenance::Signed { key_id: id.clone() })
        );
        let mut tampered = wasm.clone();
        tampered[3] ^= 1;
        assert_eq!(
            trust(&[&author]).verify(&tampered, Some(&sig)),
            Err(SignatureError::Mismatch(id.clone()))
        );
        let mut longer = wasm.clone();
        longer.push(0);
        assert!(trust(&[&author]).verify(&longer, Some(&sig)).is_err());
    }

    #[test]
    fn unsigned_untrusted_and_malformed_are_each_refused_by_name() {
        let author = SecretKey::generate().unwrap();
        let stranger = SecretKey::generate().unwrap();
        let wasm = b"bytes";
        let keys = trust(&[&author]);
        assert_eq!(keys.verify(wasm, None), Err(SignatureError::Unsigned));
        assert_eq!(
            keys.verify(wasm, Some(&stranger.sign(wasm))),
            Err(SignatureError::UntrustedKey(stranger.public().id()))
        );
        assert!(matches!(
            keys.verify(wasm, Some("epms-ed25519 abc")),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            keys.verify(wasm, Some("rsa 1 2")),
            Err(SignatureError::Malformed(_))
        ));
        let dev = TrustedKeys {
            allow_unsigned: true,
            ..keys.clone()
        };
        assert_eq!(dev.verify(wasm, None), Ok(Provenance::Unsigned));
        // A present signature is checked even in development mode.
        assert!(dev.verify(wasm, Some(&stranger.sign(wasm))).is_err());
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let author = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&author.to_text()).unwrap();
        assert_eq!(again.public(), author.public());
        let public = author.public();
        assert_eq!(PublicKey::parse(&public.to_text()).unwrap(), public);
        let bare = public.to_text().split_once(' ').unwrap().1.to_owned();
        assert_eq!(PublicKey::parse(&bare).unwrap(), public);
        assert!(
            PublicKey::parse(&author.to_text()).is_err(),
            "a secret is not a public key"
        );
        assert!(PublicKey::parse("epms-ed25519-public AAAA").is_err());
    }
}
