//! The encryption key at rest: `keygen` (a new random key file) and
//! `rekey` (every record and upload re-encrypted under a new key).

use super::common::warn_if_unencrypted;
use super::{output, ServiceArgs};
use anyhow::Result;
use intake::config;
use intake::service::keys;
use std::path::Path;

pub fn keygen(out: &Path) -> Result<()> {
    keys::write_new_key(out)?;
    output::key_written(out);
    Ok(())
}

pub fn rekey(service: &ServiceArgs, new_key_file: &Path) -> Result<()> {
    let config = config::load(service.config.as_deref())?;
    warn_if_unencrypted(&config);
    let progress = output::progress_bar(None, "records and uploads looked at");
    let resealed = keys::rekey(&config.store, new_key_file, &mut || progress.inc(1));
    progress.finish_and_clear();
    let resealed = resealed?;
    output::rekeyed(resealed, new_key_file);
    Ok(())
}
