//! The audit log as a hash chain: each event's hash covers its own content and the previous
//! event's hash, so editing an event breaks its own hash, and deleting one breaks the sequence or
//! the next event's link. The chain's head (last sequence and hash) is kept beside the events, so
//! deleting the newest event is found too.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The outcome of an audited call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with data.
    Ok,
    /// Refused: unauthenticated, not allowed, rate-limited.
    Denied,
    /// Failed: invalid input, not found, a dependency down.
    Failed,
}

impl Outcome {
    /// The `AuditOutcome` proto number.
    pub fn number(self) -> i32 {
        match self {
            Outcome::Ok => 1,
            Outcome::Denied => 2,
            Outcome::Failed => 3,
        }
    }

    /// From the stored number.
    pub fn from_number(number: i32) -> Outcome {
        match number {
            1 => Outcome::Ok,
            2 => Outcome::Denied,
            _ => Outcome::Failed,
        }
    }

    /// The outcome of a call answered with this gRPC status code (0 = OK).
    pub fn of_code(code: i32) -> Outcome {
        // UNAUTHENTICATED (16), PERMISSION_DENIED (7), RESOURCE_EXHAUSTED (8).
        match code {
            0 => Outcome::Ok,
            7 | 8 | 16 => Outcome::Denied,
            _ => Outcome::Failed,
        }
    }
}

/// One audited call, as stored (times as RFC 3339 with microseconds, lists joined by `,`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    /// When the call was answered.
    pub event_time: String,
    /// The caller's `sub` (empty when unauthenticated).
    pub caller_id: String,
    /// The caller's role (`Role` proto number, 0 when unauthenticated).
    pub role: i32,
    /// The caller's team.
    pub team: String,
    /// The full method path.
    pub method: String,
    /// Customers the call touched (request and response), sorted.
    pub customer_ids: Vec<String>,
    /// Sensitivity classes revealed in full (`Sensitivity` numbers), sorted.
    pub revealed_classes: Vec<i32>,
    /// Field paths masked.
    pub masked_fields: Vec<String>,
    /// The borrow grant the call was served under, if any.
    pub grant_id: String,
    /// Outcome.
    pub outcome: i32,
    /// gRPC status code.
    pub status_code: i32,
    /// Trace id of the call.
    pub trace_id: String,
    /// Peer address.
    pub peer: String,
    /// The request's `request_id`, if it had one.
    pub request_id: String,
    /// Time taken.
    pub duration_ms: i64,
}

/// The hash of an event at `sequence` whose predecessor's hash is `prev_hash`: SHA-256 over a
/// length-prefixed encoding of every field, so no two different events encode alike.
pub fn event_hash(sequence: i64, prev_hash: &str, entry: &AuditEntry) -> String {
    let mut hasher = Sha256::new();
    let mut put = |value: &str| {
        hasher.update((value.len() as u64).to_be_bytes());
        hasher.update(value.as_bytes());
    };
    put(&sequence.to_string());
    put(prev_hash);
    put(&entry.event_time);
    put(&entry.caller_id);
    put(&entry.role.to_string());
    put(&entry.team);
    put(&entry.method);
    put(&entry.customer_ids.join(","));
    put(&join_numbers(&entry.revealed_classes));
    put(&entry.masked_fields.join(","));
    put(&entry.grant_id);
    put(&entry.outcome.to_string());
    put(&entry.status_code.to_string());
    put(&entry.trace_id);
    put(&entry.peer);
    put(&entry.request_id);
    put(&entry.duration_ms.to_string());
    hex::encode(hasher.finalize())
}

/// `[1, 4]` → `"1,4"`.
pub fn join_numbers(numbers: &[i32]) -> String {
    numbers
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `"1,4"` → `[1, 4]` (unparsable parts are dropped, which breaks the hash: tampering shows).
pub fn split_numbers(text: &str) -> Vec<i32> {
    split_list(text)
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// `"a,b"` → `["a", "b"]`; `""` → `[]`.
pub fn split_list(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split(',').map(str::to_owned).collect()
    }
}

/// A stored event, as the verifier reads it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Its sequence number.
    pub sequence: i64,
    /// Stored link to the previous event.
    pub prev_hash: String,
    /// Stored hash.
    pub hash: String,
    /// Stored content.
    pub entry: AuditEntry,
}

