//! Bearer tokens with roles, from `[server] tokens` in `pipeline.toml`.
//!
//! The server keeps only each token's SHA-256 and compares digests, so the
//! comparison takes the same time whatever the length of the token sent or
//! configured; tokens may be configured by their digest (`token_sha256`).

use super::error::ApiError;
use super::AppState;
use crate::digest::hex32;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use intake_models::config::{Role, Token};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The shortest token accepted at start: 32 characters.
pub const MIN_TOKEN_CHARS: usize = 32;

/// A configured token as the server keeps it.
#[derive(Debug, Clone)]
pub struct Credential {
    digest: [u8; 32],
    pub name: String,
    pub role: Role,
    pub accounts: Option<Vec<String>>,
}

/// Why the configured tokens cannot be used; `intake serve` does not start.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("[[server.tokens]] {name:?}: give exactly one of `token` and `token_sha256`")]
    NotOne { name: String },
    #[error("[[server.tokens]] {name:?}: the token has {length} characters, fewer than {MIN_TOKEN_CHARS}; make a long random one, e.g. `openssl rand -hex 32`")]
    TooShort { name: String, length: usize },
    #[error("[[server.tokens]] {name:?}: `token_sha256` must be 64 hexadecimal digits (`printf %s TOKEN | sha256sum`)")]
    BadDigest { name: String },
    #[error(
        "[[server.tokens]] {first:?} and {second:?} have the same token: give each holder its own"
    )]
    Duplicate { first: String, second: String },
}

/// The credentials of the configured tokens, or why they cannot be used.
pub fn credentials(tokens: &[Token]) -> Result<Vec<Credential>, TokenError> {
    let mut credentials: Vec<Credential> = Vec::with_capacity(tokens.len());
    for token in tokens {
        let name = token.name.clone();
        let digest = match (&token.token, &token.token_sha256) {
            (Some(plain), None) => {
                let length = plain.trim().chars().count();
                if length < MIN_TOKEN_CHARS {
                    return Err(TokenError::TooShort { name, length });
                }
                digest_of(plain.trim())
            }
            (None, Some(hex)) => hex32(hex).ok_or(TokenError::BadDigest { name: name.clone() })?,
            _ => return Err(TokenError::NotOne { name }),
        };
        if let Some(same) = credentials.iter().find(|c| c.digest == digest) {
            return Err(TokenError::Duplicate {
                first: same.name.clone(),
                second: name,
            });
        }
        credentials.push(Credential {
            digest,
            name,
            role: token.role,
            accounts: token.accounts.clone(),
        });
    }
    Ok(credentials)
}

fn digest_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

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

/// The token of an `Authorization` header; the scheme's case does not
/// matter (RFC 9110 §11.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or(ApiError::Unauthorized)?;
        let digest = digest_of(token);
        // Every configured digest is compared in full, in constant time, so
        // timing tells nothing about which one nearly matched.
        let mut found = None;
        for credential in &state.tokens {
            if constant_time_eq(&credential.digest, &digest) {
                found = Some(credential);
            }
        }
        let credential = found.ok_or(ApiError::Unauthorized)?;
        Ok(Principal {
            name: credential.name.clone(),
            role: credential.role,
            accounts: credential.accounts.clone(),
        })
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    fn token(name: &str, plain: Option<&str>, sha256: Option<&str>) -> Token {
        Token {
            token: plain.map(str::to_string),
            token_sha256: sha256.map(str::to_string),
            role: Role::Reviewer,
            name: name.into(),
            accounts: None,
        }
    }

    fn hex(digest: [u8; 32]) -> String {
        crate::digest::to_hex(&digest)
    }

    #[test]
    fn short_duplicate_or_malformed_tokens_stop_the_start() {
        let short = credentials(&[token("r1", Some("admin-token"), None)]);
        assert!(matches!(
            short,
            Err(TokenError::TooShort { length: 11, .. })
        ));
        let message = short.unwrap_err().to_string();
        assert!(
            message.contains("\"r1\"") && message.contains("32"),
            "{message}"
        );

        let hashed = hex(digest_of(LONG));
        let twice = credentials(&[
            token("r1", Some(LONG), None),
            token("r2", None, Some(&hashed.to_uppercase())),
        ]);
        assert!(
            matches!(twice, Err(TokenError::Duplicate { ref first, ref second }) if first == "r1" && second == "r2"),
            "the same token, once plain and once hashed: {twice:?}"
        );
        assert!(matches!(
            credentials(&[token("r1", None, Some("abc"))]),
            Err(TokenError::BadDigest { .. })
        ));
        for (plain, hashed) in [(None, None), (Some(LONG), Some(hashed.as_str()))] {
            assert!(matches!(
                credentials(&[token("r1", plain, hashed)]),
                Err(TokenError::NotOne { .. })
            ));
        }
    }

    #[test]
    fn a_token_given_plain_or_by_its_digest_is_the_same_credential() {
        let plain = credentials(&[token("r1", Some(LONG), None)]).unwrap();
        let hashed = credentials(&[token("r1", None, Some(&hex(digest_of(LONG))))]).unwrap();
        assert_eq!(plain[0].digest, hashed[0].digest);
        assert_eq!(plain[0].digest, digest_of(LONG));
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_must_be_there() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
