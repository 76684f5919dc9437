//! The gRPC face of analytics: requests are authenticated (by the kit's interceptor), authorised,
//! parsed into domain values, answered from the read model, and every failure is a [`Problem`]
//! turned into a status in one place. The exports build the same answers as the reads, mask them
//! for the caller as the gateway masks a read, and lay them out as workbooks.

mod build;

use std::collections::BTreeMap;

use dossier_kit::auth::Caller;
use dossier_kit::clock::SharedClock;
use dossier_kit::status::reply;
use dossier_kit::{Problem, query_key};
use dossier_masking::{Masker, Relation, author_relation, team_scope_relation};
use dossier_proto::analytics::analytics_service_server::AnalyticsService;
use dossier_proto::analytics::{self as pb};
use tonic::{Request, Response, Status};

use crate::domain::abc::Thresholds;
use crate::domain::policy::{Operation, authorize};
use crate::export;
use crate::feed::LagBoard;
use crate::store::Store;

/// What the service is made of.
pub struct Parts {
    /// The read model and the scores.
    pub store: Store,
    /// The clock (a manual one in tests).
    pub clock: SharedClock,
    /// The consumers' states.
    pub board: LagBoard,
    /// Default ABC thresholds.
    pub thresholds: Thresholds,
    /// Local time's offset from UTC in minutes.
    pub utc_offset_minutes: i32,
}

/// The AnalyticsService implementation.
#[derive(Clone)]
pub struct AnalyticsApi {
    store: Store,
    clock: SharedClock,
    board: LagBoard,
    thresholds: Thresholds,
    utc_offset_minutes: i32,
    masker: std::sync::Arc<Masker>,
}

type Reply<T> = Result<Response<T>, Status>;

/// The content type of the exports.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl AnalyticsApi {
    /// The service over its parts.
    pub fn new(parts: Parts) -> Self {
        Self {
            store: parts.store,
            clock: parts.clock,
            board: parts.board,
            thresholds: parts.thresholds,
            utc_offset_minutes: parts.utc_offset_minutes,
            masker: std::sync::Arc::new(Masker::new()),
        }
    }

    fn open<T>(request: Request<T>, operation: Operation) -> Result<(Caller, T), Problem> {
        let caller = dossier_kit::server::caller(&request)?;
        authorize(&caller, operation)?;
        Ok((caller, request.into_inner()))
    }

    /// `message` masked for `caller` as the gateway masks a read: each customer's fields by the
    /// caller's relation to it (owner, team, other), the rest as for `top_customer`, or for an
    /// aggregate limited to one team (`team_scope`, empty for all teams) as for that team.
    async fn mask<M: prost::Message + prost::Name + Default>(
        &self,
        caller: &Caller,
        message: &M,
        customer_ids: Vec<String>,
        top_customer: Option<&str>,
        team_scope: &str,
    ) -> Result<M, Problem> {
        let known = self.store.customers(&customer_ids).await?;
        let relations: BTreeMap<String, Relation> = known
            .into_iter()
            // A customer stands to the caller as its owner and team do (the read model knows no
            // borrows: those are the gateway's).
            .map(|(id, info)| {
                let relation = author_relation(caller, &info.owner_id, &info.team);
                (id, relation)
            })
            .collect();
        let relation_of = |id: &str| relations.get(id).copied().unwrap_or(Relation::Other);
        let top = match top_customer {
            Some(id) => relation_of(id),
            None => team_scope_relation(caller, team_scope),
        };
        let (masked, _) = self
            .masker
            .mask_generated(message, caller, &relation_of, top)
            .map_err(Problem::internal)?;
        Ok(masked)
    }
}

