//! The classification vocabularies of a card (客户归类, seed 001 客户分类), stored by code so the
//! database does not depend on the wire numbering. Each enum's numbers match the proto enum of the
//! same name, so the API maps them without a table.

use serde::{Deserialize, Serialize};

/// Declares a classification enum with its wire number and stored code (also used by the
/// catalogue for document categories).
macro_rules! classification_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $number:literal, $code:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $code)] $variant,)+
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value of a wire number; `Ok(None)` for 0 (unset).
            pub fn from_number(number: i32) -> Result<Option<Self>, String> {
                match number {
                    0 => Ok(None),
                    $($number => Ok(Some($name::$variant)),)+
                    other => Err(format!("{other} is not a known {}", stringify!($name))),
                }
            }

            /// The wire number.
            pub fn number(self) -> i32 {
                match self { $($name::$variant => $number,)+ }
            }

            /// The stored code, also accepted in spreadsheets.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// Parses a stored code (case-insensitive).
            pub fn from_code(code: &str) -> Option<Self> {
                let code = code.trim();
                Self::ALL.iter().copied().find(|v| v.code().eq_ignore_ascii_case(code))
            }
        }
    };
}

pub(crate) use classification_enum;

/// Number of an optional classification on the wire (0 when unset).
pub fn number_of<T: Copy>(value: Option<T>, number: impl Fn(T) -> i32) -> i32 {
    value.map(number).unwrap_or(0)
}

classification_enum! {
    /// Company or individual.
    CustomerKind {
        /// 企业客户.
        Company = 1, "company";
        /// 个人客户.
        Person = 2, "person";
    }
}

classification_enum! {
    /// 所有制.
    Ownership {
        /// 全民.
        State = 1, "state";
        /// 集体.
        Collective = 2, "collective";
        /// 个体.
        Private = 3, "private";
        /// 股份制.
        JointStock = 4, "joint_stock";
        /// 合资.
        JointVenture = 5, "joint_venture";
        /// 外资.
        Foreign = 6, "foreign";
        /// 其他.
        Other = 7, "other";
    }
}

classification_enum! {
    /// 客户类型 by nature.
    CustomerType {
        /// 政府机构.
        Government = 1, "government";
        /// 特殊公司.
        SpecialCompany = 2, "special_company";
        /// 普通公司.
        OrdinaryCompany = 3, "ordinary_company";
        /// 个人.
        Individual = 4, "individual";
        /// 交易伙伴.
        TradePartner = 5, "trade_partner";
    }
}

classification_enum! {
    /// Sales channel.
    Channel {
        /// 批发.
        Wholesale = 1, "wholesale";
        /// 零售.
        Retail = 2, "retail";
        /// 代理.
        Agent = 3, "agent";
        /// 特约.
        Appointed = 4, "appointed";
        /// 连锁.
        Chain = 5, "chain";
        /// 专营.
        Exclusive = 6, "exclusive";
    }
}

classification_enum! {
    /// 客户等级.
    Grade {
        /// A, 重要.
        A = 1, "A";
        /// B, 特殊.
        B = 2, "B";
        /// C, 一般.
        C = 3, "C";
        /// D.
        D = 4, "D";
    }
}

classification_enum! {
    /// Trade standing.
    TradeStanding {
        /// 主力.
        Key = 1, "key";
        /// 一般.
        Regular = 2, "regular";
        /// 零散.
        Occasional = 3, "occasional";
    }
}

classification_enum! {
    /// Lifecycle stage.
    Lifecycle {
        /// 准客户.
        Prospect = 1, "prospect";
        /// 新客户.
        New = 2, "new";
        /// 老客户.
        Established = 3, "established";
        /// 休眠.
        Dormant = 4, "dormant";
        /// 流失.
        Lost = 5, "lost";
    }
}

classification_enum! {
    /// Kind of location.
    LocationType {
        /// 商业中心.
        CommercialCenter = 1, "commercial_center";
        /// 交通枢纽.
        TransportHub = 2, "transport_hub";
        /// 居民区.
        Residential = 3, "residential";
        /// 其他.
        Other = 4, "other";
    }
}

classification_enum! {
    /// Sex of a person.
    Sex {
        /// Male.
        Male = 1, "male";
        /// Female.
        Female = 2, "female";
    }
}

classification_enum! {
    /// Part a person plays at the customer.
    ContactRole {
        /// 企业决策领导.
        DecisionMaker = 1, "decision_maker";
        /// 主要管理人员.
        Manager = 2, "manager";
        /// 联系人.
        Contact = 3, "contact";
    }
}

classification_enum! {
    /// State of an archive.
    CustomerState {
        /// In use.
        Active = 1, "active";
        /// Archived.
        Archived = 2, "archived";
        /// Merged into another.
        Merged = 3, "merged";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_codes_round_trip() {
        for grade in Grade::ALL {
            assert_eq!(Grade::from_number(grade.number()), Ok(Some(*grade)));
            assert_eq!(Grade::from_code(grade.code()), Some(*grade));
        }
        assert_eq!(Grade::from_number(0), Ok(None));
        assert!(Grade::from_number(9).is_err());
        assert_eq!(
            Lifecycle::from_code("Established"),
            Some(Lifecycle::Established)
        );
    }
}

classification_enum! {
    /// What kind of change produced a version of a card.
    ChangeKind {
        /// Opened.
        Created = 1, "created";
        /// Fields edited.
        Updated = 2, "updated";
        /// Reviewed.
        Reviewed = 3, "reviewed";
        /// Salesperson changed.
        Reassigned = 4, "reassigned";
        /// Archived.
        Archived = 5, "archived";
        /// Another card merged into this one.
        MergedIn = 6, "merged_in";
        /// This card merged into another.
        MergedAway = 7, "merged_away";
        /// A year closed into a volume.
        YearClosed = 8, "year_closed";
    }
}
