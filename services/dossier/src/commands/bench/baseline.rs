//! The two baselines, each a bare tonic server that answers only
//! `/dossier.customer.v1.CustomerService/GetCustomer` (every other method is UNIMPLEMENTED):
//! the echo returns a prebuilt customer (the ceiling of gRPC on this machine), the bare read
//! fetches the customer, stored as protobuf bytes, with one primary-key `SELECT` through raw
//! sqlx. Neither has authentication, deadlines, limits, gRPC-Web or health; that is the point.

use std::convert::Infallible;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_proto::customer::{Customer, GetCustomerRequest};
use futures::future::BoxFuture;
use prost::Message;
use sea_orm::sqlx::postgres::{PgPool, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::sqlx::{self, AssertSqlSafe};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use tonic::{Response, Status};

/// The one method the baselines serve.
const GET_CUSTOMER_PATH: &str = "/dossier.customer.v1.CustomerService/GetCustomer";

/// What a baseline does with a `GetCustomer` request.
pub type Handler =
    Arc<dyn Fn(GetCustomerRequest) -> BoxFuture<'static, Result<Customer, Status>> + Send + Sync>;

/// A tower service that routes `GetCustomer` to a [`Handler`], the way tonic's generated
/// servers do, without the rest of the generated trait.
#[derive(Clone)]
pub struct GetCustomerOnly(Handler);

impl NamedService for GetCustomerOnly {
    const NAME: &'static str = "dossier.customer.v1.CustomerService";
}

impl tonic::codegen::Service<http::Request<Body>> for GetCustomerOnly {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let handler = self.0.clone();
        Box::pin(async move {
            if request.uri().path() != GET_CUSTOMER_PATH {
                return Ok(Status::unimplemented("only GetCustomer is served here").into_http());
            }
            let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(Unary(handler), request).await)
        })
    }
}

/// The unary method wrapped for [`Grpc::unary`].
struct Unary(Handler);

impl UnaryService<GetCustomerRequest> for Unary {
    type Response = Customer;
    type Future = BoxFuture<'static, Result<Response<Customer>, Status>>;

    fn call(&mut self, request: tonic::Request<GetCustomerRequest>) -> Self::Future {
        let reply = (self.0)(request.into_inner());
        Box::pin(async move { reply.await.map(Response::new) })
    }
}

/// The echo: always `customer`, cloned, as a real handler builds a fresh message per call.
pub fn echo(customer: Customer) -> GetCustomerOnly {
    let customer = Arc::new(customer);
    GetCustomerOnly(Arc::new(move |_request| {
        let customer = Arc::clone(&customer);
        Box::pin(async move { Ok(Customer::clone(&customer)) })
    }))
}

/// The bare read: one `SELECT body FROM bench_bare_read WHERE id = ?`, decoded into a customer.
pub fn bare_read(pool: BarePool) -> GetCustomerOnly {
    GetCustomerOnly(Arc::new(move |request| {
        let pool = pool.clone();
        Box::pin(async move {
            let body = pool
                .read(request.id)
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .ok_or_else(|| Status::not_found("no such customer"))?;
            Customer::decode(body.as_slice()).map_err(|e| Status::internal(e.to_string()))
        })
    }))
}

/// The floor under any proxy: a bare HTTP/2 hop that hands each request, untouched, to one of
/// four channels to `upstream_port` and streams the answer back. No decoding, no
/// authentication, no masking, no audit: what a gateway in front of a service costs at the
/// least, on this machine, with the gateway's own transport.
#[derive(Clone)]
pub struct PassThrough {
    channels: Arc<Vec<tonic::transport::Channel>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl PassThrough {
    /// Lazily connected channels to the service at `upstream_port`, as the gateway makes them.
    pub fn to(upstream_port: u16) -> anyhow::Result<Self> {
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{upstream_port}"))?
                .tcp_nodelay(true);
        Ok(Self {
            channels: Arc::new((0..4).map(|_| endpoint.connect_lazy()).collect()),
            next: Arc::default(),
        })
    }
}

impl NamedService for PassThrough {
    const NAME: &'static str = "dossier.customer.v1.CustomerService";
}

impl tonic::codegen::Service<http::Request<Body>> for PassThrough {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        use tower::ServiceExt as _;
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let channel = self.channels[turn % self.channels.len()].clone();
        Box::pin(async move {
            match channel.oneshot(request).await {
                Ok(response) => Ok(response.map(Body::new)),
                Err(error) => Ok(Status::unavailable(error.to_string()).into_http()),
            }
        })
    }
}