fn file(content: Vec<u8>, name: String) -> (Vec<u8>, String, String) {
    (content, name, XLSX.to_owned())
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn list_sales_force_factors(
        &self,
        request: Request<pb::ListSalesForceFactorsRequest>,
    ) -> Reply<pb::ListSalesForceFactorsResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                let page =
                    dossier_kit::paging::Page::parse(r.page_size, &r.page_token, &query_key!(r))?;
                Ok(build::factors_page(page))
            }
            .await,
        )
    }

    async fn score_sales_force(
        &self,
        request: Request<pb::ScoreSalesForceRequest>,
    ) -> Reply<pb::MonthlyScorecard> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Score)?;
                self.score(&caller, r).await
            }
            .await,
        )
    }

    async fn get_sales_force_sheet(
        &self,
        request: Request<pb::GetSalesForceSheetRequest>,
    ) -> Reply<pb::GetSalesForceSheetResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.sheet(&r).await
            }
            .await,
        )
    }

    async fn compare_sales_force(
        &self,
        request: Request<pb::CompareSalesForceRequest>,
    ) -> Reply<pb::CompareSalesForceResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.compare(&r).await
            }
            .await,
        )
    }

    async fn get_composition(
        &self,
        request: Request<pb::GetCompositionRequest>,
    ) -> Reply<pb::GetCompositionResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.composition(&r).await
            }
            .await,
        )
    }

    async fn classify_customers(
        &self,
        request: Request<pb::ClassifyCustomersRequest>,
    ) -> Reply<pb::ClassifyCustomersResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.classify(&r, false).await
            }
            .await,
        )
    }

    async fn get_key_customer_sales(
        &self,
        request: Request<pb::GetKeyCustomerSalesRequest>,
    ) -> Reply<pb::GetKeyCustomerSalesResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.key_sales(&r, false).await
            }
            .await,
        )
    }

    async fn get_salesperson_performance(
        &self,
        request: Request<pb::GetSalespersonPerformanceRequest>,
    ) -> Reply<pb::GetSalespersonPerformanceResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.performance(&r).await
            }
            .await,
        )
    }

    async fn get_dashboard(
        &self,
        request: Request<pb::GetDashboardRequest>,
    ) -> Reply<pb::GetDashboardResponse> {
        reply(
            async {
                let (_, r) = Self::open(request, Operation::Read)?;
                self.dashboard(&r).await
            }
            .await,
        )
    }

    async fn export_sales_force_sheet(
        &self,
        request: Request<pb::ExportSalesForceSheetRequest>,
    ) -> Reply<pb::ExportSalesForceSheetResponse> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Read)?;
                let query = r.query.unwrap_or_default();
                let sheet = self.sheet(&query).await?;
                let id = sheet.customer_id.clone();
                let sheet = self
                    .mask(&caller, &sheet, vec![id.clone()], Some(&id), "")
                    .await?;
                let (content, file_name, content_type) = file(
                    export::sheet(&sheet)?,
                    format!(
                        "附表六_客户综合销售力分析表_{}_{}.xlsx",
                        sheet.customer_id, sheet.year
                    ),
                );
                Ok(pb::ExportSalesForceSheetResponse {
                    content,
                    file_name,
                    content_type,
                })
            }
            .await,
        )
    }

    async fn export_sales_force_comparison(
        &self,
        request: Request<pb::ExportSalesForceComparisonRequest>,
    ) -> Reply<pb::ExportSalesForceComparisonResponse> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Read)?;
                let query = r.query.unwrap_or_default();
                let comparison = self.compare(&query).await?;
                let ids = comparison
                    .customers
                    .iter()
                    .map(|c| c.customer_id.clone())
                    .collect();
                let comparison = self.mask(&caller, &comparison, ids, None, "").await?;
                let (content, file_name, content_type) = file(
                    export::comparison(&comparison)?,
                    format!("附表七_客户综合销售力对比分析表_{}.xlsx", comparison.month),
                );
                Ok(pb::ExportSalesForceComparisonResponse {
                    content,
                    file_name,
                    content_type,
                })
            }
            .await,
        )
    }

    async fn export_composition(
        &self,
        request: Request<pb::ExportCompositionRequest>,
    ) -> Reply<pb::ExportCompositionResponse> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Read)?;
                let query = r.query.unwrap_or_default();
                let composition = self.composition(&query).await?;
                let composition = self
                    .mask(&caller, &composition, vec![], None, &query.team)
                    .await?;
                let (content, file_name, content_type) = file(
                    export::composition(&composition)?,
                    format!("客户构成分析_{}.xlsx", composition.period),
                );
                Ok(pb::ExportCompositionResponse {
                    content,
                    file_name,
                    content_type,
                })
            }
            .await,
        )
    }

    async fn export_customer_classification(
        &self,
        request: Request<pb::ExportCustomerClassificationRequest>,
    ) -> Reply<pb::ExportCustomerClassificationResponse> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Read)?;
                let query = r.query.unwrap_or_default();
                let classes = self.classify(&query, true).await?;
                let ids = classes
                    .customers
                    .iter()
                    .map(|c| c.customer_id.clone())
                    .collect();
                let classes = self.mask(&caller, &classes, ids, None, "").await?;
                let (content, file_name, content_type) = file(
                    export::classification(&classes)?,
                    format!("客户ABC分类_{}.xlsx", classes.period),
                );
                Ok(pb::ExportCustomerClassificationResponse {
                    content,
                    file_name,
                    content_type,
                    rows: classes.customers.len() as i32,
                })
            }
            .await,
        )
    }

    async fn export_key_customer_sales(
        &self,
        request: Request<pb::ExportKeyCustomerSalesRequest>,
    ) -> Reply<pb::ExportKeyCustomerSalesResponse> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Read)?;
                let query = r.query.unwrap_or_default();
                let sales = self.key_sales(&query, true).await?;
                let ids = sales.rows.iter().map(|c| c.customer_id.clone()).collect();
                let sales = self.mask(&caller, &sales, ids, None, "").await?;
                let (content, file_name, content_type) = file(
                    export::key_sales(&sales)?,
                    format!("重点客户销量统计表_{}.xlsx", sales.month),
                );
                Ok(pb::ExportKeyCustomerSalesResponse {
                    content,
                    file_name,
                    content_type,
                    rows: sales.rows.len() as i32,
                })
            }
            .await,
        )
    }

    async fn export_salesperson_performance(
        &self,
        request: Request<pb::ExportSalespersonPerformanceRequest>,
    ) -> Reply<pb::ExportSalespersonPerformanceResponse> {
        reply(
            async {
                let (caller, r) = Self::open(request, Operation::Read)?;
                let query = r.query.unwrap_or_default();
                let performance = self.performance(&query).await?;
                let performance = self
                    .mask(&caller, &performance, vec![], None, &query.team)
                    .await?;
                let (content, file_name, content_type) = file(
                    export::performance(&performance)?,
                    format!("业务员业绩_{}.xlsx", performance.period),
                );
                Ok(pb::ExportSalespersonPerformanceResponse {
                    content,
                    file_name,
                    content_type,
                    rows: performance.rows.len() as i32,
                })
            }
            .await,
        )
    }

    async fn get_feed_lag(
        &self,
        request: Request<pb::GetFeedLagRequest>,
    ) -> Reply<pb::GetFeedLagResponse> {
        reply(
            async {
                let _ = Self::open(request, Operation::Read)?;
                self.feed_lag().await
            }
            .await,
        )
    }
}
