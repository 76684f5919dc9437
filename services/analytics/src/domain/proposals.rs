//! The scores the data can back (DOMAIN.md §5): factor 11 from deliveries, 19 from complaints,
//! 21 and 22 from contract targets against deliveries, 25 from payment behaviour. Each rule is a
//! pure function of its figures and returns the score, the rule in words and the figures it used,
//! so an evaluator sees why (and the same figures always give the same proposal).

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::money::{format_cents, from_cents, percent};

/// A proposed score with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Factor number.
    pub factor: i32,
    /// Score 1–4.
    pub score: i32,
    /// The rule in words.
    pub rule: String,
    /// The inputs, name → decimal string.
    pub inputs: Vec<(String, String)>,
}

fn input(name: &str, value: impl ToString) -> (String, String) {
    (name.to_owned(), value.to_string())
}

/// Factor 11 平均用量: the customer's average monthly deliveries over the three months up to the
/// month (`recent_cents`, the sum of those three months) against its monthly average over the
/// twelve months before them (`base_cents`, their sum). No deliveries in those fifteen months:
/// no proposal.
pub fn average_usage(recent_cents: i64, base_cents: i64) -> Option<Proposal> {
    if recent_cents == 0 && base_cents == 0 {
        return None;
    }
    let recent = from_cents(recent_cents) / Decimal::from(3);
    let base = from_cents(base_cents) / Decimal::from(12);
    let mut inputs = vec![
        input(
            "recent_monthly_average",
            format!("{:.2}", recent.round_dp(2)),
        ),
        input(
            "previous_monthly_average",
            format!("{:.2}", base.round_dp(2)),
        ),
    ];
    let (score, rule) = match percent(recent, base) {
        None => (4, "deliveries without earlier ones → 4".to_owned()),
        Some(ratio) => {
            inputs.push(input("usage_ratio_percent", format!("{ratio:.2}")));
            let score = if ratio >= Decimal::from(110) {
                4
            } else if ratio >= Decimal::from(90) {
                3
            } else if ratio >= Decimal::from(60) {
                2
            } else {
                1
            };
            (
                score,
                format!(
                    "usage {ratio:.2} % of the earlier average (≥ 110 % → 4, ≥ 90 % → 3, ≥ 60 % → 2, else 1) → {score}"
                ),
            )
        }
    };
    Some(Proposal {
        factor: 11,
        score,
        rule,
        inputs,
    })
}

/// What happened to the complaints received in a month, as of the month's end (or now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComplaintFigures {
    /// Complaints received in the month.
    pub received: i64,
    /// Of them, replied to by their reply deadline.
    pub replied_on_time: i64,
    /// Of them, replied after the deadline or still unreplied past it.
    pub late: i64,
    /// Of them, not closed.
    pub open: i64,
}

/// Factor 19 投诉处理: no complaint, or every one replied on time and closed → 4; all on time
/// with some still open → 3; at most half late → 2; else 1.
pub fn complaint_handling(f: ComplaintFigures) -> Proposal {
    let score = if f.received == 0 || (f.late == 0 && f.open == 0) {
        4
    } else if f.late == 0 {
        3
    } else if f.late * 2 <= f.received {
        2
    } else {
        1
    };
    let rule = if f.received == 0 {
        "no complaints received → 4".to_owned()
    } else {
        format!(
            "{} received, {} late, {} open (none late and all closed → 4, none late → 3, at most half late → 2, else 1) → {score}",
            f.received, f.late, f.open
        )
    };
    Proposal {
        factor: 19,
        score,
        rule,
        inputs: vec![
            input("complaints_received", f.received),
            input("replied_on_time", f.replied_on_time),
            input("replied_late_or_overdue", f.late),
            input("complaints_open", f.open),
        ],
    }
}

/// Factors 21 上年计划完成 and 22 本年计划完成: deliveries against the contracts' target. No
/// target: no proposal. ≥ 90 % → 4, ≥ 75 % → 3, ≥ 50 % → 2, else 1.
pub fn plan_completion(factor: i32, target_cents: i64, delivered_cents: i64) -> Option<Proposal> {
    if target_cents <= 0 {
        return None;
    }
    let completion = percent(from_cents(delivered_cents), from_cents(target_cents))?;
    let (score, bound) = if completion >= Decimal::from(90) {
        (4, "≥ 90 %")
    } else if completion >= Decimal::from(75) {
        (3, "≥ 75 %")
    } else if completion >= Decimal::from(50) {
        (2, "≥ 50 %")
    } else {
        (1, "< 50 %")
    };
    Some(Proposal {
        factor,
        score,
        rule: format!("plan completion {completion:.2} % {bound} → {score}"),
        inputs: vec![
            input("target_amount", format_cents(target_cents)),
            input("delivered_amount", format_cents(delivered_cents)),
            input("plan_completion_percent", format!("{completion:.2}")),
        ],
    })
}

