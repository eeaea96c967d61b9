//! The command line, parsed with clap. Every `serve` flag also reads an environment
//! variable so containers can be configured without arguments.

use clap::{Parser, Subcommand};

use crate::serve::ServeArgs;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "promenade",
    version,
    about = "Promotes releases of GitOps-managed applications through environments",
    propagate_version = true
)]
pub struct Cli {
    /// How log lines are written to standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "PROMENADE_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: web UI, REST API and the release engine.
    Serve(ServeArgs),
}
