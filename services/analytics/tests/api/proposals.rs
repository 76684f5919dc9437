//! Proposed scores carry their rule and inputs, and move when the inputs move: a complaint filed
//! and closed moves factor 19, a late payment settling an old debt moves factor 25.

use chrono::{TimeZone, Utc};
use dossier_analytics::store::apply::Source;
use dossier_proto::analytics::{self as pb};

use crate::fixtures::seed;
use crate::helpers::*;

async fn proposal(
    stack: &Stack,
    customer: &str,
    month: &str,
    factor: i32,
) -> Option<pb::ProposedScore> {
    let sheet = stack
        .client()
        .get_sales_force_sheet(manager(pb::GetSalesForceSheetRequest {
            customer_id: customer.into(),
            year: 2026,
        }))
        .await
        .expect("sheet")
        .into_inner();
    let found = sheet
        .proposals
        .iter()
        .find(|p| p.month == month && p.factor == factor)
        .cloned();
    if let Some(p) = &found {
        let month_index = month[5..7].parse::<usize>().expect("month") - 1;
        let cell = &sheet.rows[factor as usize - 1].cells[month_index];
        assert_eq!(cell.proposed_score, p.score, "the cell shows the proposal");
    }
    found
}

fn input<'a>(p: &'a pb::ProposedScore, name: &str) -> &'a str {
    p.inputs
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.value.as_str())
        .unwrap_or_else(|| panic!("input {name} in {:?}", p.inputs))
}

#[tokio::test]
async fn proposals_follow_their_inputs() {
    let stack = spawn_stack(true).await;
    seed(&stack).await;
    let store = store_at(&stack.analytics_db.url).await;
    stack.caught_up(&store).await;

    // 19: no complaint yet.
    let p = proposal(&stack, "c2", "2026-06", 19).await.expect("19");
    assert_eq!(
        (p.score, p.rule.as_str()),
        (4, "no complaints received → 4")
    );
    // Filed 06-01, due 06-03, unanswered on 06-15: late and open → 1.
    let at = |d: u32, h: u32| {
        Utc.with_ymd_and_hms(2026, 6, d, h, 0, 0)
            .single()
            .expect("time")
    };
    stack
        .write(
            Source::Complaints,
            vec![complaint_event("m1", "c2", at(1, 2), None, at(3, 2), false)],
        )
        .await;
    stack.caught_up(&store).await;
    let p = proposal(&stack, "c2", "2026-06", 19).await.expect("19");
    assert_eq!(p.score, 1);
    assert_eq!(input(&p, "complaints_received"), "1");
    assert_eq!(input(&p, "replied_late_or_overdue"), "1");
    assert!(p.rule.contains("1 late"), "{}", p.rule);
    // The same complaint replied on 06-02 and closed: handled on time → 4.
    stack
        .write(
            Source::Complaints,
            vec![complaint_event(
                "m1",
                "c2",
                at(1, 2),
                Some(at(2, 8)),
                at(3, 2),
                true,
            )],
        )
        .await;
    stack.caught_up(&store).await;
    let p = proposal(&stack, "c2", "2026-06", 19).await.expect("19");
    assert_eq!(p.score, 4);
    assert_eq!(input(&p, "replied_on_time"), "1");
    assert_eq!(input(&p, "complaints_open"), "0");
    // May had no complaint at all.
    assert_eq!(
        proposal(&stack, "c2", "2026-05", 19)
            .await
            .expect("19")
            .score,
        4
    );

    // 25: on 06-15 c3 owes 400 due 03-31 (76 days) and 600 due 05-25 → 2.
    let p = proposal(&stack, "c3", "2026-06", 25).await.expect("25");
    assert_eq!((p.score, input(&p, "max_days_overdue")), (2, "76"));
    assert_eq!(input(&p, "overdue_amount"), "1000.00");
    // A late payment settles the old debt: 21 days overdue left, two late payments → 3.
    stack
        .write(
            Source::Contracts,
            vec![payment_event(
                "p3",
                "c3",
                "2026-06-10",
                &[("r-d6", "400.00")],
            )],
        )
        .await;
    stack.caught_up(&store).await;
    let p = proposal(&stack, "c3", "2026-06", 25).await.expect("25");
    assert_eq!(p.score, 3);
    assert_eq!(input(&p, "max_days_overdue"), "21");
    assert_eq!(input(&p, "overdue_amount"), "600.00");
    assert_eq!(input(&p, "late_payments_12_months"), "2");
    // At the end of May, before those payments, the old debt was 61 days overdue → 2.
    assert_eq!(
        proposal(&stack, "c3", "2026-05", 25)
            .await
            .expect("25")
            .score,
        2
    );
    // No receivable before March: no proposal.
    assert!(proposal(&stack, "c3", "2026-02", 25).await.is_none());

    // 22: target 12 000 for 2026; April: 2 000 of 4 000 → 2; May: 7 000 of 5 000 → 4.
    let p = proposal(&stack, "c1", "2026-04", 22).await.expect("22");
    assert_eq!(
        (p.score, p.rule.as_str()),
        (2, "plan completion 50.00 % ≥ 50 % → 2")
    );
    let p = proposal(&stack, "c1", "2026-05", 22).await.expect("22");
    assert_eq!(
        (
            p.score,
            input(&p, "target_amount"),
            input(&p, "delivered_amount")
        ),
        (4, "5000.00", "7000.00")
    );
    // 21: no contract for 2025, no proposal.
    assert!(proposal(&stack, "c1", "2026-05", 21).await.is_none());
    // 11: deliveries without earlier ones.
    let p = proposal(&stack, "c1", "2026-05", 11).await.expect("11");
    assert_eq!(
        (p.score, input(&p, "recent_monthly_average")),
        (4, "2333.33")
    );
}
