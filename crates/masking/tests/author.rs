//! The author relation: a record a salesperson wrote that names no customer at its top (a work
//! journal) stands to the caller as its author does, in both walks; a customer reference, when
//! set, still decides for its own subtree.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use dossier_kit::auth::{Caller, Role};
use dossier_masking::{MaskReport, Masker, Relation, author_relation};
use dossier_proto::visit::{Journal, JournalVisitEntry, ListJournalsResponse, SignOffStep};
use prost::Message;
use prost_reflect::DynamicMessage;

const JOURNAL: &str = "dossier.visit.v1.Journal";

fn masker() -> &'static Masker {
    static MASKER: std::sync::OnceLock<Masker> = std::sync::OnceLock::new();
    MASKER.get_or_init(Masker::new)
}

fn who(role: Role, sub: &str, team: &str) -> Caller {
    Caller {
        sub: sub.into(),
        name: String::new(),
        role,
        team: team.into(),
        scopes: BTreeSet::new(),
    }
}

fn journal(author: &str, team: &str, customer: &str) -> Journal {
    Journal {
        id: "j-1".into(),
        salesperson_id: author.into(),
        team: team.into(),
        journal_date: "2026-06-15".into(),
        market_analysis: "MARKET".into(),
        visits: vec![
            JournalVisitEntry {
                customer_id: customer.into(),
                talk_content: "TALK-CUSTOMER".into(),
                ..Default::default()
            },
            JournalVisitEntry {
                customer_name: "walk-in".into(),
                talk_content: "TALK-WALKIN".into(),
                ..Default::default()
            },
        ],
        sign_offs: vec![SignOffStep {
            comment: "COMMENT".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Masks with both walks, checks they agree, and returns the masked journal and report.
fn mask_both(
    name: &str,
    bytes: &[u8],
    caller: &Caller,
    relation_of: &dyn Fn(&str) -> Relation,
) -> (Vec<u8>, MaskReport) {
    let (wire, wire_report) = masker()
        .mask_bytes(name, bytes, caller, relation_of)
        .expect("masks");
    let descriptor = masker().pool().get_message_by_name(name).expect("known");
    let mut dynamic = DynamicMessage::decode(descriptor, bytes).expect("decodes");
    let reflect_report = masker().mask_message(&mut dynamic, caller, relation_of);
    assert_eq!(wire_report, reflect_report, "the walks agree on the report");
    let reflected = Journal::decode(dynamic.encode_to_vec().as_slice());
    let wired = Journal::decode(wire.as_slice());
    if name == JOURNAL {
        assert_eq!(wired.unwrap(), reflected.unwrap(), "the walks agree");
    }
    (wire, wire_report)
}

fn mask_journal(
    message: &Journal,
    caller: &Caller,
    relation_of: &dyn Fn(&str) -> Relation,
) -> (Journal, Vec<String>) {
    let (bytes, report) = mask_both(JOURNAL, &message.encode_to_vec(), caller, relation_of);
    (
        Journal::decode(bytes.as_slice()).unwrap(),
        report.masked_paths,
    )
}

#[test]
fn the_rule_author_then_team_then_other() {
    let rep = who(Role::SalesRep, "rep-a", "east");
    assert_eq!(author_relation(&rep, "rep-a", "east"), Relation::Owner);
    assert_eq!(author_relation(&rep, "rep-a", ""), Relation::Owner);
    assert_eq!(author_relation(&rep, "rep-b", "east"), Relation::Team);
    assert_eq!(author_relation(&rep, "rep-b", "west"), Relation::Other);
    assert_eq!(author_relation(&rep, "rep-b", ""), Relation::Other);
    // No team is nobody's team.
    let loner = who(Role::SalesManager, "m-1", "");
    assert_eq!(author_relation(&loner, "rep-b", ""), Relation::Other);
}

#[test]
fn the_author_reads_their_journal_in_full() {
    let rep = who(Role::SalesRep, "rep-a", "east");
    // The visited customer is the author's own.
    let (masked, paths) =
        mask_journal(&journal("rep-a", "east", "c-1"), &rep, &|_| Relation::Owner);
    assert!(paths.is_empty(), "{paths:?}");
    assert_eq!(masked.market_analysis, "MARKET");
    assert_eq!(masked.visits[1].talk_content, "TALK-WALKIN");
    assert_eq!(masked.sign_offs[0].comment, "COMMENT");
}

#[test]
fn the_authors_team_manager_reads_it_in_full_and_a_teammate_does_not() {
    let head = who(Role::SalesManager, "head-east", "east");
    let (masked, paths) =
        mask_journal(&journal("rep-a", "east", "c-1"), &head, &|_| Relation::Team);
    assert!(paths.is_empty(), "{paths:?}");
    assert_eq!(masked.market_analysis, "MARKET");

    let teammate = who(Role::SalesRep, "rep-b", "east");
    let (masked, paths) = mask_journal(&journal("rep-a", "east", "c-1"), &teammate, &|_| {
        Relation::Team
    });
    assert_eq!(masked.market_analysis, "");
    assert_eq!(masked.sign_offs[0].comment, "");
    assert!(paths.contains(&"market_analysis".to_owned()), "{paths:?}");
}

#[test]
fn outside_the_team_the_text_is_masked_and_named() {
    let west = who(Role::SalesRep, "rep-w", "west");
    let (masked, paths) = mask_journal(&journal("rep-a", "east", "c-1"), &west, &|_| {
        Relation::Other
    });
    assert_eq!(masked.id, "j-1");
    assert_eq!(masked.market_analysis, "");
    assert_eq!(masked.visits[0].talk_content, "");
    assert_eq!(masked.visits[1].talk_content, "");
    assert_eq!(masked.visits[1].customer_name, "walk-in");
    for path in [
        "market_analysis",
        "visits[].talk_content",
        "sign_offs[].comment",
    ] {
        assert!(paths.contains(&path.to_owned()), "{path} in {paths:?}");
    }
}

#[test]
fn a_customer_reference_keeps_precedence_over_the_author() {
    // The author visited a customer someone else owns: that row is masked for the author,
    // the rest of their journal is not.
    let rep = who(Role::SalesRep, "rep-a", "east");
    let (masked, paths) =
        mask_journal(&journal("rep-a", "east", "c-9"), &rep, &|_| Relation::Other);
    assert_eq!(masked.market_analysis, "MARKET");
    assert_eq!(masked.visits[0].talk_content, "");
    assert_eq!(masked.visits[1].talk_content, "TALK-WALKIN");
    assert_eq!(paths, vec!["visits[].talk_content".to_owned()]);
}

#[test]
fn an_unnamed_author_inherits_like_before() {
    // Without an author the journal stands in the relation given for the top (Other by
    // default), as any message without references does.
    let rep = who(Role::SalesRep, "rep-a", "east");
    let (masked, _) = mask_journal(&journal("", "east", ""), &rep, &|_| Relation::Other);
    assert_eq!(masked.market_analysis, "");
    let bytes = journal("", "east", "").encode_to_vec();
    let (top, report) = masker()
        .mask_bytes_as(JOURNAL, &bytes, &rep, &|_| Relation::Other, Relation::Owner)
        .expect("masks");
    assert!(report.masked_paths.is_empty());
    assert_eq!(
        Journal::decode(top.as_slice()).unwrap().market_analysis,
        "MARKET"
    );
}

#[test]
fn each_journal_of_a_list_stands_as_its_own_author() {
    let rep = who(Role::SalesRep, "rep-a", "east");
    let list = ListJournalsResponse {
        journals: vec![journal("rep-a", "east", ""), journal("rep-w", "west", "")],
        ..Default::default()
    };
    let name = "dossier.visit.v1.ListJournalsResponse";
    let (bytes, report) = mask_both(name, &list.encode_to_vec(), &rep, &|_| Relation::Other);
    let masked = ListJournalsResponse::decode(bytes.as_slice()).unwrap();
    assert_eq!(masked.journals[0].market_analysis, "MARKET");
    assert_eq!(masked.journals[1].market_analysis, "");
    assert!(
        report
            .masked_paths
            .contains(&"journals[].market_analysis".to_owned())
    );
    // The reflective walk decides the same.
    let descriptor = masker().pool().get_message_by_name(name).unwrap();
    let mut dynamic = DynamicMessage::decode(descriptor, list.encode_to_vec().as_slice()).unwrap();
    masker().mask_message(&mut dynamic, &rep, &|_| Relation::Other);
    let reflected = ListJournalsResponse::decode(dynamic.encode_to_vec().as_slice()).unwrap();
    assert_eq!(reflected, masked);
}

#[test]
fn an_author_sent_twice_is_read_as_a_decoder_reads_it() {
    // `salesperson_id` (field 2) sent twice: a decoder keeps the last value; both walks must
    // decide by that one.
    let rep = who(Role::SalesRep, "rep-a", "east");
    let mut bytes = journal("rep-w", "west", "").encode_to_vec();
    bytes.extend_from_slice(&[0x12, 5]);
    bytes.extend_from_slice(b"rep-a");
    let (masked, report) = mask_both(JOURNAL, &bytes, &rep, &|_| Relation::Other);
    let masked = Journal::decode(masked.as_slice()).unwrap();
    assert_eq!(masked.salesperson_id, "rep-a");
    assert_eq!(masked.market_analysis, "MARKET");
    assert!(report.masked_paths.is_empty(), "{:?}", report.masked_paths);
    // And the other way round: the author's own id overwritten by another's.
    let mut bytes = journal("rep-a", "west", "").encode_to_vec();
    bytes.extend_from_slice(&[0x12, 5]);
    bytes.extend_from_slice(b"rep-w");
    let (masked, _) = mask_both(JOURNAL, &bytes, &rep, &|_| Relation::Other);
    assert_eq!(
        Journal::decode(masked.as_slice()).unwrap().market_analysis,
        ""
    );
}
