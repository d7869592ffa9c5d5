//! The upload files: an upload is received chunk by chunk into a sealed
//! temporary file ([`UploadWriter`]), kept as a [`ReceivedUpload`] until
//! its job is committed, and guarded while written so no sweep takes it
//! ([`Writing`]). Also the file-system steps every store file goes through:
//! private modes, atomic replacement, temporary names.

use super::codec::place;
use super::{OutageWatch, StoreError};
use crate::digest::to_hex;
use crate::store::crypto::{ChunkSealer, SealError, Sealer, CHUNK_BYTES};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Store directories: the owner's only.
pub(super) const DIR_MODE: u32 = 0o700;
/// Upload and temporary files: the owner's only (their content is sealed too).
pub(super) const FILE_MODE: u32 = 0o600;

/// The upload files being written whose job is not committed yet: no sweep
/// may take them. Taken around each file check or removal of a sweep, and
/// around each registration, so a file is either registered or settled.
#[derive(Default)]
pub(super) struct Writing {
    blobs: Mutex<HashMap<String, usize>>,
}

impl Writing {
    pub(super) fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        // The map stays consistent whatever panicked while holding it.
        self.blobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a write of `blob` until the guard is dropped.
    pub(super) fn start(&self, blob: &str) -> WriteGuard<'_> {
        *self.lock().entry(blob.to_string()).or_default() += 1;
        WriteGuard {
            writing: self,
            blob: blob.to_string(),
        }
    }
}

pub(super) struct WriteGuard<'a> {
    writing: &'a Writing,
    blob: String,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        let mut blobs = self.writing.lock();
        if let Some(count) = blobs.get_mut(&self.blob) {
            *count -= 1;
            if *count == 0 {
                blobs.remove(&self.blob);
            }
        }
    }
}

/// An upload being received: sealed chunk by chunk into a temporary file
/// of the store as it arrives, its SHA-256 computed on the way, so that it
/// is never held whole in memory (one chunk of [`CHUNK_BYTES`] at most).
/// Dropped before it is submitted, its file goes with it.
pub struct UploadWriter {
    file: std::fs::File,
    /// Told when a write fails for a full disk.
    outage: Arc<OutageWatch>,
    temporary: Temporary,
    sealer: ChunkSealer,
    hasher: Sha256,
    chunk: Vec<u8>,
    len: u64,
}

/// A received upload, sealed and synced, waiting for its job; dropped, its
/// file goes with it.
pub struct ReceivedUpload {
    pub(super) sha256: String,
    len: u64,
    pub(super) temporary: Temporary,
}

impl ReceivedUpload {
    /// Hex SHA-256 of the plaintext: the blob name, part of the job id.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A temporary file, removed when dropped unless kept.
pub(super) struct Temporary(Option<PathBuf>);

impl Temporary {
    pub(super) fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    pub(super) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl UploadWriter {
    pub(super) fn create(
        uploads: &Path,
        sealer: &Sealer,
        outage: Arc<OutageWatch>,
    ) -> Result<UploadWriter, StoreError> {
        let path = temporary_path(uploads, "incoming");
        let failed = |source| StoreError::Upload {
            path: path.display().to_string(),
            cause: source,
        };
        let mut file = private_file(&path).map_err(failed)?;
        let temporary = Temporary(Some(path.clone()));
        let sealer = sealer.seal_chunks();
        file.write_all(sealer.header()).map_err(failed)?;
        Ok(UploadWriter {
            file,
            outage,
            temporary,
            sealer,
            hasher: Sha256::new(),
            // Room for the tag sealed in place.
            chunk: Vec::with_capacity(CHUNK_BYTES + 16),
            len: 0,
        })
    }

    fn failed(&self, source: std::io::Error) -> StoreError {
        let error = StoreError::Upload {
            path: self.temporary.path().display().to_string(),
            cause: source,
        };
        self.outage.note(&error);
        error
    }

    fn sealing_failed(source: SealError) -> StoreError {
        StoreError::Sealed {
            what: "upload",
            cause: source,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hashes `bytes` and seals and writes every chunk they fill.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), StoreError> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = CHUNK_BYTES - self.chunk.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.chunk.extend_from_slice(now);
            bytes = rest;
            if self.chunk.len() == CHUNK_BYTES {
                self.sealer
                    .seal_chunk(&mut self.chunk)
                    .map_err(UploadWriter::sealing_failed)?;
                self.file
                    .write_all(&self.chunk)
                    .map_err(|e| self.failed(e))?;
                self.chunk.clear();
            }
        }
        Ok(())
    }

