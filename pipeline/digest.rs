//! Hex digests: SHA-256 names uploads and links the audit chain, and hex
//! spells random ids and keys. A leaf module, so the store and the layers
//! above it share one copy.

use sha2::{Digest, Sha256};

/// SHA-256 in lower-case hex: the identity of an upload.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// Bytes as lowercase hexadecimal digits.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
