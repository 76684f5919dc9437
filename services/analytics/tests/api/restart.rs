//! Consumers killed at random points while the sources are written to: afterwards the read
//! model equals one rebuilt from zero and the figures a hand computation gives — nothing lost,
//! nothing counted twice. One source is restarted on the way (the consumer reconnects).

use std::collections::BTreeMap;
use std::time::Duration;

use dossier_analytics::domain::abc::Thresholds;
use dossier_analytics::domain::period::Period;
use dossier_analytics::feed::{self, LagBoard};
use dossier_analytics::store::Store;
use dossier_analytics::store::apply::Source;
use dossier_kit::outbox::NewEvent;
use dossier_testkit::TestDb;

use crate::helpers::*;

/// A small deterministic generator (no dependency for one test).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What the writers wrote, last state per record: the hand computation.
#[derive(Default)]
struct Written {
    deliveries: BTreeMap<String, (String, i64)>, // id → (customer, cents)
    payments: BTreeMap<String, i64>,             // id → cents
    complaints: BTreeMap<String, bool>,          // id → closed
    grades: BTreeMap<String, i32>,               // customer → grade
}

fn cents_text(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// Writes `rounds` batches of random events to `which`, recording them in `written`.
async fn writer(
    stack: &Stack,
    which: Source,
    seed: u64,
    rounds: usize,
    written: &std::sync::Mutex<Written>,
) {
    let mut rng = Rng(seed);
    let running = stack.source(which);
    let (conn, outbox) = (running.conn.clone(), running.outbox.clone());
    for _ in 0..rounds {
        let mut events: Vec<NewEvent> = Vec::new();
        for _ in 0..=rng.next(20) {
            let mut w = written.lock().expect("lock");
            match which {
                Source::Customers => {
                    let id = format!("c{}", rng.next(30));
                    let grade = rng.next(4) as i32 + 1;
                    let region = ["华东/上海", "华北/北京", "华南/广州"][rng.next(3) as usize];
                    w.grades.insert(id.clone(), grade);
                    let owner = format!("rep-{}", rng.next(3));
                    events.push(customer_event(
                        &id,
                        &format!("公司{id}"),
                        grade,
                        region,
                        &owner,
                        "east",
                        rng.next(2) == 0,
                    ));
                }
                Source::Contracts => {
                    if w.deliveries.is_empty() || rng.next(10) < 7 {
                        let id = format!("d{}", w.deliveries.len() + w.payments.len());
                        let customer = format!("c{}", rng.next(30));
                        let cents = rng.next(1_000_000) as i64 + 100;
                        let day = format!("2026-0{}-{:02}", rng.next(5) + 1, rng.next(28) + 1);
                        let product = ["钢材", "水泥", "木材"][rng.next(3) as usize];
                        w.deliveries.insert(id.clone(), (customer.clone(), cents));
                        events.push(delivery_event(
                            &id,
                            &customer,
                            &day,
                            product,
                            &cents_text(cents),
                            "2026-06-30",
                        ));
                    } else {
                        let pick = rng.next(w.deliveries.len() as u64) as usize;
                        let (receivable, (customer, amount)) = w
                            .deliveries
                            .iter()
                            .nth(pick)
                            .map(|(k, v)| (format!("r-{k}"), v.clone()))
                            .expect("a delivery");
                        let paid = (amount / 2).max(1);
                        let id = format!("p{}", w.deliveries.len() + w.payments.len());
                        w.payments.insert(id.clone(), paid);
                        events.push(payment_event(
                            &id,
                            &customer,
                            "2026-06-01",
                            &[(&receivable, &cents_text(paid))],
                        ));
                    }
                }
                Source::Complaints => {
                    let id = format!("m{}", rng.next(40));
                    let closed = rng.next(2) == 0;
                    w.complaints.insert(id.clone(), closed);
                    let at = start_time() - chrono::Duration::days(rng.next(60) as i64);
                    events.push(complaint_event(
                        &id,
                        &format!("c{}", rng.next(30)),
                        at,
                        None,
                        at + chrono::Duration::days(2),
                        closed,
                    ));
                }
                Source::Visits => {
                    let id = format!("plan-{}", rng.next(5));
                    let customer = format!("c{}", rng.next(30));
                    let done = if rng.next(2) == 0 { "2026-05-11" } else { "" };
                    events.push(plan_event(
                        &id,
                        "rep-1",
                        &[(customer.as_str(), "2026-05-10", done)],
                    ));
                }
            }
        }
        write(&conn, &outbox, events, start_time()).await;
        tokio::time::sleep(Duration::from_millis(rng.next(15))).await;
    }
}

/// The consumers of the four feeds; they stop when aborted. (A dropped trigger counts as fired,
/// so the test keeps it.)
fn spawn_consumers(
    stack: &Stack,
    store: &Store,
    shutdown: &dossier_kit::server::ShutdownSignal,
) -> Vec<tokio::task::JoinHandle<()>> {
    stack
        .feeds()
        .into_iter()
        .map(|f| {
            feed::spawn(
                store.clone(),
                f,
                LagBoard::default(),
                std::sync::Arc::new(stack.clock.clone()),
                shutdown.clone(),
            )
        })
        .collect()
}

/// Every row of the read model, as text lines, table by table.
async fn dump(store: &Store) -> BTreeMap<&'static str, Vec<String>> {
    let tables: [(&str, &[&str]); 8] = [
        (
            "rm_customers",
            &[
                "id",
                "name",
                "grade",
                "region",
                "owner_id",
                "team",
                "trade_standing",
                "state",
            ],
        ),
        (
            "rm_contracts",
            &["id", "customer_id", "target_year", "total_cents", "status"],
        ),
        (
            "rm_deliveries",
            &[
                "id",
                "customer_id",
                "delivery_date",
                "product",
                "amount_cents",
                "receivable_id",
                "due_date",
            ],
        ),
        (
            "rm_payments",
            &["id", "customer_id", "received_date", "amount_cents"],
        ),
        (
            "rm_allocations",
            &["payment_id", "receivable_id", "amount_cents"],
        ),
        ("rm_visits", &["id", "customer_id"]),
        (
            "rm_planned_visits",
            &[
                "plan_id",
                "customer_id",
                "number",
                "planned_date",
                "actual_date",
            ],
        ),
        (
            "rm_complaints",
            &[
                "id",
                "customer_id",
                "complaint_at",
                "reply_at",
                "reply_due_at",
                "closed",
                "state",
            ],
        ),
    ];
    let mut out = BTreeMap::new();
    for (table, columns) in tables {
        let line = columns
            .iter()
            .map(|c| format!("COALESCE(CAST({c} AS TEXT), '-')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows = store
            .rows(
                &format!("SELECT {line} AS line FROM {table} ORDER BY 1"),
                vec![],
            )
            .await
            .expect("dump");
        out.insert(
            table,
            rows.iter()
                .map(|r| r.try_get::<String>("", "line").expect("line"))
                .collect(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_consumers_lose_nothing_and_count_nothing_twice() {
    let mut stack = spawn_stack(false).await;
    let (_trigger, shutdown) = dossier_kit::server::shutdown_pair();
    let killed_db = TestDb::new().await;
    let killed = store_at(&killed_db.url).await;
    let written = std::sync::Mutex::new(Written::default());

    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        tokio::join!(
            writer(&stack, Source::Customers, 1, 40, &written),
            writer(&stack, Source::Contracts, 2, 120, &written),
            writer(&stack, Source::Complaints, 3, 40, &written),
            writer(&stack, Source::Visits, 4, 30, &written),
        );
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let killer = async {
        let mut rng = Rng(99);
        let mut kills = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let consumers = spawn_consumers(&stack, &killed, &shutdown);
            tokio::time::sleep(Duration::from_millis(rng.next(120) + 5)).await;
            // Abort at an arbitrary await: mid-batch, mid-transaction or idle.
            for c in &consumers {
                c.abort();
            }
            for c in consumers {
                let _ = c.await;
            }
            kills += 1;
        }
        kills
    };
    let ((), kills) = tokio::join!(writers, killer);
    assert!(kills > 5, "consumers were killed {kills} times");
    eprintln!("consumers killed {kills} times while the sources were written to");

    // A source restarts; a consumer started before follows it through the restart.
    let consumers = spawn_consumers(&stack, &killed, &shutdown);
    stack.restart(Source::Complaints).await;
    stack
        .write(
            Source::Complaints,
            vec![complaint_event(
                "m-after",
                "c1",
                start_time(),
                None,
                start_time(),
                false,
            )],
        )
        .await;
    written
        .lock()
        .expect("lock")
        .complaints
        .insert("m-after".into(), false);
    stack.caught_up(&killed).await;
    for c in consumers {
        c.abort();
    }

    // A fresh database catches up from zero.
    let fresh_db = TestDb::new().await;
    let fresh = store_at(&fresh_db.url).await;
    let consumers = spawn_consumers(&stack, &fresh, &shutdown);
    stack.caught_up(&fresh).await;
    for c in consumers {
        c.abort();
    }

    let (a, b) = (dump(&killed).await, dump(&fresh).await);
    for (table, rows) in &a {
        assert_eq!(rows, &b[table], "{table} differs from the rebuild");
    }

    // The hand computation.
    let w = std::mem::take(&mut *written.lock().expect("lock"));
    assert_eq!(a["rm_deliveries"].len(), w.deliveries.len());
    assert_eq!(a["rm_payments"].len(), w.payments.len());
    assert_eq!(a["rm_complaints"].len(), w.complaints.len());
    assert_eq!(a["rm_customers"].len(), w.grades.len());
    let mut by_customer: BTreeMap<String, i64> = BTreeMap::new();
    for (customer, cents) in w.deliveries.values() {
        *by_customer.entry(customer.clone()).or_default() += cents;
    }
    let year = Period::parse("2026").expect("period");
    let thresholds = Thresholds {
        a_basis_points: 8000,
        b_basis_points: 9500,
    };
    for store in [&killed, &fresh] {
        let c = store
            .classify(year, thresholds, false, 1000, 0)
            .await
            .expect("classify");
        let got: BTreeMap<String, i64> = c
            .rows
            .iter()
            .map(|r| (r.customer_id.clone(), r.sales))
            .collect();
        assert_eq!(got, by_customer);
        assert_eq!(c.total, by_customer.values().sum::<i64>());
        let grades = store
            .sales_composition(
                dossier_analytics::store::reports::Breakdown::Grade,
                year,
                "",
            )
            .await
            .expect("composition");
        let mut expected: BTreeMap<String, i64> = BTreeMap::new();
        for (customer, cents) in w.deliveries.values() {
            let grade = w.grades.get(customer).copied().unwrap_or(0);
            *expected.entry(grade.to_string()).or_default() += cents;
        }
        let got: BTreeMap<String, i64> = grades.into_iter().map(|s| (s.key, s.amount)).collect();
        assert_eq!(got, expected);
    }
    let open = a["rm_complaints"]
        .iter()
        .filter(|l| l.ends_with("|0|1"))
        .count();
    assert_eq!(
        open,
        w.complaints.values().filter(|closed| !**closed).count()
    );
}