    /// Seals the last chunk (bound to the upload's SHA-256) and syncs the file.
    pub fn finish(mut self) -> Result<ReceivedUpload, StoreError> {
        let sha256 = to_hex(&self.hasher.finalize());
        self.sealer
            .seal_last(&place("upload", sha256.as_bytes()), &mut self.chunk)
            .map_err(UploadWriter::sealing_failed)?;
        let written = self
            .file
            .write_all(&self.chunk)
            .and_then(|()| self.file.sync_all());
        if let Err(source) = written {
            // `failed`'s work: the sealer is spent, so `self` is not whole.
            let error = StoreError::Upload {
                path: self.temporary.path().display().to_string(),
                cause: source,
            };
            self.outage.note(&error);
            return Err(error);
        }
        Ok(ReceivedUpload {
            sha256,
            len: self.len,
            temporary: self.temporary,
        })
    }
}

/// A name for a temporary file in `dir`, unique per writer (two uploads of
/// the same file may be written at once): `NAME.PID.N.tmp`.
pub(super) fn temporary_path(dir: &Path, name: &str) -> PathBuf {
    static WRITERS: AtomicU64 = AtomicU64::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{name}.{}.{writer}.tmp", std::process::id()))
}

/// Puts `contents` at `path` atomically and durably: a temporary file
/// (the owner's only), fsync, rename over, fsync of the directory. A
/// failure (a full disk) takes the temporary file away.
pub(super) fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir)?;
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temporary = temporary_path(dir, &name);
    let written = (|| {
        let mut file = private_file(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Creates a new file at `path` that only its owner may read or write.
pub(super) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The mode at creation is masked by the umask; this one is not.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Creates `dir` (and its parents) if missing, and makes it the owner's
/// only, whatever the umask or the mode an older intake left.
pub(super) fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Sets the permission bits of `path` unless they already are `mode`.
pub(super) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Removes a file; one already gone is as good.
pub(super) fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;
    use crate::store::fixtures::{audit, job, open};
    use crate::store::{SledStore, Store, Submitted};

    #[test]
    fn received_uploads_leave_no_file_behind_unless_a_job_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SledStore::open_sealed(dir.path(), 1 << 20, Sealer::with_key(&[3; 32])).unwrap();
        let files = || -> usize {
            let mut count = 0;
            for entry in std::fs::read_dir(dir.path().join("uploads")).unwrap() {
                let path = entry.unwrap().path();
                count += if path.is_dir() {
                    std::fs::read_dir(path).unwrap().count()
                } else {
                    1
                };
            }
            count
        };
        let big: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
        let mut writer = store.receive_upload().unwrap();
        writer.write(&big).unwrap();
        assert_eq!(files(), 1, "received into a temporary file");
        drop(writer);
        assert_eq!(files(), 0, "a client gone: its file goes");
        let mut writer = store.receive_upload().unwrap();
        writer.write(&big).unwrap();
        drop(writer.finish().unwrap());
        assert_eq!(files(), 0, "refused after receiving: its file goes");

        let mut job = job("a");
        job.blob = sha256_hex(&big);
        let first = store.submit(job.clone(), &big, audit("s")).unwrap();
        assert!(matches!(first, Submitted::New(_)));
        assert_eq!(store.blob(&job.blob).unwrap(), Some(big.clone()));
        let again = store.submit(job.clone(), &big, audit("s")).unwrap();
        assert!(matches!(again, Submitted::Existing(_)));
        assert_eq!(files(), 1, "a resubmission leaves the one file");
        let mut writer = store.receive_upload().unwrap();
        writer.write(b"other bytes").unwrap();
        let other = writer.finish().unwrap();
        assert!(matches!(
            store.submit_received(job, other, audit("s")),
            Err(StoreError::BlobMismatch { .. })
        ));
        assert_eq!(files(), 1);
    }

    #[test]
    fn the_same_file_submitted_at_once_by_many_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(open(dir.path()));
        let bytes = vec![42u8; 200_000];
        let blob = sha256_hex(&bytes);
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (store, bytes, blob) = (store.clone(), bytes.clone(), blob.clone());
                std::thread::spawn(move || {
                    let mut j = job(&format!("j{i}"));
                    j.blob = blob;
                    store.submit(j, &bytes, audit("job_submitted")).map(|_| ())
                })
            })
            .collect();
        for writer in writers {
            writer
                .join()
                .unwrap()
                .expect("every concurrent submission is stored");
        }
        assert_eq!(store.blob(&blob).unwrap().as_deref(), Some(&bytes[..]));
        assert_eq!(store.pending().unwrap().len(), 8);
    }
}
