//! The subcommands of `dossier`.

pub mod bench;
pub mod demo;
pub mod migrate;
pub mod probe;
pub mod token;
pub mod up;

/// Shown after `--help`: the first steps of a newcomer.
pub const AFTER_HELP: &str = "\
Getting started:
  dossier up --demo                 run everything with demo data (Ctrl-C stops)
  dossier token --role archivist --sub me
                                    mint a token for grpcurl or a client
  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" \\
    127.0.0.1:50061 dossier.customer.v1.CustomerService/ListCustomers

Configuration: ./dossier.toml or --config FILE, then DOSSIER_* variables
(e.g. DOSSIER_CUSTOMER_PROFILE_DATABASE_URL=postgres://…). See README.md.";
