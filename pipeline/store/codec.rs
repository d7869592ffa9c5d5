//! The [`Codec`]: how a record becomes stored bytes. Serialised as JSON,
//! then sealed (when the store has a key) bound to its place, its tree and
//! key, so a record moved to another key no longer opens.

use super::StoreError;
use crate::store::crypto::Sealer;

/// Serialises records and seals them (when the store has a key); a
/// record's place, its tree and key, is sealed with it.
#[derive(Clone)]
pub(super) struct Codec {
    pub(super) sealer: Sealer,
}

pub(super) fn place(what: &str, key: &[u8]) -> Vec<u8> {
    [what.as_bytes(), b"/", key].concat()
}

impl Codec {
    pub(super) fn seal(&self, what: &str, key: &[u8], plain: &[u8]) -> Vec<u8> {
        self.sealer.seal(&place(what, key), plain)
    }

    pub(super) fn open(
        &self,
        what: &'static str,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.sealer
            .open(&place(what, key), bytes)
            .map_err(|source| StoreError::Sealed {
                what,
                cause: source,
            })
    }

    pub(super) fn encode<T: serde::Serialize>(
        &self,
        what: &'static str,
        key: &[u8],
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(value).map_err(|source| StoreError::Corrupt {
            what,
            cause: source,
        })?;
        Ok(self.sealer.seal(&place(what, key), &plain))
    }

    pub(super) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open(what, key, bytes)?;
        serde_json::from_slice(&plain).map_err(|source| StoreError::Corrupt {
            what,
            cause: source,
        })
    }
}