/// Payment behaviour of a customer as of a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditFigures {
    /// Receivables issued up to the day.
    pub receivables: i64,
    /// Open amount.
    pub open_cents: i64,
    /// Open amount past its due date.
    pub overdue_cents: i64,
    /// Days the oldest overdue receivable is past due (0 when none).
    pub max_days_overdue: i64,
    /// Payments applied in the twelve months to the day after their receivable's due date.
    pub late_payments: i64,
}

/// Factor 25 信用度: nothing overdue and no late payment in twelve months → 4; overdue at most
/// 30 days (or only late payments) → 3; at most 90 days → 2; longer → 1. No receivable: no
/// proposal.
pub fn creditworthiness(f: CreditFigures) -> Option<Proposal> {
    if f.receivables == 0 {
        return None;
    }
    let score = credit_score(f.max_days_overdue, f.late_payments);
    Some(Proposal {
        factor: 25,
        score,
        rule: format!(
            "{} days overdue, {} late payments in 12 months (none → 4, ≤ 30 days → 3, ≤ 90 days → 2, else 1) → {score}",
            f.max_days_overdue, f.late_payments
        ),
        inputs: vec![
            input("open_amount", format_cents(f.open_cents)),
            input("overdue_amount", format_cents(f.overdue_cents)),
            input("max_days_overdue", f.max_days_overdue),
            input("late_payments_12_months", f.late_payments),
        ],
    })
}

/// Days overdue closing the bands of the creditworthiness rule: up to 30 days → 3, up to 90 → 2.
pub const CREDIT_BANDS_DAYS: [i64; 2] = [30, 90];

/// The credit score of the creditworthiness rule. Without late payments it is also the credit
/// rating of the credit composition (4 = A … 1 = D), which the store evaluates in SQL with
/// [`CREDIT_BANDS_DAYS`].
pub fn credit_score(max_days_overdue: i64, late_payments: i64) -> i32 {
    if max_days_overdue <= 0 && late_payments == 0 {
        4
    } else if max_days_overdue <= CREDIT_BANDS_DAYS[0] {
        3
    } else if max_days_overdue <= CREDIT_BANDS_DAYS[1] {
        2
    } else {
        1
    }
}

/// A receivable as the read model knows it (one per delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receivable {
    /// Its id.
    pub id: String,
    /// Day of the delivery that raised it.
    pub issued: NaiveDate,
    /// Due day.
    pub due: NaiveDate,
    /// Amount.
    pub amount_cents: i64,
}

/// A payment (or early-payment discount) applied to a receivable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The receivable.
    pub receivable_id: String,
    /// Day the payment was received.
    pub received: NaiveDate,
    /// Amount settled.
    pub amount_cents: i64,
}

