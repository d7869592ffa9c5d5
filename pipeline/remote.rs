//! The running service, asked over its HTTP API by the operator commands
//! that find the store held by it (sled lets one process at a time open
//! it): `status`, `review list`, `queue tail`, `audit`, `audit verify`,
//! `accounts verify` answer the same either way.

use crate::store::AuditCheck;
use intake_models::config::{Role, Server};
use intake_models::{
    Account, AccountStatus, AuditEntry, Claim, DocumentKind, DocumentState, Finding, JobId,
    ReviewItem, VerdictEntry,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The environment variable that gives the token to ask the service with.
pub const TOKEN_ENV: &str = "INTAKE_TOKEN";

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "the store is held by the running service, and there is no token to ask it with: \
         set {TOKEN_ENV} to an admin or auditor token (or give one a plain `token` in [[server.tokens]])"
    )]
    NoToken,
    #[error(
        "the store is held by another process, and no service answers at {base} ({cause}): \
         stop that process, or point [server] listen at the running `intake serve`"
    )]
    Unreachable { base: String, cause: String },
    #[error("the running service refused: {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the running service answered something this intake cannot read: {0}")]
    Unreadable(String),
}

/// The running service at `[server] listen`, and a token for it.
pub struct Remote {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Remote {
    /// The service of the configuration; the token from [`TOKEN_ENV`], else
    /// the first admin or auditor token written plainly in the config.
    pub fn from_config(server: &Server) -> Result<Remote, RemoteError> {
        let configured = || {
            server
                .tokens
                .iter()
                .filter(|t| matches!(t.role, Role::Admin | Role::Auditor))
                .find_map(|t| t.token.clone())
        };
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(configured)
            .ok_or(RemoteError::NoToken)?;
        // A wildcard address listens on loopback too.
        let address = server
            .listen
            .replace("0.0.0.0:", "127.0.0.1:")
            .replace("[::]:", "[::1]:");
        Ok(Remote {
            base: format!("http://{address}"),
            token,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(120))
                .build(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, RemoteError> {
        let answer = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call();
        let response = match answer {
            Ok(response) => response,
            Err(ureq::Error::Status(404, _)) => return Ok(None),
            Err(ureq::Error::Status(status, response)) => {
                let body: serde_json::Value = response.into_json().unwrap_or_default();
                let text = |key: &str| body[key].as_str().unwrap_or("").to_string();
                return Err(RemoteError::Refused {
                    status,
                    code: text("error"),
                    message: text("message"),
                });
            }
            Err(e) => {
                return Err(RemoteError::Unreachable {
                    base: self.base.clone(),
                    cause: e.to_string(),
                })
            }
        };
        response
            .into_json()
            .map(Some)
            .map_err(|e| RemoteError::Unreadable(e.to_string()))
    }

    fn get_found<T: DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        self.get(path)?
            .ok_or_else(|| RemoteError::Unreadable(format!("{path} is not on this service")))
    }

    /// The account's status; `None` if no upload was made for it.
    pub fn account(&self, id: &str) -> Result<Option<Account>, RemoteError> {
        #[derive(Deserialize)]
        struct Body {
            account: String,
            status: AccountStatus,
            items: Vec<Finding>,
            documents: BTreeMap<DocumentKind, DocumentState>,
        }
        let body: Option<Body> = self.get(&format!("/v1/accounts/{id}"))?;
        Ok(body.map(|b| Account {
            id: b.account,
            documents: b.documents,
            status: b.status,
            items: b.items,
            status_at: 0,
        }))
    }

    /// The verdict queue from `from` on, at most `limit` entries.
    pub fn verdicts(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, RemoteError> {
        #[derive(Deserialize)]
        struct Page {
            entries: Vec<VerdictEntry>,
        }
        let page: Page = self.get_found(&format!("/v1/queue?from={from}&limit={limit}"))?;
        Ok(page.entries)
    }

    /// The review queue, with each item's current holder.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>, RemoteError> {
        #[derive(Deserialize)]
        struct Item {
            job_id: JobId,
            account: String,
            kind: DocumentKind,
            seq: u64,
            since: u64,
            findings: Vec<Finding>,
            claimed_by: Option<String>,
            #[serde(default)]
            claimed_since: Option<u64>,
            claimed_until: Option<u64>,
        }
        let items: Vec<Item> = self.get_found("/v1/review")?;
        Ok(items
            .into_iter()
            .map(|i| ReviewItem {
                job: i.job_id,
                account: i.account,
                kind: i.kind,
                seq: i.seq,
                findings: i.findings,
                since: i.since,
                claim: i
                    .claimed_by
                    .zip(i.claimed_until)
                    .map(|(reviewer, until)| Claim {
                        reviewer,
                        since: i.claimed_since.unwrap_or(0),
                        until,
                    }),
            })
            .collect())
    }

    /// The account's audit log, oldest first.
    pub fn audit_log(&self, account: &str) -> Result<Vec<AuditEntry>, RemoteError> {
        self.get_found(&format!("/v1/accounts/{account}/audit"))
    }

    /// The audit log's hash chain, walked by the service.
    pub fn verify_audit(&self) -> Result<AuditCheck, RemoteError> {
        #[derive(Deserialize)]
        struct Broken {
            seq: u64,
            reason: String,
        }
        #[derive(Deserialize)]
        struct Check {
            entries: u64,
            broken: Option<Broken>,
        }
        let check: Check = self.get_found("/v1/admin/audit/verify")?;
        Ok(AuditCheck {
            entries: check.entries,
            broken: check.broken.map(|b| (b.seq, b.reason)),
        })
    }

    /// The differences between stored statuses and the verdicts'.
    pub fn verify_accounts(&self) -> Result<Vec<String>, RemoteError> {
        #[derive(Deserialize)]
        struct Differences {
            differences: Vec<String>,
        }
        let found: Differences = self.get_found("/v1/admin/accounts/verify")?;
        Ok(found.differences)
    }
}
