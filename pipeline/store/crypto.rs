//! Encryption at rest: every record the store writes and every upload file
//! is sealed with ChaCha20-Poly1305 under the key named in `pipeline.toml`
//! (`store.key_file` or `store.key_env`: 64 hex digits). Each sealed value
//! is `ENC1 ‖ nonce (12 bytes, random) ‖ ciphertext ‖ tag`, and its place
//! (tree and key, or file name) is the associated data, so a value moved to
//! another record does not open either.
//!
//! Names that are sled keys (account ids) are not stored as they are: the
//! key is HMAC-SHA256 of the name under a key derived from the store key
//! ([`Sealer::name_key`]), so the database files do not show who applied.
//!
//! Upload files are sealed as they arrive, in chunks (the STREAM construction
//! of RustCrypto's `aead`): `ENC2 ‖ nonce prefix (7 bytes, random) ‖ chunks`,
//! each chunk [`CHUNK_BYTES`] of plaintext and its tag, the last one shorter
//! (possibly empty) and flagged as last. The place (the upload's SHA-256,
//! known only at the end) is the associated data of the last chunk, so a
//! file renamed, cut short or spliced does not open. Files written whole
//! (`ENC1`) before this still open.

use crate::digest::hex32;
use chacha20poly1305::aead::generic_array::GenericArray;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use intake_models::config::StoreConfig;
use rand::RngCore;
use sha2::Sha256;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"ENC1";
const NONCE_LEN: usize = 12;
/// What the name key is derived from the store key for; another purpose
/// would take another label, so one key never serves two.
const NAME_KEY_LABEL: &[u8] = b"intake/v1/sled-key-names";
const CHUNKED_MAGIC: &[u8; 4] = b"ENC2";
/// The nonce less STREAM's 32-bit counter and last-chunk flag.
const STREAM_PREFIX_LEN: usize = NONCE_LEN - 5;
const TAG_LEN: usize = 16;
/// Plaintext bytes per sealed chunk of an upload file: what a writer holds.
pub const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the encryption key file {path} cannot be read ({cause}); create one with `intake keygen --out {path}`")]
    File {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("the environment variable {0} named by store.key_env is not set; the service will not start without its key")]
    Env(String),
    #[error("the encryption key from {0} is not 64 hexadecimal digits (32 bytes)")]
    Malformed(String),
    #[error("cannot write the key file {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Why a stored value does not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the value is not sealed, but the store has a key: written without encryption?")]
    NotSealed,
    #[error("the value is sealed, but no key is configured (store.key_file or store.key_env)")]
    NoKey,
    #[error("the value does not open with this key: another key, or altered")]
    Altered,
    #[error("the file is longer than a sealed stream can be (4 billion chunks)")]
    TooLong,
}

/// Seals and opens stored values; without a key it passes them through.
#[derive(Clone)]
pub struct Sealer {
    cipher: Option<ChaCha20Poly1305>,
    /// The HMAC key of [`Sealer::name_key`].
    names: [u8; 32],
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn parse_key(text: &str, from: &str) -> Result<[u8; 32], KeyError> {
    hex32(text).ok_or_else(|| KeyError::Malformed(from.to_string()))
}

/// A key file's key.
pub fn read_key_file(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::File {
        path: path.to_path_buf(),
        cause: source,
    })?;
    parse_key(&text, &path.display().to_string())
}

/// Writes a new random key to `path` (owner-only), refusing to overwrite one.
pub fn write_new_key(path: &Path) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let hex = crate::digest::to_hex(&key);
    let failed = |source| KeyError::Write {
        path: path.to_path_buf(),
        cause: source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    // The mode at creation is masked by the umask; this one is not.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|_| file.write_all(format!("{hex}\n").as_bytes()))
        .and_then(|_| file.sync_all())
        .map_err(failed)
}

impl Sealer {
    /// No encryption.
    pub fn plain() -> Sealer {
        // Without a key nothing is secret anyway: the same layout, a public key.
        Sealer {
            cipher: None,
            names: hmac_sha256(&[], NAME_KEY_LABEL),
        }
    }

