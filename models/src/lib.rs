//! Domain types shared by every intake stage.
//!
//! Types only: no I/O, no logic beyond trivial accessors. Everything here is
//! serde-serialisable because it crosses process boundaries (JSON reports,
//! the sled store, the PDF sandbox).

pub mod account;
pub mod config;
pub mod document;
pub mod finding;
pub mod job;
pub mod notification;
pub mod report;
pub mod time;

pub use account::{
    Account, AccountStatus, AuditAction, AuditEntry, Claim, Decision, DocumentState, ReviewItem,
};
pub use config::Config;
pub use document::{
    DocumentFields, DocumentKind, Field, MrzFormat, MrzReading, Profile, QrPayload,
};
pub use finding::{Finding, ReasonCode, Verdict};
pub use job::{Actor, Job, JobId, JobState, Upload, VerdictEntry};
pub use notification::{Change, Notice, OutboxEvent, Reason};
pub use report::{
    Checks, Document, DpiCheck, DpiSource, FieldMatch, FileFormat, MatchResult, PageRole,
    PageSummary, Quality, Report,
};
