//! Plan against done (计划 / 实施): how planned visits are counted. A planned visit counts in the
//! month of its planned date; it is *done* when a visit fills it, *on time* when that visit was
//! on or before the planned date, *missed* when its date has passed without a visit. A recorded
//! visit that fills no planned visit is *unplanned* and counts in the month it was made.

use rust_decimal::Decimal;

use super::amounts::format_decimal;

/// A dimension rows can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    /// The salesperson.
    Salesperson,
    /// The customer.
    Customer,
    /// The month.
    Month,
}

/// The counts of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Planned visits.
    pub planned: i64,
    /// Planned visits done.
    pub done: i64,
    /// Done on or before the planned date.
    pub on_time: i64,
    /// Date passed without a visit.
    pub missed: i64,
    /// Visits without a plan.
    pub unplanned: i64,
}

impl Counts {
    /// Adds `other` in.
    pub fn add(&mut self, other: &Counts) {
        self.planned += other.planned;
        self.done += other.done;
        self.on_time += other.on_time;
        self.missed += other.missed;
        self.unplanned += other.unplanned;
    }

    /// done / planned in percent with two places; `None` when nothing is planned.
    pub fn completion_percent(&self) -> Option<String> {
        if self.planned == 0 {
            return None;
        }
        let percent = Decimal::from(self.done) * Decimal::from(100) / Decimal::from(self.planned);
        Some(format_decimal(percent.round_dp(2), 2))
    }
}

/// The dimensions to group by: those asked for, or all three when none is.
pub fn grouping(asked: &[Dimension]) -> Vec<Dimension> {
    let mut dims: Vec<Dimension> = if asked.is_empty() {
        vec![
            Dimension::Salesperson,
            Dimension::Customer,
            Dimension::Month,
        ]
    } else {
        asked.to_vec()
    };
    dims.sort();
    dims.dedup();
    dims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_is_done_over_planned_in_percent() {
        let counts = Counts {
            planned: 3,
            done: 2,
            ..Counts::default()
        };
        assert_eq!(counts.completion_percent().as_deref(), Some("66.67"));
        assert_eq!(Counts::default().completion_percent(), None);
    }

    #[test]
    fn counts_add_up() {
        let mut total = Counts::default();
        total.add(&Counts {
            planned: 2,
            done: 1,
            on_time: 1,
            missed: 1,
            unplanned: 0,
        });
        total.add(&Counts {
            unplanned: 3,
            ..Counts::default()
        });
        assert_eq!((total.planned, total.unplanned, total.missed), (2, 3, 1));
    }

    #[test]
    fn grouping_defaults_to_all_three() {
        assert_eq!(grouping(&[]).len(), 3);
        assert_eq!(
            grouping(&[Dimension::Month, Dimension::Salesperson, Dimension::Month]),
            vec![Dimension::Salesperson, Dimension::Month]
        );
    }
}