/// A raw sqlx pool over the one-table database of the bare read, sized like the service's.
#[derive(Clone)]
pub enum BarePool {
    /// SQLite: WAL, synchronous=NORMAL, 4 connections, as `dossier_kit::db::connect`.
    Sqlite(SqlitePool),
    /// PostgreSQL: 16 connections, as `dossier_kit::db::connect`.
    Postgres(PgPool),
}

impl BarePool {
    /// Connects to `url`, creates the table and stores `customer` under its id.
    pub async fn open(url: &str, customer: &Customer) -> anyhow::Result<Self> {
        let create = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(1)
                .connect_with(options)
                .await?;
            sqlx::raw_sql("CREATE TABLE bench_bare_read (id TEXT PRIMARY KEY, body BLOB NOT NULL)")
                .execute(&pool)
                .await?;
            sqlx::query("INSERT INTO bench_bare_read (id, body) VALUES (?, ?)")
                .bind(customer.id.clone())
                .bind(customer.encode_to_vec())
                .execute(&pool)
                .await?;
            BarePool::Sqlite(pool)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .min_connections(1)
                .connect(url)
                .await?;
            sqlx::raw_sql(
                "CREATE TABLE bench_bare_read (id TEXT PRIMARY KEY, body BYTEA NOT NULL)",
            )
            .execute(&pool)
            .await?;
            sqlx::query("INSERT INTO bench_bare_read (id, body) VALUES ($1, $2)")
                .bind(customer.id.clone())
                .bind(customer.encode_to_vec())
                .execute(&pool)
                .await?;
            BarePool::Postgres(pool)
        };
        Ok(create)
    }

    /// The stored body of `id`.
    async fn read(&self, id: String) -> Result<Option<Vec<u8>>, sqlx::Error> {
        match self {
            BarePool::Sqlite(pool) => {
                sqlx::query_scalar::<_, Vec<u8>>("SELECT body FROM bench_bare_read WHERE id = ?")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            BarePool::Postgres(pool) => {
                sqlx::query_scalar::<_, Vec<u8>>("SELECT body FROM bench_bare_read WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            BarePool::Sqlite(pool) => pool.close().await,
            BarePool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `sql` on a single connection to the PostgreSQL server at `admin_url` (`CREATE DATABASE`
/// and `DROP DATABASE` cannot run inside a transaction or a prepared statement).
pub async fn postgres_admin(admin_url: &str, sql: String) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut connection = sqlx::postgres::PgConnection::connect(admin_url)
        .await
        .context("cannot reach PostgreSQL at the admin URL")?;
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    Ok(())
}

/// A server running in this process on a loopback port.
pub struct Running {
    /// The bound port.
    pub port: u16,
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Wraps a spawned server and the trigger that stops it.
    pub fn new(
        port: u16,
        trigger: ShutdownTrigger,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    ) -> Self {
        Self {
            port,
            trigger,
            task,
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.trigger.fire();
        match tokio::time::timeout(Duration::from_secs(15), self.task).await {
            Ok(joined) => joined.context("server task")?,
            Err(_) => anyhow::bail!("server on port {} did not stop within 15 s", self.port),
        }
    }
}

/// Serves `service` with a plain `tonic::transport::Server` on 127.0.0.1, port 0, with
/// tonic's default socket options.
pub async fn serve<S>(service: S) -> anyhow::Result<Running>
where
    S: tonic::codegen::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into())
        .context("binding a loopback port")?
        // What `Server::serve(addr)` does by default (`tcp_nodelay(true)`); an incoming
        // stream handed to tonic keeps whatever its sockets have.
        .with_nodelay(Some(true));
    let port = incoming.local_addr()?.port();
    let (trigger, mut signal) = shutdown_pair();
    let server = tonic::transport::Server::builder()
        .add_routes(tonic::service::Routes::new(service))
        .serve_with_incoming_shutdown(incoming, async move { signal.wait().await });
    let task = tokio::spawn(async move { server.await.context("baseline server") });
    Ok(Running::new(port, trigger, task))
}