    pub fn with_key(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: Some(ChaCha20Poly1305::new(Key::from_slice(key))),
            names: hmac_sha256(key, NAME_KEY_LABEL),
        }
    }

    /// The sealer of the store's configuration: its key file or variable,
    /// or none when neither is named.
    pub fn from_config(cfg: &StoreConfig) -> Result<Sealer, KeyError> {
        if let Some(path) = cfg.key_file.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            return Ok(Sealer::with_key(&read_key_file(path)?));
        }
        if let Some(var) = &cfg.key_env {
            let text = std::env::var(var).map_err(|_| KeyError::Env(var.clone()))?;
            return Ok(Sealer::with_key(&parse_key(&text, var)?));
        }
        Ok(Sealer::plain())
    }

    pub fn encrypts(&self) -> bool {
        self.cipher.is_some()
    }

    /// The sled key standing for `name` (an account id): HMAC-SHA256 under
    /// a key derived from the store key, the same for the same name and
    /// key, and telling nothing of the name without the key.
    pub fn name_key(&self, name: &str) -> [u8; 32] {
        hmac_sha256(&self.names, name.as_bytes())
    }

    pub fn seal(&self, place: &[u8], plain: &[u8]) -> Vec<u8> {
        let Some(cipher) = &self.cipher else {
            return plain.to_vec();
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: place,
        };
        // Encryption fails only for messages beyond 256 GiB.
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Starts sealing a file chunk by chunk; the header is its first bytes.
    pub fn seal_chunks(&self) -> ChunkSealer {
        let Some(cipher) = &self.cipher else {
            return ChunkSealer {
                encryptor: None,
                header: Vec::new(),
            };
        };
        let mut prefix = [0u8; STREAM_PREFIX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = CHUNKED_MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        ChunkSealer {
            encryptor: Some(EncryptorBE32::from_aead(
                cipher.clone(),
                GenericArray::from_slice(&prefix),
            )),
            header,
        }
    }

    /// A whole value sealed as a chunked file (see [`Sealer::seal_chunks`]).
    pub fn seal_chunked(&self, place: &[u8], plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut sealer = self.seal_chunks();
        let mut out = sealer.header().to_vec();
        let mut last = Vec::new();
        for chunk in plain.chunks(CHUNK_BYTES) {
            let mut buffer = chunk.to_vec();
            if chunk.len() == CHUNK_BYTES {
                sealer.seal_chunk(&mut buffer)?;
                out.extend_from_slice(&buffer);
            } else {
                last = buffer;
            }
        }
        sealer.seal_last(place, &mut last)?;
        out.extend_from_slice(&last);
        Ok(out)
    }

    /// Opens a chunked file: every chunk in order, the last with `place`.
    fn open_chunked(
        cipher: &ChaCha20Poly1305,
        place: &[u8],
        stored: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let (prefix, body) = stored[CHUNKED_MAGIC.len()..].split_at(STREAM_PREFIX_LEN);
        let mut decryptor =
            DecryptorBE32::from_aead(cipher.clone(), GenericArray::from_slice(prefix));
        let sealed_chunk = CHUNK_BYTES + TAG_LEN;
        // Every chunk but the last is full; the last is shorter, at least its tag.
        let full = body.len() / sealed_chunk;
        let (chunks, last) = body.split_at(full * sealed_chunk);
        if last.len() < TAG_LEN {
            return Err(SealError::Altered);
        }
        let mut plain = Vec::with_capacity(body.len());
        for chunk in chunks.chunks(sealed_chunk) {
            let mut buffer = chunk.to_vec();
            decryptor
                .decrypt_next_in_place(&[], &mut buffer)
                .map_err(|_| SealError::Altered)?;
            plain.extend_from_slice(&buffer);
        }
        let mut buffer = last.to_vec();
        decryptor
            .decrypt_last_in_place(place, &mut buffer)
            .map_err(|_| SealError::Altered)?;
        plain.extend_from_slice(&buffer);
        Ok(plain)
    }

    pub fn open(&self, place: &[u8], stored: &[u8]) -> Result<Vec<u8>, SealError> {
        let chunked = stored.starts_with(CHUNKED_MAGIC)
            && stored.len() >= CHUNKED_MAGIC.len() + STREAM_PREFIX_LEN;
        match (&self.cipher, chunked) {
            (Some(cipher), true) => return Sealer::open_chunked(cipher, place, stored),
            (None, true) => return Err(SealError::NoKey),
            _ => {}
        }
        let sealed = stored.starts_with(MAGIC) && stored.len() >= MAGIC.len() + NONCE_LEN;
        match (&self.cipher, sealed) {
            (None, false) => Ok(stored.to_vec()),
            (None, true) => Err(SealError::NoKey),
            (Some(_), false) => Err(SealError::NotSealed),
            (Some(cipher), true) => {
                let (nonce, body) = stored[MAGIC.len()..].split_at(NONCE_LEN);
                let payload = Payload {
                    msg: body,
                    aad: place,
                };
                cipher
                    .decrypt(Nonce::from_slice(nonce), payload)
                    .map_err(|_| SealError::Altered)
            }
        }
    }
}

/// Seals a file chunk by chunk as it is written (see [`Sealer::seal_chunks`]);
/// without a key it passes the bytes through.
pub struct ChunkSealer {
    encryptor: Option<EncryptorBE32<ChaCha20Poly1305>>,
    header: Vec<u8>,
}

impl ChunkSealer {
    /// The bytes the file starts with.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// Seals `chunk` ([`CHUNK_BYTES`] of plaintext) in place.
    pub fn seal_chunk(&mut self, chunk: &mut Vec<u8>) -> Result<(), SealError> {
        match &mut self.encryptor {
            Some(encryptor) => encryptor
                .encrypt_next_in_place(&[], chunk)
                .map_err(|_| SealError::TooLong),
            None => Ok(()),
        }
    }

    /// Seals the last, shorter chunk in place, bound to `place`.
    pub fn seal_last(self, place: &[u8], chunk: &mut Vec<u8>) -> Result<(), SealError> {
        match self.encryptor {
            Some(encryptor) => encryptor
                .encrypt_last_in_place(place, chunk)
                .map_err(|_| SealError::TooLong),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_and_with_their_key() {
        let a = Sealer::with_key(&[7; 32]);
        let sealed = a.seal(b"jobs/1", b"KHODZHAEV");
        assert!(!sealed.windows(9).any(|w| w == b"KHODZHAEV"));
        assert_eq!(a.open(b"jobs/1", &sealed).unwrap(), b"KHODZHAEV");
        assert!(matches!(
            a.open(b"jobs/2", &sealed),
            Err(SealError::Altered)
        ));
        let b = Sealer::with_key(&[8; 32]);
        assert!(matches!(
            b.open(b"jobs/1", &sealed),
            Err(SealError::Altered)
        ));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            a.open(b"jobs/1", &flipped),
            Err(SealError::Altered)
        ));
        assert!(matches!(
            a.open(b"jobs/1", b"{}"),
            Err(SealError::NotSealed)
        ));
        assert!(matches!(
            Sealer::plain().open(b"jobs/1", &sealed),
            Err(SealError::NoKey)
        ));
        assert_ne!(
            a.seal(b"p", b"x"),
            a.seal(b"p", b"x"),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn name_keys_depend_on_the_name_and_the_store_key() {
        let a = Sealer::with_key(&[7; 32]);
        let key = a.name_key("ivanov-1995");
        assert_eq!(key, a.name_key("ivanov-1995"));
        assert_ne!(key, a.name_key("ivanov-1996"));
        assert_ne!(key, Sealer::with_key(&[8; 32]).name_key("ivanov-1995"));
        assert_ne!(key, Sealer::plain().name_key("ivanov-1995"));
    }

    #[test]
    fn chunked_files_open_whole_in_their_place_and_old_files_still_open() {
        let a = Sealer::with_key(&[7; 32]);
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = a.seal_chunked(b"ab12", &plain).unwrap();
            assert_eq!(a.open(b"ab12", &sealed).unwrap(), plain, "{len} bytes");
            assert!(a.open(b"ab13", &sealed).is_err(), "another place");
            let mut flipped = sealed.clone();
            flipped[20] ^= 1;
            assert!(a.open(b"ab12", &flipped).is_err(), "altered");
            if len > CHUNK_BYTES {
                // Cut after the first chunk: what is left is not a last chunk.
                let cut = &sealed[..4 + STREAM_PREFIX_LEN + CHUNK_BYTES + TAG_LEN];
                assert!(a.open(b"ab12", cut).is_err(), "cut short");
            }
            assert!(matches!(
                Sealer::plain().open(b"ab12", &sealed),
                Err(SealError::NoKey)
            ));
            assert_eq!(
                Sealer::plain().seal_chunked(b"ab12", &plain).unwrap(),
                plain
            );
        }
        let old = a.seal(b"ab12", b"written whole");
        assert_eq!(a.open(b"ab12", &old).unwrap(), b"written whole");
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert!(parse_key(&"ab".repeat(32), "t").is_ok());
        assert!(parse_key("abc", "t").is_err());
        assert!(parse_key(&"zz".repeat(32), "t").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_new_key(&path).unwrap();
        assert!(read_key_file(&path).is_ok());
        assert!(
            write_new_key(&path).is_err(),
            "an existing key is never overwritten"
        );
    }
}
