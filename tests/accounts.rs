//! The account as the portal uses it, through a real `intake serve` (real
//! sled store, real pipeline): profiles with both scripts and the form's
//! numbers, profile updates that check the documents again, the correction
//! loop, refusals with their reasons, the declared kind of a document
//! without an MRZ, and the block at the earliest expiry. The documents of
//! one person come from the generator (`intake_samples::one_person`).

use crate::api::{decided, form, send, Body, Server, AUDITOR, REVIEWER, UPLOADER};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One person's passport, visa and migration card, and another's passport.
fn person() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        intake_samples::one_person(&path, 12).expect("the generator writes the set");
        (dir, path)
    });
    path
}

pub fn profile(stem: &str, name: &str) -> Value {
    let path = person().join(format!("profiles/{stem}.{name}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn upload(server: &Server, account: &str, kind: &str, file: &str, profile: &Value) -> Value {
    let bytes = std::fs::read(person().join(file)).unwrap();
    let profile = profile.to_string();
    let parts: Vec<(&str, Option<&str>, &[u8])> = vec![
        ("kind", None, kind.as_bytes()),
        ("file", Some(file), &bytes),
        ("profile", None, profile.as_bytes()),
    ];
    let url = server.url(&format!("/v1/accounts/{account}/documents"));
    let reply = send("POST", &url, Some(UPLOADER), Body::Multipart(form(&parts)));
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

fn job_of(reply: &Value) -> String {
    reply["job_id"].as_str().unwrap().to_string()
}

fn account(server: &Server, id: &str) -> Value {
    let url = server.url(&format!("/v1/accounts/{id}"));
    send("GET", &url, Some(UPLOADER), Body::None).json()
}

/// Polls the account until its status is `status` (the consumer follows commits).
fn account_becomes(server: &Server, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = account(server, id);
        if now["status"] == status {
            return now;
        }
        assert!(Instant::now() < deadline, "{id} stays {now}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn put_profile(server: &Server, id: &str, body: Value) -> (u16, Value) {
    let url = server.url(&format!("/v1/accounts/{id}/profile"));
    let reply = send("PUT", &url, Some(UPLOADER), Body::Json(body));
    (reply.status, reply.json())
}

fn codes(verdict: &Value) -> Vec<String> {
    verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| match f["field"].as_str() {
            Some(field) => format!("{}:{field}", f["code"].as_str().unwrap()),
            None => f["code"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn audit(server: &Server, id: &str) -> Vec<Value> {
    let url = server.url(&format!("/v1/accounts/{id}/audit"));
    send("GET", &url, Some(AUDITOR), Body::None).json()["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn decide(server: &Server, job: &str, decision: Value) -> Value {
    let claim = server.url(&format!("/v1/review/{job}/claim"));
    assert_eq!(send("POST", &claim, Some(REVIEWER), Body::None).status, 200);
    let url = server.url(&format!("/v1/review/{job}/decision"));
    let done = send("POST", &url, Some(REVIEWER), Body::Json(decision));
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    done.json()
}

#[test]
fn a_reviewers_request_is_answered_by_a_profile_update_and_the_account_verifies() {
    let server = Server::start("");
    let acc = "loop-1";
    let passport = upload(
        &server,
        acc,
        "passport",
        "passport.jpg",
        &profile("passport", "mismatch_birth_date"),
    );
    let card = upload(
        &server,
        acc,
        "migration_card",
        "migration_card.jpg",
        &profile("migration_card", "matching"),
    );
    let passport = job_of(&passport);
    let flagged = decided(&server, UPLOADER, &passport);
    assert_eq!(flagged["state"], "in_review");
    assert!(codes(&flagged["verdict"]).contains(&"field_mismatch:birth_date".to_string()));
    let card = decided(&server, UPLOADER, &job_of(&card));
    assert_eq!(card["verdict"]["verdict"], "accepted", "{card}");
    account_becomes(&server, acc, "in_review");

    // The reviewer asks for the birth date.
    let comment = "enter the date of birth as in the passport";
    let done = decide(
        &server,
        &passport,
        json!({"decision": "correct", "items": ["birth_date"], "comment": comment}),
    );
    let asked = &done["account"];
    assert_eq!(asked["status"], "needs_correction");
    assert_eq!(asked["items"][0]["code"], "correction_requested");
    assert_eq!(asked["items"][0]["field"], "birth_date");
    assert!(asked["items"][0]["message_ru"]
        .as_str()
        .unwrap()
        .contains("дата рождения"));
    // The deadline runs from the request: the reviewer's decision.
    // RFC 3339 in UTC, to the millisecond: they order as text.
    let requested_at = asked["documents"]["passport"]["at"]
        .as_str()
        .unwrap()
        .to_string();
    let review_seq = done["seq"].as_u64().unwrap();
    assert_eq!(asked["documents"]["passport"]["seq"], review_seq);

    // The applicant corrects the form.
    let right = profile("passport", "matching")["birth_date"].clone();
    let (status, update) = put_profile(&server, acc, json!({"birth_date": right}));
    assert_eq!(status, 202, "{update}");
    assert_eq!(update["rechecked"].as_array().unwrap().len(), 1, "{update}");
    assert_eq!(update["rechecked"][0]["kind"], "passport");
    assert_eq!(update["rechecked"][0]["resubmitted"], false);
    assert_eq!(update["unchanged"], json!(["migration_card"]));
    let recheck = update["rechecked"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(recheck, passport, "a new check, not the old job");
    let rechecked = decided(&server, UPLOADER, &recheck);
    assert_eq!(rechecked["verdict"]["verdict"], "accepted", "{rechecked}");
    assert_eq!(rechecked["declared"]["birth_date"], right);
    let verified = account_becomes(&server, acc, "verified");
    assert!(verified["documents"]["passport"]["at"].as_str().unwrap() >= requested_at.as_str());
    assert_eq!(verified["items"], json!([]));

    // The same update again changes nothing and checks nothing again.
    let (status, again) = put_profile(&server, acc, json!({"birth_date": right}));
    assert_eq!(status, 202);
    assert_eq!(again["rechecked"], json!([]));

    // Every step audited: who, what, the items and the comment.
    let log = audit(&server, acc);
    let entry = |action: &str| {
        log.iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {log:?}"))
            .clone()
    };
    let resolved = entry("review_resolved");
    assert_eq!(resolved["by"], json!({"type": "reviewer", "id": "r1"}));
    let after = resolved["after"].as_str().unwrap();
    assert!(
        after.contains("correction_requested(birth_date)"),
        "{after}"
    );
    assert!(after.contains(comment), "{after}");
    assert_eq!(entry("review_claimed")["by"]["id"], "r1");
    let updated = entry("profile_updated");
    assert_eq!(updated["by"], json!({"type": "uploader", "id": "portal"}));
    let after = updated["after"].as_str().unwrap();
    assert!(
        after.contains("birth_date") && after.contains("rechecked: passport"),
        "{after}"
    );
    assert!(
        !after.contains(right.as_str().unwrap()),
        "values stay out: {after}"
    );
    assert!(log
        .iter()
        .any(|e| e["action"] == "job_submitted" && e["job"] == recheck.as_str()));
    let last_status = log.iter().rev().find(|e| e["action"] == "status").unwrap();
    assert_eq!(last_status["after"], "verified");
}

#[test]
fn profiles_in_both_scripts_with_snils_and_inn_and_resubmissions() {
    let server = Server::start("");
    let acc = "form-1";
    let latin = profile("passport", "matching");
    let cyrillic = profile("passport", "transliteration");
    let mut declared = latin.clone();
    declared["surname_cyrillic"] = cyrillic["surname"].clone();
    declared["given_names_cyrillic"] = cyrillic["given_names"].clone();
    declared["patronymic_cyrillic"] = json!("Бахтиёрович");
    declared["place_of_birth"] = json!("Ташкент");
    declared["issue_date"] = json!("17.06.2017");
    declared["inn"] = json!("500100732259");
    declared["snils"] = json!("112-233-445 96");
    let first = upload(&server, acc, "passport", "passport.jpg", &declared);
    let job = job_of(&first);
    let checked = decided(&server, UPLOADER, &job);
    let verdict = &checked["verdict"];
    assert_eq!(verdict["verdict"], "needs_correction", "{verdict}");
    assert_eq!(
        codes(verdict)
            .iter()
            .filter(|c| !c.starts_with("transliteration"))
            .collect::<Vec<_>>(),
        vec!["snils_invalid:snils"]
    );
    let snils = verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "snils_invalid")
        .unwrap();
    assert!(snils["message"].as_str().unwrap().contains("SNILS"));
    assert!(snils["message_ru"].as_str().unwrap().contains("СНИЛС"));
    let compared: Vec<(String, String)> = verdict["match"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["field"].as_str().unwrap().to_string(),
                m["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for field in ["surname_cyrillic", "given_names_cyrillic"] {
        assert!(
            compared.iter().any(|(f, r)| f == field && r != "mismatch"),
            "{field} in {compared:?}"
        );
    }
    let status = account_becomes(&server, acc, "needs_correction");
    assert_eq!(status["items"][0]["field"], "snils");

    // The same file and profile again is the same job; another profile is a new check.
    let again = upload(&server, acc, "passport", "passport.jpg", &declared);
    assert_eq!(again["resubmitted"], true);
    assert_eq!(job_of(&again), job);
    let mut bad_inn = declared.clone();
    bad_inn["inn"] = json!("500100732258");
    let other = upload(&server, acc, "passport", "passport.jpg", &bad_inn);
    assert_eq!(other["resubmitted"], false);
    assert_ne!(job_of(&other), job);
    let other = decided(&server, UPLOADER, &job_of(&other));
    let found = codes(&other["verdict"]);
    assert!(found.contains(&"inn_invalid:inn".to_string()), "{found:?}");

    // The profile update with the right numbers checks the passport again.
    let (status, update) = put_profile(
        &server,
        acc,
        json!({"snils": "112-233-445 95", "inn": "500100732259"}),
    );
    assert_eq!(status, 202, "{update}");
    let recheck = update["rechecked"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let rechecked = decided(&server, UPLOADER, &recheck);
    assert_eq!(rechecked["verdict"]["verdict"], "accepted", "{rechecked}");
    account_becomes(&server, acc, "pending");

    // Refusals of the request itself.
    let (status, _) = put_profile(&server, acc, json!({"shoe_size": "42"}));
    assert_eq!(status, 400);
    let (status, _) = put_profile(&server, "nobody", json!({"surname": "X"}));
    assert_eq!(status, 404);
}

#[test]
fn kinds_refusals_and_the_earliest_expiry() {
    // The time rules run every second once the server is restarted.
    let mut server = Server::start("[accounts]\nsweep_interval_s = 1\n");

    // A migration card declared as a residence permit, alone.
    let card = upload(
        &server,
        "kind-1",
        "residence_permit",
        "migration_card.jpg",
        &profile("migration_card", "matching"),
    );
    let card = decided(&server, UPLOADER, &job_of(&card));
    assert_eq!(card["verdict"]["verdict"], "needs_correction");
    assert!(codes(&card["verdict"]).contains(&"document_kind_mismatch".to_string()));
    let kind = account_becomes(&server, "kind-1", "needs_correction");
    assert_eq!(kind["items"][0]["code"], "document_kind_mismatch");

    // A refusal carries its reasons to the applicant in both languages.
    let other = upload(
        &server,
        "rej-1",
        "passport",
        "other_passport.jpg",
        &profile("other_passport", "mismatch_surname"),
    );
    let other = job_of(&other);
    assert_eq!(decided(&server, UPLOADER, &other)["state"], "in_review");
    let refused = decide(
        &server,
        &other,
        json!({"decision": "reject", "comment": "not the applicant's passport"}),
    );
    let refused = &refused["account"];
    assert_eq!(refused["status"], "refused");
    let reason = &refused["items"][0];
    assert_eq!(reason["code"], "document_refused");
    assert!(!reason["message"].as_str().unwrap().is_empty());
    assert!(reason["message_ru"].as_str().unwrap().contains("отказал"));
    let log = audit(&server, "rej-1");
    let resolved = log
        .iter()
        .find(|e| e["action"] == "review_resolved")
        .unwrap();
    let after = resolved["after"].as_str().unwrap();
    assert!(
        after.contains("rejected: document_refused")
            && after.contains("not the applicant's passport"),
        "{after}"
    );

    // One person's passport (300 days) and visa (500 days): verified, then
    // blocked when the passport expires, though the visa runs on.
    let acc = "exp-1";
    let passport = upload(
        &server,
        acc,
        "passport",
        "passport.jpg",
        &profile("passport", "matching"),
    );
    let visa = upload(
        &server,
        acc,
        "visa",
        "visa.jpg",
        &profile("visa", "matching"),
    );
    for job in [job_of(&passport), job_of(&visa)] {
        let done = decided(&server, UPLOADER, &job);
        assert_eq!(done["verdict"]["verdict"], "accepted", "{done}");
    }
    let verified = account_becomes(&server, acc, "verified");
    let expiry = |kind: &str| {
        verified["documents"][kind]["expiry_date"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (passport_end, visa_end) = (expiry("passport"), expiry("visa"));
    assert!(passport_end < visa_end, "{passport_end} {visa_end}");
    server.restart(&passport_end);
    // A sweep or two at that date.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        account(&server, acc)["status"],
        "verified",
        "valid on its last day"
    );
    let next_day = intake_stages::dates::Date::parse_iso(&passport_end)
        .map(|d| intake_stages::dates::Date::from_unix_days(d.to_unix_days() + 1).to_iso())
        .unwrap();
    server.restart(&next_day);
    let blocked = account_becomes(&server, acc, "blocked");
    assert_eq!(blocked["items"][0]["code"], "document_expired");
    assert_eq!(blocked["items"][0]["field"], "expiry_date");
}

#[test]
fn a_waiting_review_gives_way_to_the_new_check_and_a_passport_on_two_accounts_is_flagged() {
    const ACC: &str = "wd-1";
    let server = Server::start("");
    // A profile update while the document waits for a reviewer: the new
    // check takes the review's place, and the old item leaves the queue.
    let waiting = upload(
        &server,
        ACC,
        "passport",
        "passport.jpg",
        &profile("passport", "mismatch_surname"),
    );
    let waiting = job_of(&waiting);
    assert_eq!(decided(&server, UPLOADER, &waiting)["state"], "in_review");
    let queued = |job: &str| {
        send("GET", &server.url("/v1/review"), Some(REVIEWER), Body::None).json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["job_id"] == job)
    };
    assert!(queued(&waiting));
    let surname = profile("passport", "matching")["surname"].clone();
    let (status, update) = put_profile(&server, ACC, json!({ "surname": surname }));
    assert_eq!(status, 202, "{update}");
    let recheck = update["rechecked"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!queued(&waiting), "the replaced review is withdrawn");
    let rechecked = decided(&server, UPLOADER, &recheck);
    assert_eq!(rechecked["verdict"]["verdict"], "accepted", "{rechecked}");
    let log = audit(&server, ACC);
    let withdrawn = log
        .iter()
        .find(|e| e["action"] == "review_withdrawn")
        .expect("the withdrawal is audited");
    assert_eq!(withdrawn["job"], waiting.as_str());
    assert_eq!(withdrawn["by"]["id"], "portal");

    // The same passport on another account goes to a person.
    let again = upload(
        &server,
        "dup-2",
        "passport",
        "passport.jpg",
        &profile("passport", "matching"),
    );
    let again = decided(&server, UPLOADER, &job_of(&again));
    assert_eq!(again["verdict"]["verdict"], "needs_review", "{again}");
    assert!(codes(&again["verdict"]).contains(&"duplicate_document:document_number".to_string()));
    let flagged = account_becomes(&server, "dup-2", "in_review");
    assert_eq!(
        flagged["documents"]["passport"]["items"][0]["code"],
        "duplicate_document"
    );
    // Its holder's own re-checks are not duplicates.
    assert_eq!(
        account(&server, ACC)["documents"]["passport"]["verdict"],
        "accepted"
    );
}

#[test]
fn an_accounts_documents_must_name_one_person() {
    let server = Server::start("");
    // One person's passport, visa and migration card agree across scripts.
    let one = "one-1";
    for (kind, file, stem) in [
        ("passport", "passport.jpg", "passport"),
        ("visa", "visa.jpg", "visa"),
        ("migration_card", "migration_card.jpg", "migration_card"),
    ] {
        let job = job_of(&upload(
            &server,
            one,
            kind,
            file,
            &profile(stem, "matching"),
        ));
        let done = decided(&server, UPLOADER, &job);
        assert_eq!(done["verdict"]["verdict"], "accepted", "{kind}: {done}");
        // The visa and the card name the passport: the same number, read.
        let named = &done["verdict"]["document"]["passport_number"];
        assert_eq!(named.is_string(), kind != "passport", "{kind}: {done}");
    }
    account_becomes(&server, one, "verified");

    // This person's migration card naming another passport than theirs.
    let three = "three-1";
    let passport = job_of(&upload(
        &server,
        three,
        "passport",
        "passport.jpg",
        &profile("passport", "matching"),
    ));
    decided(&server, UPLOADER, &passport);
    let card = job_of(&upload(
        &server,
        three,
        "migration_card",
        "migration_card_other_passport.jpg",
        &profile("migration_card_other_passport", "matching"),
    ));
    let card = decided(&server, UPLOADER, &card);
    assert_eq!(card["verdict"]["verdict"], "needs_review", "{card}");
    let named: Vec<&Value> = card["verdict"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "cross_document_mismatch")
        .collect();
    assert_eq!(named.len(), 1, "{card}");
    assert_eq!(named[0]["field"], "document_number");
    assert!(named[0]["message"]
        .as_str()
        .unwrap()
        .contains("passport number"));

    // Another person's passport, then this person's visa: a person decides,
    // told which field differs and from which document.
    let two = "two-1";
    let passport = upload(
        &server,
        two,
        "passport",
        "other_passport.jpg",
        &profile("other_passport", "matching"),
    );
    let passport = job_of(&passport);
    let done = decided(&server, UPLOADER, &passport);
    assert_eq!(done["verdict"]["verdict"], "accepted", "{done}");
    let visa = job_of(&upload(
        &server,
        two,
        "visa",
        "visa.jpg",
        &profile("visa", "matching"),
    ));
    let visa = decided(&server, UPLOADER, &visa);
    assert_eq!(visa["verdict"]["verdict"], "needs_review", "{visa}");
    let flagged: Vec<&Value> = visa["verdict"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "cross_document_mismatch")
        .collect();
    assert!(
        flagged.iter().any(|f| f["field"] == "surname"),
        "{flagged:?}"
    );
    let named = flagged[0]["message"].as_str().unwrap();
    assert!(
        named.contains("visa") && named.contains("passport") && named.contains(&passport[..12]),
        "{named}"
    );
    assert!(flagged[0]["message_ru"]
        .as_str()
        .unwrap()
        .contains("паспорт"));
    let account = account_becomes(&server, two, "in_review");
    assert_eq!(
        account["documents"]["visa"]["items"][0]["code"],
        "cross_document_mismatch"
    );
}
