//! Fingerprints of settings under a per-process key: how `flowstate check --diff` tells which
//! settings of a running daemon differ from a file, without either side sending a value.
//!
//! A fingerprint is HMAC-SHA256 of the setting's text under a key the daemon draws at random
//! when it starts and hands out with its fingerprints. An unkeyed fast hash (FNV-1a, as
//! before) let anyone who could read `/api/v1/config` recover a short token from its
//! fingerprint in seconds, and the same secret had the same fingerprint on every daemon. Under
//! a fresh random key nothing can be precomputed, and HMAC-SHA256 has no shortcut like the
//! meet-in-the-middle FNV allowed. A guess can still be tested against a fingerprint, so the
//! daemon fingerprints secret values only for a client that holds `server.token` (which may
//! reload the daemon anyway); without a token, secrets are fingerprinted in their redacted
//! form, and secret changes are not compared.

use std::fmt;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The length of a key in bytes, and of its hex form in characters (twice that).
const KEY_BYTES: usize = 32;
/// Fingerprints keep this many bytes of the MAC: plenty to tell settings apart.
const FINGERPRINT_BYTES: usize = 16;

/// A key for [`FingerprintKey::fingerprint`]; its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct FingerprintKey {
    bytes: [u8; KEY_BYTES],
    key: hmac::Key,
}

/// The system's random source failed: no key can be drawn.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed; no fingerprint key can be drawn")]
pub struct NoRandomness;

impl FingerprintKey {
    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<Self, NoRandomness> {
        let mut bytes = [0u8; KEY_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| NoRandomness)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key a daemon handed out as [`FingerprintKey::to_hex`]; `None` if it is not one.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 2 * KEY_BYTES || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; KEY_BYTES];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        FingerprintKey {
            bytes,
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        }
    }

    pub fn to_hex(&self) -> String {
        hex(&self.bytes)
    }

    /// The fingerprint of `value`: 32 hex digits.
    pub fn fingerprint(&self, value: &str) -> String {
        let tag = hmac::sign(&self.key, value.as_bytes());
        hex(&tag.as_ref()[..FINGERPRINT_BYTES])
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(***)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_fingerprint_and_another_key_another() {
        let key = FingerprintKey::random().unwrap();
        let again = FingerprintKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(
            key.fingerprint("Bearer one"),
            again.fingerprint("Bearer one")
        );
        assert_ne!(key.fingerprint("Bearer one"), key.fingerprint("Bearer two"));
        let other = FingerprintKey::random().unwrap();
        assert_ne!(
            key.fingerprint("Bearer one"),
            other.fingerprint("Bearer one")
        );
        assert_eq!(key.fingerprint("").len(), 32);
    }

    #[test]
    fn only_a_whole_hex_key_is_taken() {
        assert!(FingerprintKey::from_hex("").is_none());
        assert!(FingerprintKey::from_hex(&"g".repeat(64)).is_none());
        assert!(FingerprintKey::from_hex(&"ab".repeat(31)).is_none());
        assert!(FingerprintKey::from_hex(&"é".repeat(32)).is_none());
        assert!(FingerprintKey::from_hex(&"ab".repeat(32)).is_some());
    }

    #[test]
    fn the_key_is_never_shown_by_debug() {
        let key = FingerprintKey::from_hex(&"ab".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("ab"));
    }
}