/// The payment behaviour of a customer as of `as_of`, from its receivables and settlements.
pub fn credit_figures(
    receivables: &[Receivable],
    settlements: &[Settlement],
    as_of: NaiveDate,
) -> CreditFigures {
    let mut figures = CreditFigures::default();
    let year_before = as_of - chrono::Duration::days(365);
    for r in receivables.iter().filter(|r| r.issued <= as_of) {
        figures.receivables += 1;
        let paid: i64 = settlements
            .iter()
            .filter(|s| s.receivable_id == r.id && s.received <= as_of)
            .map(|s| s.amount_cents)
            .sum();
        let open = (r.amount_cents - paid).max(0);
        figures.open_cents += open;
        if open > 0 && r.due < as_of {
            figures.overdue_cents += open;
            figures.max_days_overdue = figures.max_days_overdue.max((as_of - r.due).num_days());
        }
        figures.late_payments += settlements
            .iter()
            .filter(|s| {
                s.receivable_id == r.id
                    && s.received > r.due
                    && s.received > year_before
                    && s.received <= as_of
            })
            .count() as i64;
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_compares_recent_months_with_the_year_before() {
        assert_eq!(average_usage(0, 0), None);
        // 3 × 100 recent against 12 × 100 before: 100 % → 3.
        let p = average_usage(30_000, 120_000).expect("proposal");
        assert_eq!(p.score, 3);
        assert!(
            p.inputs
                .contains(&("usage_ratio_percent".into(), "100.00".into()))
        );
        assert_eq!(average_usage(33_000, 120_000).map(|p| p.score), Some(4));
        assert_eq!(average_usage(18_000, 120_000).map(|p| p.score), Some(2));
        assert_eq!(average_usage(17_900, 120_000).map(|p| p.score), Some(1));
        assert_eq!(average_usage(1, 0).map(|p| p.score), Some(4));
    }

    #[test]
    fn complaints_lower_the_handling_score() {
        let f = |received, late, open| ComplaintFigures {
            received,
            replied_on_time: received - late,
            late,
            open,
        };
        assert_eq!(complaint_handling(f(0, 0, 0)).score, 4);
        assert_eq!(complaint_handling(f(2, 0, 0)).score, 4);
        assert_eq!(complaint_handling(f(2, 0, 1)).score, 3);
        assert_eq!(complaint_handling(f(2, 1, 1)).score, 2);
        assert_eq!(complaint_handling(f(3, 2, 0)).score, 1);
    }

    #[test]
    fn plan_completion_bands() {
        assert_eq!(plan_completion(22, 0, 100), None);
        let p = plan_completion(22, 100_000, 96_500).expect("proposal");
        assert_eq!(p.score, 4);
        assert_eq!(p.rule, "plan completion 96.50 % ≥ 90 % → 4");
        assert_eq!(
            plan_completion(21, 100_000, 89_990).map(|p| p.score),
            Some(3)
        );
        assert_eq!(
            plan_completion(21, 100_000, 50_000).map(|p| p.score),
            Some(2)
        );
        assert_eq!(plan_completion(21, 100_000, 0).map(|p| p.score), Some(1));
    }

    #[test]
    fn credit_follows_days_overdue_and_late_payments() {
        let f = |days, late| CreditFigures {
            receivables: 1,
            open_cents: 100,
            overdue_cents: if days > 0 { 100 } else { 0 },
            max_days_overdue: days,
            late_payments: late,
        };
        assert_eq!(creditworthiness(CreditFigures::default()), None);
        assert_eq!(creditworthiness(f(0, 0)).map(|p| p.score), Some(4));
        assert_eq!(creditworthiness(f(0, 1)).map(|p| p.score), Some(3));
        assert_eq!(creditworthiness(f(30, 0)).map(|p| p.score), Some(3));
        assert_eq!(creditworthiness(f(31, 0)).map(|p| p.score), Some(2));
        assert_eq!(creditworthiness(f(91, 0)).map(|p| p.score), Some(1));
    }

    #[test]
    fn credit_figures_as_of_a_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let receivables = vec![
            Receivable {
                id: "r1".into(),
                issued: d("2026-01-10"),
                due: d("2026-02-10"),
                amount_cents: 10_000,
            },
            Receivable {
                id: "r2".into(),
                issued: d("2026-03-01"),
                due: d("2026-04-01"),
                amount_cents: 5_000,
            },
        ];
        let settlements = vec![
            Settlement {
                receivable_id: "r1".into(),
                received: d("2026-02-20"),
                amount_cents: 4_000,
            },
            Settlement {
                receivable_id: "r1".into(),
                received: d("2026-03-20"),
                amount_cents: 6_000,
            },
        ];
        // 2026-03-12: r1 has 6 000 open, 30 days past due; r2 open, not yet due.
        let f = credit_figures(&receivables, &settlements, d("2026-03-12"));
        assert_eq!(
            (
                f.receivables,
                f.open_cents,
                f.overdue_cents,
                f.max_days_overdue,
                f.late_payments
            ),
            (2, 11_000, 6_000, 30, 1)
        );
        // 2026-03-31: r1 settled (two late payments), r2 not yet due.
        let f = credit_figures(&receivables, &settlements, d("2026-03-31"));
        assert_eq!(
            (
                f.open_cents,
                f.overdue_cents,
                f.max_days_overdue,
                f.late_payments
            ),
            (5_000, 0, 0, 2)
        );
        assert_eq!(creditworthiness(f).map(|p| p.score), Some(3));
        // Before the first delivery: nothing to judge.
        assert_eq!(
            credit_figures(&receivables, &settlements, d("2026-01-01")).receivables,
            0
        );
    }
}
