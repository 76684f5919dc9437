//! Totals of the sales-force sheets: group subtotals, the month total out of 100, completeness,
//! and the ranks of the comparison (附表七), equal totals sharing a rank (1, 1, 3).

use std::collections::BTreeMap;

use super::factors::{FACTOR_COUNT, Group, factor};

/// The current scores of one customer in one month: factor → score.
pub type Scores = BTreeMap<i32, i32>;

/// Subtotal of each group, in group order: (group, score, most it can score).
pub fn group_subtotals(scores: &Scores) -> Vec<(Group, i32, i32)> {
    Group::ALL
        .iter()
        .map(|&group| {
            let sum = scores
                .iter()
                .filter(|(number, _)| factor(**number).map(|f| f.group) == Some(group))
                .map(|(_, score)| *score)
                .sum();
            (group, sum, group.max_score())
        })
        .collect()
}

/// 合计: the sum of the scores.
pub fn total(scores: &Scores) -> i32 {
    scores.values().sum()
}

/// Whether all 25 factors are scored.
pub fn complete(scores: &Scores) -> bool {
    scores.len() == FACTOR_COUNT
}

/// Ranks by total, highest first, from 1; equal totals share a rank and the next is skipped.
pub fn shared_ranks(totals: &[i32]) -> Vec<i32> {
    totals
        .iter()
        .map(|t| 1 + totals.iter().filter(|other| *other > t).count() as i32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_skip_the_next() {
        assert_eq!(shared_ranks(&[80, 90, 80, 70]), vec![2, 1, 2, 4]);
        assert_eq!(shared_ranks(&[50, 50, 40]), vec![1, 1, 3]);
        assert_eq!(shared_ranks(&[]), Vec::<i32>::new());
    }

    #[test]
    fn subtotals_add_up_by_group() {
        let scores: Scores = [(1, 4), (4, 3), (11, 2), (25, 1), (21, 4)]
            .into_iter()
            .collect();
        let groups = group_subtotals(&scores);
        assert_eq!(groups[0], (Group::Company, 7, 16));
        assert_eq!(groups[2], (Group::Customers, 2, 16));
        assert_eq!(groups[6], (Group::RelationToUs, 5, 20));
        assert_eq!(total(&scores), 14);
        assert!(!complete(&scores));
        let full: Scores = (1..=25).map(|f| (f, 4)).collect();
        assert!(complete(&full));
        assert_eq!(total(&full), 100);
    }
}
