//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the types they answer with, so it cannot drift from the
//! code. What every route shares is added here once: the `X-Request-Id`
//! header on every response, and on every route that takes a token the
//! 401/403 of `auth`, the 500 of an internal error and the 503/507 of a
//! store that cannot write. `intake openapi` prints it; `/openapi.json`
//! serves it.

use super::bodies::*;
use super::routes;
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi as Document, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "intake",
        description = "Document intake and verification: upload handlers push scans, reviewers decide what the pipeline flags. Every route but /healthz, /readyz, /openapi.json and /review takes a bearer token; roles: uploader, reviewer, auditor, admin (admin may do everything). Every response carries an X-Request-Id header; every error, on every status (a path the API does not have is 404, a method a route does not take 405), has the body ErrorBody. Instants are RFC 3339 in UTC; lists come a page at a time: give a page's next_cursor as the cursor of the next.",
    ),
    paths(
        routes::upload,
        routes::update_profile,
        routes::job,
        routes::image,
        routes::account,
        routes::audit,
        routes::all_events,
        routes::events,
        routes::review_queue,
        routes::claim,
        routes::release,
        routes::decide,
        routes::me,
        routes::verdict_queue,
        routes::verify_audit,
        routes::verify_accounts,
        routes::metrics,
        routes::healthz,
        routes::readyz,
        routes::openapi,
        routes::console,
    ),
    components(schemas(intake_models::OutboxEvent)),
    modifiers(&Shared),
    tags(
        (name = "uploads", description = "What the portal's upload handlers call."),
        (name = "accounts", description = "An applicant's account: status and case history."),
        (name = "events", description = "Verdicts and status changes as they are committed."),
        (name = "review", description = "The reviewer console and its queue."),
        (name = "audit", description = "Auditors' views: the verdict queue and the integrity checks."),
        (name = "operations", description = "Health, readiness, metrics, this document."),
    ),
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        // utoipa 5 has no webhooks object; the one webhook is added as JSON.
        document["webhooks"] = webhooks();
        document
    })
}

/// What every operation shares (see the module's doc).
struct Shared;

impl Modify for Shared {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let (name, schema) = (ErrorBody::name(), <ErrorBody as PartialSchema>::schema());
        components.schemas.insert(name.to_string(), schema);
        let error = || Content::new(Some(Ref::from_schema_name(ErrorBody::name())));
        let header = |description: &str| {
            let mut header = Header::default();
            header.description = Some(description.to_string());
            header
        };
        let shared: [(&str, &str, bool); 5] = [
            ("401", "No valid bearer token.", false),
            ("403", "The token's role may not do this.", false),
            ("500", "Internal error: the message only gives the request id to quote; the detail is in the server's log under it.", false),
            ("503", "The store cannot write now (its disk is full, `storage_full`); it resumes by itself. Retry after `Retry-After` seconds.", true),
            ("507", "The store's file system is read-only (`storage_read_only`): an operator must repair it; do not retry.", false),
        ];
        for item in document.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let with_token = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                if with_token {
                    for (status, description, retry) in shared {
                        responses.entry(status.to_string()).or_insert_with(|| {
                            let mut response = Response::new(description);
                            response
                                .content
                                .insert("application/json".to_string(), error());
                            if retry {
                                response.headers.insert(
                                    "Retry-After".to_string(),
                                    header("Seconds to wait before trying again."),
                                );
                            }
                            RefOr::T(response)
                        });
                    }
                }
                for response in responses.values_mut() {
                    if let RefOr::T(response) = response {
                        response.headers.insert(
                            "X-Request-Id".to_string(),
                            header("The request's id (the client's `X-Request-Id` when it sent a sane one): quote it when asking about the request."),
                        );
                    }
                }
            }
        }
    }
}

/// The webhook intake POSTs every outbox event to.
fn webhooks() -> Value {
    json!({
        "intakeEvent": {"post": {
            "operationId": "receiveIntakeEvent",
            "summary": "intake POSTs every outbox event, in order, to [webhooks] url until a 2xx; a resend carries the same Idempotency-Key.",
            "parameters": [
                {"name": "X-Intake-Timestamp", "in": "header", "required": true,
                 "description": "Unix seconds of this attempt.", "schema": {"type": "string"}},
                {"name": "X-Intake-Signature", "in": "header", "required": true,
                 "description": "Hex HMAC-SHA256 of timestamp + \".\" + body under the shared secret.",
                 "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                {"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"type": "string"}}
            ],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/OutboxEvent"}}}},
            "responses": {
                "2XX": {"description": "Delivered: intake marks the event delivered and sends the next."},
                "default": {"description": "Anything else (or no answer in webhooks.timeout_ms): sent again with exponential backoff."}
            }
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_id_and_every_secured_one_the_shared_errors() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                assert!(ids.insert(id.to_string()), "{id} twice");
                for response in op["responses"].as_object().unwrap().values() {
                    assert!(
                        response["headers"]["X-Request-Id"].is_object(),
                        "{method} {path}"
                    );
                }
                if op.get("security").is_some() {
                    for status in ["401", "403", "500", "503", "507"] {
                        assert!(
                            op["responses"][status].is_object(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert_eq!(ids.len(), 21);
        assert!(doc["components"]["schemas"]["OutboxEvent"].is_object());
        assert!(doc["webhooks"]["intakeEvent"]["post"].is_object());
    }
}
