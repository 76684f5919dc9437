//! The 25 factors of the sales-force analysis (附表六 客户综合销售力分析表) in their seven groups, and
//! the validation of entered scores.

use std::collections::BTreeSet;

use dossier_kit::Violations;

/// The seven groups, numbered as the proto's `FactorGroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// 公司 the company.
    Company = 1,
    /// 业务员 its salesforce.
    Salesforce = 2,
    /// 客户 its customers.
    Customers = 3,
    /// 促销 promotion.
    Promotion = 4,
    /// 公共关系 public relations.
    PublicRelations = 5,
    /// 售后服务 after-sales service.
    AfterSales = 6,
    /// 与本公司关系 relation to us.
    RelationToUs = 7,
}

impl Group {
    /// Every group, in form order.
    pub const ALL: [Group; 7] = [
        Group::Company,
        Group::Salesforce,
        Group::Customers,
        Group::Promotion,
        Group::PublicRelations,
        Group::AfterSales,
        Group::RelationToUs,
    ];

    /// The group's name on the form.
    pub fn name_zh(self) -> &'static str {
        match self {
            Group::Company => "公司",
            Group::Salesforce => "业务员",
            Group::Customers => "客户",
            Group::Promotion => "促销",
            Group::PublicRelations => "公共关系",
            Group::AfterSales => "售后服务",
            Group::RelationToUs => "与本公司关系",
        }
    }

    /// The factors of the group.
    pub fn factors(self) -> impl Iterator<Item = &'static Factor> {
        FACTORS.iter().filter(move |f| f.group == self)
    }

    /// Most the group can score in a month (4 per factor).
    pub fn max_score(self) -> i32 {
        self.factors().count() as i32 * MAX_SCORE
    }
}

/// One factor of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factor {
    /// Number 1–25.
    pub number: i32,
    /// Its group.
    pub group: Group,
    /// Name on the form.
    pub name_zh: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Whether the service proposes a score from data.
    pub proposed_from_data: bool,
}

const fn f(
    number: i32,
    group: Group,
    name_zh: &'static str,
    name_en: &'static str,
    proposed_from_data: bool,
) -> Factor {
    Factor {
        number,
        group,
        name_zh,
        name_en,
        proposed_from_data,
    }
}

/// Lowest score.
pub const MIN_SCORE: i32 = 1;
/// Highest score.
pub const MAX_SCORE: i32 = 4;
/// Number of factors.
pub const FACTOR_COUNT: usize = 25;

/// The catalogue, by number (DOMAIN.md §5).
pub const FACTORS: [Factor; FACTOR_COUNT] = [
    f(1, Group::Company, "公司体制", "structure", false),
    f(2, Group::Company, "销售管理", "sales_management", false),
    f(3, Group::Company, "人事制度", "hr_system", false),
    f(4, Group::Company, "员工培训", "training", false),
    f(5, Group::Salesforce, "数量", "headcount", false),
    f(6, Group::Salesforce, "业务素质", "quality", false),
    f(7, Group::Salesforce, "人均销售额", "sales_per_head", false),
    f(8, Group::Customers, "数量", "number", false),
    f(9, Group::Customers, "水平", "level", false),
    f(10, Group::Customers, "客情", "relationship", false),
    f(11, Group::Customers, "平均用量", "average_usage", true),
    f(12, Group::Promotion, "方式技巧", "methods", false),
    f(13, Group::Promotion, "广告宣传", "advertising", false),
    f(14, Group::Promotion, "企业形象", "image", false),
    f(15, Group::PublicRelations, "政府", "government", false),
    f(16, Group::PublicRelations, "媒体", "media", false),
    f(17, Group::AfterSales, "库存管理", "inventory", false),
    f(18, Group::AfterSales, "配货能力", "distribution", false),
    f(
        19,
        Group::AfterSales,
        "投诉处理",
        "complaint_handling",
        true,
    ),
    f(
        20,
        Group::AfterSales,
        "技术服务",
        "technical_service",
        false,
    ),
    f(
        21,
        Group::RelationToUs,
        "上年计划完成",
        "last_year_plan_completion",
        true,
    ),
    f(
        22,
        Group::RelationToUs,
        "本年计划完成",
        "this_year_plan_completion",
        true,
    ),
    f(
        23,
        Group::RelationToUs,
        "代理市场占有率",
        "market_share_as_agent",
        false,
    ),
    f(
        24,
        Group::RelationToUs,
        "销售潜力",
        "sales_potential",
        false,
    ),
    f(25, Group::RelationToUs, "信用度", "creditworthiness", true),
];

/// The factor numbered `number`, if there is one.
pub fn factor(number: i32) -> Option<&'static Factor> {
    usize::try_from(number - 1)
        .ok()
        .and_then(|i| FACTORS.get(i))
}

/// The factor of the sales potential (a key-account criterion).
pub const SALES_POTENTIAL: i32 = 24;

/// One entered score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Factor 1–25.
    pub factor: i32,
    /// Score 1–4.
    pub score: i32,
    /// The evaluator's note.
    pub note: String,
}

/// Checks a set of entered scores: at least one, each factor 1–25 once, each score 1–4. Field
/// paths are `scores[i].factor` / `scores[i].score`.
pub fn validate_entries(entries: &[Entry]) -> Violations {
    let mut v = Violations::new();
    if entries.is_empty() {
        v.add("scores", "must name at least one factor");
    }
    let mut seen = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        if factor(e.factor).is_none() {
            v.add(
                format!("scores[{i}].factor"),
                format!("{} is not a factor; factors are 1 to 25", e.factor),
            );
        } else if !seen.insert(e.factor) {
            v.add(
                format!("scores[{i}].factor"),
                format!("factor {} is scored twice", e.factor),
            );
        }
        if !(MIN_SCORE..=MAX_SCORE).contains(&e.score) {
            v.add(
                format!("scores[{i}].score"),
                format!("{} is not a score; scores are 4, 3, 2 or 1", e.score),
            );
        }
        if e.note.chars().count() > 500 {
            v.add(format!("scores[{i}].note"), "is longer than 500 characters");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_hold_the_forms_factors_and_add_up_to_100() {
        let counts: Vec<usize> = Group::ALL.iter().map(|g| g.factors().count()).collect();
        assert_eq!(counts, vec![4, 3, 4, 3, 2, 4, 5]);
        let max: i32 = Group::ALL.iter().map(|g| g.max_score()).sum();
        assert_eq!(max, 100);
        for (i, f) in FACTORS.iter().enumerate() {
            assert_eq!(f.number as usize, i + 1);
        }
        let proposed: Vec<i32> = FACTORS
            .iter()
            .filter(|f| f.proposed_from_data)
            .map(|f| f.number)
            .collect();
        assert_eq!(proposed, vec![11, 19, 21, 22, 25]);
    }

    #[test]
    fn entries_outside_the_scale_are_named() {
        let e = |factor, score| Entry {
            factor,
            score,
            note: String::new(),
        };
        assert!(validate_entries(&[e(1, 4), e(25, 1)]).is_empty());
        let v = validate_entries(&[e(0, 4), e(26, 3), e(3, 5), e(3, 0), e(7, 2)]);
        let fields: Vec<&str> = v.list().iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "scores[0].factor",
                "scores[1].factor",
                "scores[2].score",
                "scores[3].factor",
                "scores[3].score"
            ]
        );
        assert!(!validate_entries(&[]).is_empty());
    }
}