/// What is wrong with the first bad event (the contract's `problem` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainProblem {
    /// The event's content no longer hashes to its stored hash: it was edited.
    HashMismatch,
    /// The event does not link to its predecessor's hash: the predecessor or the link was
    /// rewritten.
    PrevHashMismatch,
    /// The event is not there: it was deleted.
    Missing,
}

impl ChainProblem {
    /// The name integrators see in `VerifyAuditChainResponse.problem`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainProblem::HashMismatch => "hash_mismatch",
            ChainProblem::PrevHashMismatch => "prev_hash_mismatch",
            ChainProblem::Missing => "missing",
        }
    }
}

/// Walks the chain in order and finds the first event that is not what was written.
///
/// A walk may cover part of the log: it starts at `from` and, past the first event, checks
/// every link. The first event's own link is checked against the hash of the event before it
/// when the caller supplies it ([`ChainVerifier::starting_at`]).
#[derive(Debug)]
pub struct ChainVerifier {
    expected_sequence: i64,
    /// The hash the next event must link to; `None` before the first event of a walk that
    /// starts mid-log without its predecessor.
    expected_prev: Option<String>,
    checked: u64,
    last_checked: Option<(i64, String)>,
    first_bad: Option<(i64, ChainProblem)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::starting_at(1, Some(GENESIS.to_owned()))
    }
}

impl ChainVerifier {
    /// A walk from sequence `from` (1 or more), whose first event must link to `prev_hash` when
    /// given.
    pub fn starting_at(from: i64, prev_hash: Option<String>) -> Self {
        Self {
            expected_sequence: from.max(1),
            expected_prev: prev_hash,
            checked: 0,
            last_checked: None,
            first_bad: None,
        }
    }

    /// Checks the next stored event. Returns false once a bad event is found (stop reading).
    pub fn check(&mut self, event: &StoredEvent) -> bool {
        if self.first_bad.is_some() {
            return false;
        }
        if event.sequence != self.expected_sequence {
            // A gap: the expected event was deleted.
            self.first_bad = Some((self.expected_sequence, ChainProblem::Missing));
            return false;
        }
        self.checked += 1;
        let recomputed = event_hash(event.sequence, &event.prev_hash, &event.entry);
        if recomputed != event.hash {
            self.first_bad = Some((event.sequence, ChainProblem::HashMismatch));
            return false;
        }
        if self
            .expected_prev
            .as_ref()
            .is_some_and(|prev| *prev != event.prev_hash)
        {
            self.first_bad = Some((event.sequence, ChainProblem::PrevHashMismatch));
            return false;
        }
        self.expected_sequence += 1;
        self.expected_prev = Some(event.hash.clone());
        self.last_checked = Some((event.sequence, event.hash.clone()));
        true
    }

    /// Ends the walk. `through` is the last sequence the walk had to reach: the recorded head
    /// (last sequence and hash written) for a walk to the end, so events missing at the end
    /// (the newest deleted) and a rewritten last event show here.
    pub fn finish(mut self, through: Option<(i64, Option<String>)>) -> ChainReport {
        if self.first_bad.is_none()
            && let Some((last, hash)) = through
        {
            let last_seen = self.expected_sequence - 1;
            if last > last_seen {
                self.first_bad = Some((last_seen + 1, ChainProblem::Missing));
            } else if last == last_seen
                && last > 0
                && hash.is_some_and(|hash| Some(hash) != self.expected_prev)
            {
                self.first_bad = Some((last, ChainProblem::HashMismatch));
            }
        }
        ChainReport {
            ok: self.first_bad.is_none(),
            events_checked: self.checked,
            first_bad_sequence: self.first_bad.map_or(0, |(sequence, _)| sequence),
            problem: self.first_bad.map(|(_, problem)| problem),
            last_checked: self.last_checked,
        }
    }
}

