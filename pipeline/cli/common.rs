//! What the command groups share: the store and the service opened from
//! `--config` and `--today`, the [`Reader`] of the read and verify commands
//! (the store, or the running service that holds it), and the `--today`
//! and `--profile` arguments read.

use super::{output, ServiceArgs};
use anyhow::{bail, Context, Result};
use intake::clock::Clock;
use intake::service::{AuditCheck, StoreError};
use intake::{config, Intake};
use intake_models::Profile;
use intake_stages::dates::Date;
use std::path::Path;

/// Says so when the configured store would keep records unencrypted.
pub fn warn_if_unencrypted(config: &intake_models::Config) {
    let cfg = &config.store;
    let no_file = cfg
        .key_file
        .as_ref()
        .is_none_or(|p| p.as_os_str().is_empty());
    if no_file && cfg.key_env.is_none() {
        output::unencrypted_store();
    }
}

pub fn open_intake(service: &ServiceArgs) -> Result<Intake> {
    let config = config::load(service.config.as_deref())?;
    let clock = match service.today.as_deref() {
        Some(t) => Clock::starting_at(parse_today(Some(t))?),
        None => Clock::system(),
    };
    warn_if_unencrypted(&config);
    Ok(Intake::open(config, clock)?)
}

/// Where the read and verify commands read: the store itself, or the
/// running service that holds it.
pub enum Reader {
    Store(Box<Intake>),
    Service(super::remote::Remote),
}

impl Reader {
    pub fn open(service: &ServiceArgs) -> Result<Reader> {
        match open_intake(service) {
            Ok(intake) => Ok(Reader::Store(Box::new(intake))),
            Err(e) if matches!(e.downcast_ref(), Some(StoreError::Held { .. })) => {
                let config = config::load(service.config.as_deref())?;
                Ok(Reader::Service(super::remote::Remote::from_config(
                    &config.server,
                )?))
            }
            Err(e) => Err(e),
        }
    }

    /// "Now" for the review leases: the service sends only the claims that
    /// hold at its own now, so every one it sent holds.
    pub fn now_ms(&self) -> u64 {
        match self {
            Reader::Store(intake) => intake.now_ms(),
            Reader::Service(_) => 0,
        }
    }

    pub fn account(&self, id: &str) -> Result<Option<intake_models::Account>> {
        Ok(match self {
            Reader::Store(intake) => intake.status(id)?,
            Reader::Service(remote) => remote.account(id)?,
        })
    }

    pub fn verdicts(&self, from: u64, limit: usize) -> Result<Vec<intake_models::VerdictEntry>> {
        Ok(match self {
            Reader::Store(intake) => intake.verdicts(from, limit)?,
            Reader::Service(remote) => remote.verdicts(from, limit)?,
        })
    }

    pub fn review_queue(&self) -> Result<Vec<intake_models::ReviewItem>> {
        Ok(match self {
            Reader::Store(intake) => intake.review_queue()?,
            Reader::Service(remote) => remote.review_queue()?,
        })
    }

    pub fn audit_log(&self, account: &str) -> Result<Vec<intake_models::AuditEntry>> {
        Ok(match self {
            Reader::Store(intake) => intake.audit(account)?,
            Reader::Service(remote) => remote.audit_log(account)?,
        })
    }

    pub fn verify_audit(&self) -> Result<AuditCheck> {
        Ok(match self {
            Reader::Store(intake) => intake.verify_audit()?,
            Reader::Service(remote) => remote.verify_audit()?,
        })
    }

    pub fn verify_accounts(&self) -> Result<Vec<String>> {
        Ok(match self {
            Reader::Store(intake) => intake.verify_accounts()?,
            Reader::Service(remote) => remote.verify_accounts()?,
        })
    }
}

pub fn parse_today(today: Option<&str>) -> Result<Date> {
    match today {
        Some(t) => Date::parse_iso(t)
            .with_context(|| format!("--today {t:?} is not a date in YYYY-MM-DD form")),
        None => Ok(today_utc()),
    }
}

pub fn read_profile(path: &Path) -> Result<Profile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read profile {}", path.display()))?;
    match serde_json::from_str::<Profile>(&text) {
        Ok(p) => Ok(p),
        Err(e) => bail!(
            "profile {} is not valid: {e}. Expected a JSON object with any of: {}",
            path.display(),
            Profile::keys().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn today_utc() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Date::from_unix_days((secs / 86_400) as i64)
}
