//! What upload files go, and when: those of jobs decided longer ago than
//! the retention rule allows (`purge`), and those no job needs (an upload
//! refused or cut short, a dead writer's temporary file). A file being
//! written right now is never taken ([`Writing`](super::files::Writing)).
//! The rule ([`expired_uploads`]) and what a job needs ([`needed_uploads`],
//! the set sled's `blobs` tree holds) are the JetStream backend's too.

use super::chain::append_audit;
use super::files::{remove_if_there, set_mode, DIR_MODE, FILE_MODE};
use super::sled::{abort, all, finished, SledStore, Trees};
use super::StoreError;
use intake_models::{AuditEntry, Job, JobId};
use sled::Transactional;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Whether `job` was decided before `before_ms`: its upload may go.
pub(super) fn decided_before(job: &Job, before_ms: u64) -> bool {
    job.done_at.is_some_and(|at| at < before_ms)
}

/// The retention rule: the uploads to delete, each with the jobs naming
/// it. An upload goes once every job naming it was decided before
/// `before_ms` (a newer or pending job keeps it), unless all of them are
/// purged already.
pub(super) fn expired_uploads(jobs: Vec<Job>, before_ms: u64) -> BTreeMap<String, Vec<Job>> {
    let mut by_blob: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    for job in jobs {
        by_blob.entry(job.blob.clone()).or_default().push(job);
    }
    by_blob.retain(|_, jobs| {
        jobs.iter().all(|j| decided_before(j, before_ms))
            && jobs.iter().any(|j| j.purged_at.is_none())
    });
    by_blob
}

/// The uploads some job still needs: those of the jobs not purged. Any
/// other upload is an orphan.
pub(super) fn needed_uploads(jobs: &[Job]) -> HashSet<&str> {
    jobs.iter()
        .filter(|j| j.purged_at.is_none())
        .map(|j| j.blob.as_str())
        .collect()
}

impl SledStore {
    /// Deletes the upload files of jobs whose verdict is older than
    /// `before_ms`, unless a newer or pending job has the same file; marks
    /// the jobs and audits it (see [`Store::purge_uploads`](super::Store::purge_uploads)).
    pub(super) fn purge(
        &self,
        t: &Trees,
        before_ms: u64,
        now: u64,
    ) -> Result<Vec<JobId>, StoreError> {
        // Read before the jobs: a job committed after this read changes its
        // file's entry, and the file is then left for another purge.
        let seen: HashMap<sled::IVec, sled::IVec> = t.blobs.iter().collect::<Result<_, _>>()?;
        let jobs = all::<Job>(&self.codec, &t.jobs, "job")?;
        let mut purged = Vec::new();
        for (blob, jobs) in expired_uploads(jobs, before_ms) {
            {
                // No upload of this file may be between its write and its commit.
                let writing = self.writing.lock();
                if writing.contains_key(&blob) {
                    continue;
                }
                let entry = seen.get(blob.as_bytes()).cloned();
                let swapped =
                    t.blobs
                        .compare_and_swap(blob.as_bytes(), entry, None as Option<&[u8]>)?;
                if swapped.is_err() {
                    continue; // a new job needs it
                }
                if let Some(path) = self.upload_path(&blob) {
                    remove_if_there(&path).map_err(|source| StoreError::Upload {
                        path: path.display().to_string(),
                        cause: source,
                    })?;
                }
            }
            let trees = (&t.jobs, &t.audit, &t.meta);
            let result = trees.transaction(|(stored, log, meta)| {
                for job in jobs.iter().filter(|j| j.purged_at.is_none()) {
                    let key = job.id.0.as_bytes();
                    let mut record = job.clone();
                    record.purged_at = Some(now);
                    let encoded = self.codec.encode("job", key, &record).map_err(abort)?;
                    stored.insert(key, encoded)?;
                    let entry = AuditEntry::upload_purged(job, now);
                    append_audit::<StoreError>(&self.codec, log, meta, &[entry])?;
                }
                Ok(())
            });
            finished(result)?;
            purged.extend(
                jobs.into_iter()
                    .filter(|j| j.purged_at.is_none())
                    .map(|j| j.id),
            );
        }
        t.db.flush()?;
        Ok(purged)
    }

