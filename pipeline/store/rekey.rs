//! Re-sealing the whole store under a new key (`intake store rekey`):
//! every record, every account's name and every upload file.

use super::codec::{place, Codec};
use super::files::replace_file;
use super::sled::{finished, SledStore};
use super::StoreError;
use crate::store::crypto::Sealer;
use intake_models::Account;
use sled::transaction::ConflictableTransactionError;

impl SledStore {
    /// Re-seals every record and upload file under `new`, flushed; returns
    /// how many were re-sealed. A record that already opens with `new` is
    /// left as it is, so an interrupted rekey is finished by running it
    /// again with the same two keys. `visited` is called once per record
    /// or upload looked at (for a progress display).
    pub fn rekey(&self, new: &Sealer, visited: &mut dyn FnMut()) -> Result<usize, StoreError> {
        let t = self.trees()?;
        let fresh = Codec {
            sealer: new.clone(),
        };
        let mut resealed = 0;
        let trees = [
            ("job", &t.jobs),
            ("verdict", &t.verdicts),
            ("review", &t.review),
            ("audit", &t.audit),
            ("outbox", &t.outbox),
        ];
        for (what, tree) in trees {
            for item in tree.iter() {
                let (key, value) = item?;
                visited();
                if fresh.open(what, &key, &value).is_ok() {
                    continue;
                }
                let plain = self.codec.open(what, &key, &value)?;
                tree.insert(&key, fresh.seal(what, &key, &plain))?;
                resealed += 1;
            }
        }
        // An account's key is named under the store key too: it moves.
        for item in t.accounts.iter() {
            let (key, value) = item?;
            visited();
            if fresh.open("account", &key, &value).is_ok() {
                continue;
            }
            let account: Account = self.codec.decode("account", &key, &value)?;
            let new_key = new.name_key(&account.id);
            let record = fresh.encode("account", &new_key, &account)?;
            let result = t.accounts.transaction(|stored| {
                stored.remove(&key)?;
                stored.insert(&new_key[..], record.as_slice())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            });
            finished(result)?;
            resealed += 1;
        }
        for item in t.blobs.iter() {
            let (key, _) = item?;
            visited();
            let sha256 = String::from_utf8_lossy(&key).into_owned();
            let Some(path) = self.upload_path(&sha256) else {
                continue;
            };
            let Ok(stored) = std::fs::read(&path) else {
                continue;
            };
            if fresh.open("upload", &key, &stored).is_ok() {
                continue;
            }
            let plain = self.codec.open("upload", &key, &stored)?;
            let sealed = fresh
                .sealer
                .seal_chunked(&place("upload", &key), &plain)
                .map_err(|source| StoreError::Sealed {
                    what: "upload",
                    cause: source,
                })?;
            replace_file(&path, &sealed).map_err(|source| StoreError::Upload {
                path: path.display().to_string(),
                cause: source,
            })?;
            resealed += 1;
        }
        t.db.flush()?;
        Ok(resealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn rekeying_moves_the_accounts_to_the_new_keys_names() {
        let dir = tempfile::tempdir().unwrap();
        let old = Sealer::with_key(&[5; 32]);
        let new = Sealer::with_key(&[6; 32]);
        let account = Account {
            id: "acc-1".into(),
            ..Account::default()
        };
        {
            let store = SledStore::open_sealed(dir.path(), 1 << 20, old).unwrap();
            store
                .save_accounts(std::slice::from_ref(&account), None, Vec::new(), Vec::new())
                .unwrap();
            let mut visited = 0;
            assert_eq!(store.rekey(&new, &mut || visited += 1).unwrap(), 1);
            assert_eq!(visited, 1);
            assert_eq!(store.rekey(&new, &mut || {}).unwrap(), 0, "done once");
        }
        let store = SledStore::open_sealed(dir.path(), 1 << 20, new).unwrap();
        assert_eq!(store.account("acc-1").unwrap(), Some(account));
    }
}
