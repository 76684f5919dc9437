//! `dossier` — the one binary users run. `dossier up` starts every service built so far in one
//! process (each with its own embedded SQLite database under `./data`); `dossier serve <service>`
//! starts one; `dossier token` mints a development token; `dossier demo` loads demo data;
//! `dossier migrate` brings databases up to date; `dossier bench` measures; `dossier probe` asks a
//! server's gRPC health.
#![forbid(unsafe_code)]

mod commands;
mod demo_complaints;
mod demo_contract;
mod demo_data;
mod demo_visits;
mod services;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: every call allocates and frees many small buffers on two
/// or more threads at once, where glibc spends its time consolidating arenas (`dossier bench
/// --only get` measures the difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Dossier: the customer archive of a sales department (客户档案管理), as gRPC services.
#[derive(Debug, Parser)]
#[command(name = "dossier", version, about, long_about = None, after_help = commands::AFTER_HELP)]
struct Cli {
    /// Configuration file (TOML). Default: ./dossier.toml when it exists. `DOSSIER_…`
    /// environment variables override it, e.g. DOSSIER_DATA_DIR=/var/lib/dossier.
    #[arg(long, global = true, env = "DOSSIER_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system in this process: every service on its own port, each with its own
    /// SQLite database under the data directory (./data). Stop with Ctrl-C.
    Up(commands::up::UpArgs),
    /// Run one service, e.g. `dossier serve customer-profile`.
    Serve(commands::up::ServeArgs),
    /// Mint a development token signed with the configured HS256 secret.
    Token(commands::token::TokenArgs),
    /// Load realistic demo data (Chinese companies, contacts, grades, routes) into a running
    /// system. Safe to repeat: the same demo data is never loaded twice.
    Demo(commands::demo::DemoArgs),
    /// Create or upgrade the databases of the services (done at start as well).
    Migrate(commands::migrate::MigrateArgs),
    /// Measure throughput and latency against baselines measured in the same run.
    Bench(commands::bench::BenchArgs),
    /// Ask a server over the gRPC health protocol whether it is serving (exit 0 only then),
    /// e.g. `dossier probe --service customer-profile`: the container health check.
    Probe(commands::probe::ProbeArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match dossier_kit::config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Up(args) => commands::up::up(&config, args).await,
        Command::Serve(args) => commands::up::serve(&config, args).await,
        Command::Token(args) => commands::token::token(&config, args),
        Command::Demo(args) => commands::demo::demo(&config, args).await,
        Command::Migrate(args) => commands::migrate::migrate(&config, args).await,
        Command::Bench(args) => commands::bench::bench(args).await,
        Command::Probe(args) => commands::probe::probe(&config, args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
