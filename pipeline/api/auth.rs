//! Bearer tokens with roles, from `[server] tokens` in `pipeline.toml`.

use super::error::ApiError;
use super::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use intake_models::config::Role;
use std::sync::Arc;

/// Who is calling, as their token says.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// The accounts an uploader may act for; `None`: every account.
    pub accounts: Option<Vec<String>>,
}

impl Principal {
    /// Refuses unless the caller has one of `roles` (admin has them all).
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }

    /// Refuses an uploader acting for an account outside its list.
    pub fn require_account(&self, account: &str) -> Result<(), ApiError> {
        match &self.accounts {
            Some(accounts) if !accounts.iter().any(|a| a == account) => Err(ApiError::Forbidden(
                "this token may not act for that account".into(),
            )),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or(ApiError::Unauthorized)?
            .trim();
        // Every configured token is compared in full, in constant time, so
        // timing tells nothing about which one nearly matched.
        let mut found = None;
        for configured in &state.tokens {
            if constant_time_eq(configured.token.as_bytes(), token.as_bytes()) {
                found = Some(configured);
            }
        }
        let configured = found.ok_or(ApiError::Unauthorized)?;
        Ok(Principal {
            name: configured.name.clone(),
            role: configured.role,
            accounts: configured.accounts.clone(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
