//! `promenade`: the server (`serve`), a typed client of its API, and the local
//! administration commands (docs/configuration.md).

// Rendering the UI's deeply nested view types needs more than the default limit.
#![recursion_limit = "512"]

mod args;
mod client;
mod commands;
mod context;
mod diff;
mod follow;
mod freeze;

use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser;
use client::Client;
use promenade_server::{serve, telemetry};
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let output = cli.client.output;
    let data_dir = cli.data_dir.as_path();
    let database = cli.database_url.as_deref();
    let client = || Client::new(&cli.client, data_dir);
    match &cli.command {
        Command::Serve(args) => serve((**args).clone(), data_dir, database)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Validate { paths } => commands::validate_files(paths, output),
        Command::Schema { kind } => commands::schema(kind.as_deref()),
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "promenade", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { addr, ready } => commands::healthcheck(*addr, *ready).await,
        Command::Apply { paths, dry_run } => {
            commands::apply(&client()?, paths, *dry_run, output).await
        }
        Command::Diff { paths } => diff::diff(&client()?, paths, output).await,
        Command::Get { kind, name } => {
            commands::get(&client()?, kind, name.as_deref(), output).await
        }
        Command::Delete { kind, name } => commands::delete(&client()?, kind, name, output).await,
        Command::Status { product } => commands::status(&client()?, product, output).await,
        Command::Delivery { product, days } => {
            commands::delivery(&client()?, product, *days, output).await
        }
        Command::Preview(args) => commands::preview(&client()?, args, output).await,
        Command::Promote {
            promotion,
            message,
            wait,
        } => commands::promote(&client()?, promotion, message.as_deref(), *wait, output).await,
        Command::Releases {
            id,
            product,
            status,
            limit,
        } => {
            commands::releases(
                &client()?,
                id.as_deref(),
                product.as_deref(),
                status.as_deref(),
                *limit,
                output,
            )
            .await
        }
        Command::Retry { id } => {
            commands::release_action(&client()?, id, "retry", &json!({}), output).await
        }
        Command::Terminate { id } => {
            commands::release_action(&client()?, id, "terminate", &json!({}), output).await
        }
        Command::Approve { id, environment } => {
            let body = json!({ "environment": environment });
            commands::release_action(&client()?, id, "approve", &body, output).await
        }
        Command::Block {
            product,
            blocked,
            reason,
        } => commands::block(&client()?, product, blocked, reason, output).await,
        Command::Unblock { product, blocked } => {
            commands::unblock(&client()?, product, blocked, output).await
        }
        Command::Blocked { product } => commands::blocked(&client()?, product, output).await,
        Command::Pause {
            product,
            environment,
            reason,
        } => commands::pause(&client()?, product, environment.as_deref(), reason, output).await,
        Command::Resume {
            product,
            environment,
        } => commands::resume(&client()?, product, environment.as_deref(), output).await,
        Command::Freeze(command) => freeze::run(&client()?, command, output).await,
        Command::BreakGlass {
            release,
            environment,
            reason,
        } => freeze::break_glass(&client()?, release, environment, reason, output).await,
        Command::Audit(args) => commands::audit(&client()?, args, output).await,
        Command::Tokens(command) => commands::tokens(data_dir, database, command, output).await,
        Command::Users(command) => commands::users(data_dir, database, command, output).await,
        Command::Credentials(command) => commands::credentials(&client()?, command, output).await,
        Command::Settings {
            allow_insecure_remotes,
        } => commands::settings(&client()?, *allow_insecure_remotes, output).await,
        Command::Demo => commands::demo(data_dir, database, output).await,
        Command::Store(command) => commands::store(data_dir, command, output).await,
        Command::Import(command) => commands::import(&client()?, command, output).await,
        Command::Context(command) => context::run(&cli.client, command, output),
    }
}
