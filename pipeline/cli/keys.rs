//! The encryption key at rest: `keygen` (a new random key file) and
//! `rekey` (every record and upload re-encrypted under a new key).

use super::common::open_store;
use super::{output, ServiceArgs};
use anyhow::Result;
use intake::config;
use std::path::Path;

pub fn keygen(out: &Path) -> Result<()> {
    intake::store::crypto::write_new_key(out)?;
    output::key_written(out);
    Ok(())
}

pub fn rekey(service: &ServiceArgs, new_key_file: &Path) -> Result<()> {
    let config = config::load(service.config.as_deref())?;
    let store = open_store(&config)?;
    let new = intake::store::crypto::Sealer::with_key(&intake::store::crypto::read_key_file(
        new_key_file,
    )?);
    let progress = output::progress_bar(None, "records and uploads looked at");
    let resealed = store.rekey(&new, &mut || progress.inc(1));
    progress.finish_and_clear();
    let resealed = resealed?;
    output::rekeyed(resealed, new_key_file);
    Ok(())
}
