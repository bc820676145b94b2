//! Secrets at rest: ChaCha20-Poly1305 with a 32-byte key from the host's
//! configuration and a random nonce per value; stored as base64(nonce ‖ ciphertext).
//! A wrong key or a tampered value fails to open; it never yields garbage.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Generate, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secrets key must be 32 bytes, given as 64 hex digits")]
    BadKey,
    #[error("a stored secret cannot be opened: wrong key or damaged value")]
    Open,
}

/// Seals and opens secret values.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

const NONCE: usize = 12;

impl SecretBox {
    pub fn new(key: [u8; 32]) -> Self {
        SecretBox {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    /// A fresh random key (for a new installation or the demo), as 64 hex digits.
    pub fn generate_hex() -> String {
        Key::generate().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key from 64 hex digits (as kept in the host's configuration).
    pub fn from_hex(hex: &str) -> Result<Self, SecretError> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(SecretError::BadKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| SecretError::BadKey)?;
        }
        Ok(SecretBox::new(key))
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = Nonce::generate();
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("encrypting into a Vec cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SecretError::Open)?;
        if bytes.len() < NONCE {
            return Err(SecretError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE);
        let nonce = Nonce::try_from(nonce).map_err(|_| SecretError::Open)?;
        let plain = self
            .cipher
            .decrypt(&nonce, ciphertext)
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_never_read_as_plaintext() {
        let a = SecretBox::new([7; 32]);
        let sealed = a.seal("hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, a.seal("hunter2"), "a fresh nonce per value");
        assert_eq!(a.open(&sealed).unwrap(), "hunter2");
        assert_eq!(
            SecretBox::new([8; 32]).open(&sealed),
            Err(SecretError::Open)
        );
        let mut tampered = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(tampered);
        assert_eq!(a.open(&tampered), Err(SecretError::Open));
    }

    #[test]
    fn keys_come_from_64_hex_digits() {
        assert!(SecretBox::from_hex(&"ab".repeat(32)).is_ok());
        assert_eq!(
            SecretBox::from_hex("abcd").unwrap_err(),
            SecretError::BadKey
        );
        assert_eq!(
            SecretBox::from_hex(&"zz".repeat(32)).unwrap_err(),
            SecretError::BadKey
        );
    }
}