    /// Goes through the upload files: removes those no job needs and not
    /// being written, and, `at_open`, every temporary file (no writer can be
    /// alive then) and makes the files and directories the owner's only.
    /// Returns (temporary files, orphans) removed.
    pub(super) fn sweep_uploads(&self, at_open: bool) -> Result<(usize, usize), StoreError> {
        let t = self.trees()?;
        let failed = |path: &Path, source| StoreError::Upload {
            path: path.display().to_string(),
            cause: source,
        };
        let (mut temporary, mut orphans) = (0, 0);
        let shards = std::fs::read_dir(&self.uploads).map_err(|e| failed(&self.uploads, e))?;
        for shard in shards {
            let shard = shard.map_err(|e| failed(&self.uploads, e))?;
            let dir = shard.path();
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                // Uploads being received are written at the top.
                let receiving = shard.file_name().to_string_lossy().ends_with(".tmp");
                if at_open && receiving {
                    remove_if_there(&dir).map_err(|e| failed(&dir, e))?;
                    temporary += 1;
                }
                continue;
            }
            if at_open {
                set_mode(&dir, DIR_MODE).map_err(|e| failed(&dir, e))?;
            }
            for entry in std::fs::read_dir(&dir).map_err(|e| failed(&dir, e))? {
                let entry = entry.map_err(|e| failed(&dir, e))?;
                let path = entry.path();
                if !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tmp") {
                    if at_open {
                        remove_if_there(&path).map_err(|e| failed(&path, e))?;
                        temporary += 1;
                    }
                    continue;
                }
                if self.upload_path(&name).as_deref() != Some(path.as_path()) {
                    continue; // not a file of ours
                }
                // Held while deciding and removing: a write of this file
                // registers before it looks for the file.
                let writing = self.writing.lock();
                if writing.contains_key(&name) || t.blobs.contains_key(name.as_bytes())? {
                    drop(writing);
                    if at_open {
                        set_mode(&path, FILE_MODE).map_err(|e| failed(&path, e))?;
                    }
                    continue;
                }
                remove_if_there(&path).map_err(|e| failed(&path, e))?;
                orphans += 1;
            }
        }
        Ok((temporary, orphans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;
    use crate::store::fixtures::{audit, job, open, verdict};
    use crate::store::Store;
    use std::os::unix::fs::PermissionsExt;

    /// The files under the store's uploads directory, by name.
    fn upload_files(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        for shard in std::fs::read_dir(dir.join("uploads")).unwrap() {
            for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                names.push(file.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// An upload's file put in place with no job committed for it.
    fn put_upload(store: &SledStore, bytes: &[u8]) {
        let mut writer = store.receive_upload().unwrap();
        writer.write(bytes).unwrap();
        store.keep_upload(writer.finish().unwrap()).unwrap();
    }

    #[test]
    fn files_no_job_needs_go_at_open_and_by_purge_but_not_while_written() {
        let dir = tempfile::tempdir().unwrap();
        let kept = sha256_hex(b"a");
        let orphan = sha256_hex(b"refused");
        {
            let store = open(dir.path());
            let mut a = job("a");
            a.blob = kept.clone();
            store.submit(a, b"a", audit("s")).unwrap();
            // A refused upload's file, and a dead writer's temporary file.
            put_upload(&store, b"refused");
            let path = store.upload_path(&orphan).unwrap();
            let temporary = path.with_file_name(format!("{orphan}.999999.0.tmp"));
            std::fs::write(&temporary, b"half").unwrap();
            // An older intake's modes.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let uploads = dir.path().join("uploads");
            std::fs::set_permissions(&uploads, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(upload_files(dir.path()).len(), 3);
        }
        let store = open(dir.path());
        assert_eq!(upload_files(dir.path()), vec![kept.clone()]);
        assert_eq!(store.blob(&kept).unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.path().join("uploads")), 0o700);
        assert_eq!(mode(&store.upload_path(&kept).unwrap()), 0o600);

        // Written and not committed yet: no sweep takes it.
        let writing = store.writing.start(&orphan);
        put_upload(&store, b"refused");
        assert_eq!(mode(&store.upload_path(&orphan).unwrap()), 0o600);
        assert_eq!(store.remove_orphans().unwrap(), 0);
        assert_eq!(
            store.purge_uploads(u64::MAX, 5).unwrap(),
            Vec::<JobId>::new()
        );
        drop(writing);
        assert_eq!(store.remove_orphans().unwrap(), 1);
        assert_eq!(upload_files(dir.path()), vec![kept]);
    }

    #[test]
    fn a_purge_leaves_a_file_that_an_upload_is_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.submit(job("a"), b"a", audit("s")).unwrap();
        store.finish(verdict("a"), None, Vec::new()).unwrap();
        let blob = job("a").blob;
        let writing = store.writing.start(&blob);
        assert!(store.purge_uploads(u64::MAX, 5).unwrap().is_empty());
        drop(writing);
        assert_eq!(store.purge_uploads(u64::MAX, 5).unwrap().len(), 1);
        assert!(upload_files(dir.path()).is_empty());
    }
}
