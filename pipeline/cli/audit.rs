//! The read and verify commands over the records: `queue tail` (the
//! verdict queue), `audit` (an account's audit log), `audit verify` (its
//! hash chain) and `accounts verify` (statuses recomputed from the
//! verdicts). Each reads through [`Reader`]: the store, or the running
//! service when it holds the store.

use super::common::Reader;
use super::{output, ServiceArgs};
use anyhow::{bail, Result};

pub fn queue_tail(service: &ServiceArgs, from: u64, brief: bool) -> Result<()> {
    let reader = Reader::open(service)?;
    let mut out = std::io::stdout().lock();
    let mut next = from;
    loop {
        let batch = reader.verdicts(next, 256)?;
        let Some(last) = batch.last() else { break };
        next = last.seq + 1;
        for entry in &batch {
            output::verdict_entry(&mut out, entry, brief)?;
        }
    }
    Ok(())
}

pub fn audit(service: &ServiceArgs, account: &str) -> Result<()> {
    let entries = Reader::open(service)?.audit_log(account)?;
    let mut out = std::io::stdout().lock();
    for entry in entries {
        output::json_line(&mut out, &entry)?;
    }
    Ok(())
}

pub fn audit_verify(service: &ServiceArgs) -> Result<()> {
    let check = Reader::open(service)?.verify_audit()?;
    match check.broken {
        None => {
            output::audit_chain_holds(check.entries);
            Ok(())
        }
        Some((seq, why)) => bail!(
            "the audit log is broken at entry {seq}: {why} ({} entries before it hold)",
            check.entries
        ),
    }
}

pub fn verify_accounts(service: &ServiceArgs) -> Result<()> {
    let differences = Reader::open(service)?.verify_accounts()?;
    output::account_differences(&differences);
    if !differences.is_empty() {
        bail!(
            "{} account statuses differ from the verdicts",
            differences.len()
        );
    }
    output::accounts_hold();
    Ok(())
}