/// The verifier's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Whether every event walked is intact.
    pub ok: bool,
    /// Events read.
    pub events_checked: u64,
    /// The first sequence found edited or missing (0 when intact).
    pub first_bad_sequence: i64,
    /// What was wrong with it.
    pub problem: Option<ChainProblem>,
    /// Sequence and hash of the last event found intact.
    pub last_checked: Option<(i64, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|sequence| {
                let entry = AuditEntry {
                    caller_id: format!("user-{sequence}"),
                    method: "/m".into(),
                    customer_ids: vec!["c1".into()],
                    revealed_classes: vec![1, 4],
                    ..AuditEntry::default()
                };
                let hash = event_hash(sequence, &prev, &entry);
                let event = StoredEvent {
                    sequence,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    entry,
                };
                prev = hash;
                event
            })
            .collect()
    }

    fn verify(events: &[StoredEvent], head: Option<(i64, Option<String>)>) -> ChainReport {
        let mut verifier = ChainVerifier::default();
        for event in events {
            if !verifier.check(event) {
                break;
            }
        }
        verifier.finish(head)
    }

    fn head(events: &[StoredEvent]) -> Option<(i64, Option<String>)> {
        events.last().map(|e| (e.sequence, Some(e.hash.clone())))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let events = chain(5);
        let report = verify(&events, head(&events));
        assert!(report.ok);
        assert_eq!(report.events_checked, 5);
    }

    #[test]
    fn an_edit_names_the_edited_event() {
        let mut events = chain(5);
        let recorded_head = head(&events);
        events[2].entry.caller_id = "someone-else".into();
        assert_eq!(verify(&events, recorded_head).first_bad_sequence, 3);
    }

    #[test]
    fn a_deletion_names_the_deleted_event_even_the_last() {
        let events = chain(5);
        let recorded_head = head(&events);
        let mut middle = events.clone();
        middle.remove(1);
        assert_eq!(verify(&middle, recorded_head.clone()).first_bad_sequence, 2);
        let mut last = events.clone();
        last.pop();
        assert_eq!(verify(&last, recorded_head).first_bad_sequence, 5);
    }

    #[test]
    fn a_rewritten_tail_with_fresh_hashes_still_breaks_the_head() {
        let mut events = chain(3);
        let recorded_head = head(&events);
        events[2].entry.caller_id = "forged".into();
        events[2].hash = event_hash(3, &events[2].prev_hash, &events[2].entry);
        assert_eq!(verify(&events, recorded_head).first_bad_sequence, 3);
    }

    #[test]
    fn each_finding_names_its_problem() {
        let events = chain(4);
        let recorded_head = head(&events);
        let mut edited = events.clone();
        edited[1].entry.method = "/other".into();
        assert_eq!(
            verify(&edited, recorded_head.clone()).problem,
            Some(ChainProblem::HashMismatch)
        );
        let mut relinked = events.clone();
        relinked[2].prev_hash = "0".repeat(64);
        relinked[2].hash = event_hash(3, &relinked[2].prev_hash, &relinked[2].entry);
        let report = verify(&relinked, recorded_head.clone());
        assert_eq!(
            (report.first_bad_sequence, report.problem),
            (3, Some(ChainProblem::PrevHashMismatch))
        );
        let mut deleted = events.clone();
        deleted.remove(0);
        let report = verify(&deleted, recorded_head);
        assert_eq!(
            (report.first_bad_sequence, report.problem),
            (1, Some(ChainProblem::Missing))
        );
        assert_eq!(report.events_checked, 0);
    }

    #[test]
    fn a_range_checks_its_own_events_against_the_link_before_it() {
        let events = chain(6);
        let walk = |from: usize, to: usize, events: &[StoredEvent]| {
            let prev = events
                .iter()
                .find(|e| e.sequence == from as i64 - 1)
                .map(|e| e.hash.clone());
            let mut verifier = ChainVerifier::starting_at(from as i64, prev);
            for event in events
                .iter()
                .filter(|e| e.sequence >= from as i64 && e.sequence <= to as i64)
            {
                if !verifier.check(event) {
                    break;
                }
            }
            verifier.finish(Some((to as i64, None)))
        };
        let report = walk(3, 5, &events);
        assert!(report.ok, "{report:?}");
        assert_eq!(report.events_checked, 3);
        assert_eq!(report.last_checked, Some((5, events[4].hash.clone())));
        // An edit outside the range is not this walk's finding; one inside is.
        let mut edited = events.clone();
        edited[0].entry.caller_id = "x".into();
        assert!(walk(3, 5, &edited).ok);
        edited[3].entry.caller_id = "x".into();
        assert_eq!(walk(3, 5, &edited).first_bad_sequence, 4);
        // A range whose end was deleted.
        let mut cut = events.clone();
        cut.remove(4);
        let report = walk(3, 5, &cut);
        assert_eq!(
            (report.first_bad_sequence, report.problem),
            (5, Some(ChainProblem::Missing))
        );
    }
}
