//! The running service, asked over its HTTP API by the operator commands
//! that find the store held by it (sled lets one process at a time open
//! it): `status`, `review list`, `queue tail`, `audit`, `audit verify`,
//! `accounts verify` answer the same either way.

use intake::api::bodies::{
    AccountBody, AccountsVerified, AuditPage, AuditVerified, ReviewEntry, ReviewPage, VerdictPage,
};
use intake::service::AuditCheck;
use intake_models::config::{Role, Server};
use intake_models::{Account, AuditEntry, ReviewItem, VerdictEntry};
use serde::de::DeserializeOwned;
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
        let body: Option<AccountBody> = self.get(&format!("/v1/accounts/{id}"))?;
        Ok(body.map(AccountBody::into_account))
    }

    /// Every item of a paged list at `path`, following the cursors.
    fn all_pages<P: DeserializeOwned, T>(
        &self,
        path: &str,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, RemoteError> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: P = self.get_found(&format!("{path}?limit=1000&cursor={cursor}"))?;
            let (items, next) = split(page);
            all.extend(items);
            match next {
                Some(next) => cursor = next,
                None => return Ok(all),
            }
        }
    }

    /// The verdict queue from `from` on, at most `limit` entries.
    pub fn verdicts(&self, from: u64, limit: usize) -> Result<Vec<VerdictEntry>, RemoteError> {
        // A cursor is the seq the page starts after.
        let after = from.saturating_sub(1);
        let page: VerdictPage =
            self.get_found(&format!("/v1/queue?cursor={after}&limit={limit}"))?;
        Ok(page.items)
    }

    /// The review queue, with each item's current holder.
    pub fn review_queue(&self) -> Result<Vec<ReviewItem>, RemoteError> {
        let entries = self.all_pages("/v1/review", |p: ReviewPage| (p.items, p.next_cursor))?;
        Ok(entries.into_iter().map(ReviewEntry::into_item).collect())
    }

    /// The account's audit log, oldest first.
    pub fn audit_log(&self, account: &str) -> Result<Vec<AuditEntry>, RemoteError> {
        let path = format!("/v1/accounts/{account}/audit");
        self.all_pages(&path, |p: AuditPage| (p.items, p.next_cursor))
    }

    /// The audit log's hash chain, walked by the service.
    pub fn verify_audit(&self) -> Result<AuditCheck, RemoteError> {
        let check: AuditVerified = self.get_found("/v1/admin/audit/verify")?;
        Ok(AuditCheck {
            entries: check.entries,
            broken: check.broken.map(|b| (b.seq, b.reason)),
        })
    }

    /// The differences between stored statuses and the verdicts'.
    pub fn verify_accounts(&self) -> Result<Vec<String>, RemoteError> {
        let found: AccountsVerified = self.get_found("/v1/admin/accounts/verify")?;
        Ok(found.differences)
    }
}
