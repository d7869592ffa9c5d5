//! Hex digests: SHA-256 names uploads and links the audit chain, and hex
//! spells random ids and keys. A leaf module, so the store and the layers
//! above it share one copy.

use sha2::{Digest, Sha256};

/// SHA-256 in lower-case hex: the identity of an upload.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// Whether `name` is spelled as a SHA-256 in hex (how uploads are named):
/// anything else names no upload.
pub fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Bytes as lowercase hexadecimal digits.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes written as 64 hexadecimal digits (surrounding space ignored).
pub fn hex32(text: &str) -> Option<[u8; 32]> {
    from_hex(text.trim())?.try_into().ok()
}

/// Bytes written as hexadecimal digits, two per byte.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}
