//! The load generator: a closed loop of `concurrency` tasks, each sending one request, awaiting
//! the reply and recording its latency, spread round-robin over `connections` HTTP/2
//! connections. Only replies that arrive inside the measurement window (after the warmup) count;
//! errors are counted over the whole run, warmup included, so none go unseen.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use dossier_customer_profile::domain::credit_code::CreditCode;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{CreateCustomerRequest, Customer, GetCustomerRequest};
use hdrhistogram::Histogram;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

/// The client every worker uses: a generated client that adds the bearer token.
pub type Client = CustomerServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer …` to every request (sent to the baselines as well, so that
/// every server receives the same bytes).
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    /// The interceptor for `token`.
    pub fn new(token: &str) -> anyhow::Result<Self> {
        Ok(Self(
            format!("Bearer {token}")
                .parse()
                .context("token is not a valid header value")?,
        ))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// Opens one HTTP/2 connection to `port` on the loopback.
pub async fn connect(port: u16) -> anyhow::Result<Channel> {
    Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot connect to 127.0.0.1:{port}"))
}

/// The request a worker repeats.
#[derive(Clone)]
pub enum Call {
    /// `GetCustomer` of one customer; a reply without `contacts` contacts counts as an error.
    Get {
        /// Customer id.
        id: String,
        /// Contacts the reply must hold.
        contacts: usize,
    },
    /// `CreateCustomer` of a new card each time: `template` with a unique name, credit code and
    /// request id.
    Create {
        /// The card to copy.
        template: Arc<Customer>,
        /// Numbers the created cards.
        next: Arc<AtomicU64>,
    },
}

impl Call {
    /// Sends the request once.
    async fn once(&self, client: &mut Client) -> Result<(), Status> {
        match self {
            Call::Get { id, contacts } => {
                let reply = client
                    .get_customer(GetCustomerRequest { id: id.clone() })
                    .await?
                    .into_inner();
                if reply.contacts.len() != *contacts {
                    return Err(Status::internal(format!(
                        "reply has {} contacts, expected {contacts}",
                        reply.contacts.len()
                    )));
                }
                Ok(())
            }
            Call::Create { template, next } => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let mut customer = Customer::clone(template);
                customer.name = format!("{}第{n}分部", template.name);
                customer.credit_code =
                    credit_code(n).ok_or_else(|| Status::internal("no credit code"))?;
                let request = CreateCustomerRequest {
                    customer: Some(customer),
                    request_id: format!("bench-{n}"),
                };
                client.create_customer(request).await.map(|_| ())
            }
        }
    }
}

/// A valid credit code numbered `n`: `91` (enterprise), division 310000, `n` as nine digits,
/// and the check character.
pub fn credit_code(n: u64) -> Option<String> {
    let mut code = format!("91310000{:09}", n % 1_000_000_000);
    code.push(CreditCode::check_char(&code)?);
    Some(code)
}

/// How long and how hard to load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Requests in flight at once (one task each).
    pub concurrency: usize,
    /// HTTP/2 connections the tasks share.
    pub connections: usize,
    /// Length of the discarded warmup.
    pub warmup: Duration,
    /// Length of the measurement window.
    pub window: Duration,
}

/// What one measurement found.
#[derive(Debug)]
pub struct Measurement {
    /// Successful replies inside the window.
    pub ok: u64,
    /// Failed requests over the whole run (warmup included).
    pub errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// Length of the window in seconds.
    pub seconds: f64,
    /// Latencies of the successful replies inside the window, in microseconds.
    pub latency: Histogram<u64>,
}

impl Measurement {
    /// Successful replies per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// Adds another measurement of the same call (another round) to this one.
    pub fn absorb(&mut self, other: Measurement) -> anyhow::Result<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.seconds += other.seconds;
        self.latency
            .add(&other.latency)
            .context("merging latency histograms")?;
        Ok(())
    }

    /// Latency at `quantile` in milliseconds (0 without samples).
    pub fn millis_at(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// What one worker found.
struct WorkerResult {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

/// Loads the server on `port` with `call` and measures it.
pub async fn measure(
    port: u16,
    bearer: &Bearer,
    call: &Call,
    load: Load,
) -> anyhow::Result<Measurement> {
    let mut channels = Vec::with_capacity(load.connections);
    for _ in 0..load.connections.max(1) {
        channels.push(connect(port).await?);
    }
    let window_start = Instant::now() + load.warmup;
    let window_end = window_start + load.window;
    let mut workers = Vec::with_capacity(load.concurrency);
    for index in 0..load.concurrency.max(1) {
        let channel = channels[index % channels.len()].clone();
        let client = CustomerServiceClient::with_interceptor(channel, bearer.clone());
        workers.push(tokio::spawn(worker(
            client,
            call.clone(),
            window_start,
            window_end,
        )));
    }
    drop(channels);
    let mut total = Measurement {
        ok: 0,
        errors: 0,
        first_error: None,
        seconds: load.window.as_secs_f64(),
        latency: new_histogram()?,
    };
    for worker in workers {
        let result = worker.await.context("a load task failed")??;
        total.ok += result.ok;
        total.errors += result.errors;
        total.first_error = total.first_error.or(result.first_error);
        total
            .latency
            .add(&result.latency)
            .context("merging latency histograms")?;
    }
    Ok(total)
}

/// Microseconds from 1 µs to 60 s, three significant digits.
fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("latency histogram")
}

/// One closed-loop task: request, await, record; until the window closes.
async fn worker(
    mut client: Client,
    call: Call,
    window_start: Instant,
    window_end: Instant,
) -> anyhow::Result<WorkerResult> {
    let mut result = WorkerResult {
        ok: 0,
        errors: 0,
        first_error: None,
        latency: new_histogram()?,
    };
    loop {
        let sent = Instant::now();
        if sent >= window_end {
            return Ok(result);
        }
        let outcome = call.once(&mut client).await;
        let received = Instant::now();
        match outcome {
            Ok(()) if received >= window_start && received < window_end => {
                result.ok += 1;
                let micros =
                    u64::try_from(received.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
                result.latency.saturating_record(micros);
            }
            Ok(()) => {}
            Err(status) => {
                result.errors += 1;
                if result.first_error.is_none() {
                    result.first_error = Some(format!("{:?}: {}", status.code(), status.message()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::credit_code;
    use dossier_customer_profile::domain::credit_code::CreditCode;

    #[test]
    fn generated_credit_codes_are_valid_and_distinct() {
        let first = credit_code(1).expect("code");
        let second = credit_code(2).expect("code");
        assert!(CreditCode::parse(&first).is_ok());
        assert!(CreditCode::parse(&second).is_ok());
        assert_ne!(first, second);
    }
}
