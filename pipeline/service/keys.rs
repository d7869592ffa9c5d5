//! The encryption key at rest, for the operator: a new key file, and every
//! record and upload of the store re-encrypted under another key.

use crate::store::crypto::{read_key_file, Sealer};
use crate::store::{SledStore, StoreError};
use intake_models::config::StoreConfig;
use std::path::Path;

pub use crate::store::crypto::{write_new_key, KeyError};

/// Re-encrypts the configured store under the key in `new_key_file`,
/// calling `visited` for each record and upload looked at; returns how
/// many were re-encrypted. The store must not be held by a running service.
pub fn rekey(
    store: &StoreConfig,
    new_key_file: &Path,
    visited: &mut dyn FnMut(),
) -> Result<usize, StoreError> {
    let opened = SledStore::open_configured(store)?;
    let new = Sealer::with_key(&read_key_file(new_key_file)?);
    opened.rekey(&new, visited)
}
