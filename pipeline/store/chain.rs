//! The audit log's hash chain: each entry carries the SHA-256 of the one
//! before it as stored, and the store keeps the hash of the last one, so
//! an entry altered, removed or cut from the end shows when the chain is
//! walked (`intake audit verify`).

use super::codec::Codec;
use super::sled::{abort, read_u64, take_counter, Tx};
use super::{AuditCheck, StoreError};
use crate::digest::sha256_hex;
use intake_models::AuditEntry;
use sled::transaction::TransactionalTree;

/// Keys in the meta tree: the next entry's seq, and the hash of the last
/// entry written (the head the walk must end at).
const NEXT_AUDIT: &[u8] = b"next_audit";
const LAST_AUDIT_HASH: &[u8] = b"last_audit_hash";
/// The `prev_hash` of the first audit entry.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends `entries` to the log in the caller's transaction, each under
/// the next seq and linked to the one before.
pub(super) fn append_audit<E: From<StoreError>>(
    codec: &Codec,
    audit: &TransactionalTree,
    meta: &TransactionalTree,
    entries: &[AuditEntry],
) -> Tx<(), E> {
    for entry in entries {
        let mut entry = entry.clone();
        entry.seq = take_counter(meta, NEXT_AUDIT)?;
        // The hash chain: each entry carries the SHA-256 of the one before.
        entry.prev_hash = match meta.get(LAST_AUDIT_HASH)? {
            Some(hash) => String::from_utf8_lossy(&hash).into_owned(),
            None => GENESIS.to_string(),
        };
        let key = entry.seq.to_be_bytes();
        let plain = serde_json::to_vec(&entry).map_err(|source| {
            abort(StoreError::Corrupt {
                what: "audit",
                cause: source,
            })
        })?;
        meta.insert(LAST_AUDIT_HASH, sha256_hex(&plain).as_bytes())?;
        audit.insert(&key, codec.seal("audit", &key, &plain))?;
    }
    Ok(())
}

/// Walks the chain of `audit` from its first entry, and checks that its
/// last is the one `meta` recorded as written last.
pub(super) fn verify(
    codec: &Codec,
    audit: &sled::Tree,
    meta: &sled::Tree,
) -> Result<AuditCheck, StoreError> {
    let mut walk = ChainWalk::new(codec);
    for item in audit.iter() {
        let (key, value) = item?;
        if let Some(broken) = walk.step(read_u64(&key), &value) {
            return Ok(broken);
        }
    }
    let last = meta.get(LAST_AUDIT_HASH)?;
    let recorded = last.map(|h| String::from_utf8_lossy(&h).into_owned());
    if let Some(broken) = walk.check_head(recorded.as_deref()) {
        return Ok(broken);
    }
    Ok(walk.done())
}

/// The walk along the chain, one stored entry at a time, whatever holds
/// them (a sled tree, a JetStream stream).
pub(super) struct ChainWalk<'a> {
    codec: &'a Codec,
    expected_prev: String,
    expected_seq: u64,
    entries: u64,
}

impl<'a> ChainWalk<'a> {
    pub(super) fn new(codec: &'a Codec) -> ChainWalk<'a> {
        ChainWalk {
            codec,
            expected_prev: GENESIS.to_string(),
            expected_seq: 1,
            entries: 0,
        }
    }

    fn broken(seq: u64, why: String) -> AuditCheck {
        AuditCheck {
            entries: seq.saturating_sub(1),
            broken: Some((seq, why)),
        }
    }

    /// The break a missing entry `seq` makes (a stream with a gap).
    pub(super) fn missing(&self, seq: u64) -> AuditCheck {
        ChainWalk::broken(seq, format!("entry {seq} is missing"))
    }

    /// Checks the entry stored under `seq` (sealed as `value`); the
    /// broken link, if it is one.
    pub(super) fn step(&mut self, seq: u64, value: &[u8]) -> Option<AuditCheck> {
        let expected_seq = self.expected_seq;
        if seq != expected_seq {
            return Some(self.missing(expected_seq));
        }
        let plain = match self.codec.open("audit", &seq.to_be_bytes(), value) {
            Ok(plain) => plain,
            Err(e) => {
                return Some(ChainWalk::broken(
                    seq,
                    format!("entry {seq} does not open: {e}"),
                ))
            }
        };
        let entry: AuditEntry = match serde_json::from_slice(&plain) {
            Ok(entry) => entry,
            Err(e) => {
                return Some(ChainWalk::broken(
                    seq,
                    format!("entry {seq} cannot be read: {e}"),
                ))
            }
        };
        if entry.seq != seq || entry.prev_hash != self.expected_prev {
            return Some(ChainWalk::broken(
                seq,
                format!(
                    "entry {seq} does not follow from entry {}: one of them was altered",
                    seq - 1
                ),
            ));
        }
        self.expected_prev = sha256_hex(&plain);
        self.expected_seq += 1;
        self.entries += 1;
        None
    }

    /// Checks that the last entry walked is the one `recorded` as written last.
    pub(super) fn check_head(&self, recorded: Option<&str>) -> Option<AuditCheck> {
        let last = self.expected_seq - 1;
        (self.entries > 0 && recorded != Some(self.expected_prev.as_str())).then(|| {
            ChainWalk::broken(
                last,
                format!("entry {last} is not the last one written: the log was altered or cut"),
            )
        })
    }

    pub(super) fn done(self) -> AuditCheck {
        AuditCheck {
            entries: self.entries,
            broken: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::crypto::Sealer;
    use crate::store::fixtures::{audit, job};
    use crate::store::{SledStore, Store};

    /// Flips one byte of the stored audit entry `seq` (the first of
    /// `needle`, or the middle) and walks the chain.
    fn tampered(sealer: Sealer, seq: u64, needle: &[u8]) -> AuditCheck {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_sealed(dir.path(), 1 << 20, sealer).unwrap();
        for id in ["a", "b", "c", "d"] {
            store
                .submit(job(id), id.as_bytes(), audit("job_submitted"))
                .unwrap();
        }
        let intact = store.verify_audit().unwrap();
        assert_eq!(
            intact,
            AuditCheck {
                entries: 4,
                broken: None
            }
        );
        let key = seq.to_be_bytes();
        let t = store.trees().unwrap();
        let mut raw = t.audit.get(key).unwrap().unwrap().to_vec();
        let at = raw
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or(raw.len() / 2);
        raw[at] ^= 0x01;
        t.audit.insert(key, raw).unwrap();
        store.verify_audit().unwrap()
    }

    #[test]
    fn one_flipped_byte_breaks_the_audit_chain_at_its_entry() {
        // A letter of the action, in a plain store: still valid JSON, so the
        // next entry's link catches it.
        let plain = tampered(Sealer::plain(), 2, b"submitted");
        assert_eq!(plain.broken.as_ref().map(|b| b.0), Some(3), "{plain:?}");
        assert_eq!(plain.entries, 2);
        // The last entry has no successor: the recorded head catches it.
        let last = tampered(Sealer::plain(), 4, b"submitted");
        assert_eq!(last.broken.as_ref().map(|b| b.0), Some(4), "{last:?}");
        // Sealed, the entry itself no longer opens.
        let sealed = tampered(Sealer::with_key(&[3; 32]), 2, b"no such bytes");
        assert_eq!(sealed.broken.as_ref().map(|b| b.0), Some(2), "{sealed:?}");
        assert!(sealed.broken.unwrap().1.contains("does not open"));
    }
}
