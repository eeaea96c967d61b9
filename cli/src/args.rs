//! The command line, parsed with clap. Every `serve` flag also reads an environment
//! variable so containers can be configured without arguments; client commands talk to
//! a server's API (`--server`, default the local one).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use promenade_server::telemetry::LogFormat;
use promenade_server::ServeArgs;

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

    /// Folder for the database, git clone cache, demo and the local administrator token.
    #[arg(
        long,
        global = true,
        env = "PROMENADE_DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,

    /// Database URL (`sqlite:…`), for `serve` and the local administration commands
    /// (`tokens`, `users`, `demo`). Defaults to `<data-dir>/promenade.db`.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(flatten)]
    pub client: ClientArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// How client commands reach a server.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server's base URL [default: the context's, else http://127.0.0.1:3000].
    #[arg(long, global = true, env = "PROMENADE_SERVER")]
    pub server: Option<String>,

    /// API token. Defaults to the context's token file, else the administrator token a
    /// local server wrote to `<data-dir>/admin-token`.
    #[arg(long, global = true, env = "PROMENADE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The context (server and token file, `promenade context add`) to use instead of
    /// the current one.
    #[arg(long, global = true, env = "PROMENADE_CONTEXT")]
    pub context: Option<String>,

    /// The file contexts are kept in [default: $XDG_CONFIG_HOME/promenade/config.yaml,
    /// or ~/.config/promenade/config.yaml].
    #[arg(long, global = true, env = "PROMENADE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// `text` or `wide` (more columns) for people; `json` or `yaml` (the API's answer)
    /// or `name` (one name per line) for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and sentences.
    Text,
    /// Text, with more columns in tables: who started a release and when it ended, what
    /// a resource says, the commit of each cell of `status`.
    Wide,
    /// The API's answer as JSON.
    Json,
    /// The API's answer as YAML.
    Yaml,
    /// What the answer names, one per line: `Kind/name` for resources, the id of
    /// releases and audit entries, the name of tokens, users and credentials.
    Name,
}

impl Output {
    /// For people rather than scripts.
    pub fn is_text(self) -> bool {
        matches!(self, Output::Text | Output::Wide)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: web UI, REST API and the release engine.
    Serve(Box<ServeArgs>),
    /// Check resource files offline: every problem as file:line:col.
    Validate {
        /// Files or folders (YAML files in folders are read recursively).
        #[arg(short = 'f', long = "filename", required = true)]
        paths: Vec<PathBuf>,
    },
    /// Ask the server on this machine whether it is up (`/healthz`) or ready (`/readyz`):
    /// exit 0 when it is, 1 when not. For container health checks.
    Healthcheck {
        /// Where the server listens, as `serve --addr` (`PROMENADE_ADDR`); an unspecified
        /// address (`0.0.0.0`, `::`) is reached on loopback.
        #[arg(long, env = "PROMENADE_ADDR", default_value = "127.0.0.1:3000")]
        addr: std::net::SocketAddr,
        /// Check readiness (the database answers) instead of liveness.
        #[arg(long)]
        ready: bool,
    },
    /// Print a shell completion script: `source <(promenade completion bash)`, or save
    /// it where the shell loads completions from (docs/configuration.md).
    Completion { shell: clap_complete::Shell },
    /// Print the JSON Schema of a resource kind (of every kind without one), for editors:
    /// docs/resources.md shows the `yaml-language-server` modeline.
    Schema {
        /// environments, products, templates, policies or flows.
        kind: Option<String>,
    },
    /// Apply resource files to the server.
    Apply {
        /// Files or folders (YAML files in folders are read recursively).
        #[arg(short = 'f', long = "filename", required = true)]
        paths: Vec<PathBuf>,
        /// Validate against the server's resources; store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what `apply` would change, resource by resource, as unified diffs of the
    /// stored YAML; exit 0 when nothing would change, 1 when something would, 2 on error.
    Diff {
        /// Files or folders (YAML files in folders are read recursively).
        #[arg(short = 'f', long = "filename", required = true)]
        paths: Vec<PathBuf>,
    },
    /// List resources of a kind, or show one as YAML.
    Get {
        /// environments, products, templates, policies or flows.
        kind: String,
        name: Option<String>,
    },
    /// Delete a resource (refused while others refer to it).
    Delete { kind: String, name: String },
    /// Every application × environment of a product: version, commit, drift.
    Status { product: String },
    /// A product's delivery figures (the four DORA keys): deployments to production per
    /// day, lead time, change failure rate, time to restore.
    Delivery {
        product: String,
        /// The window, in days up to now.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Show what a promotion would change, as unified diffs; changes nothing.
    Preview(PromotionArgs),
    /// Start a release.
    Promote {
        #[command(flatten)]
        promotion: PromotionArgs,
        /// Describe the release.
        #[arg(long, short = 'm')]
        message: Option<String>,
        /// Follow the release until it ends; the exit code says how it ended
        /// (0 succeeded, 1 failed, 3 terminated, 4 superseded).
        #[arg(long)]
        wait: bool,
    },
    /// List releases, or show one.
    Releases {
        /// Show this release with its steps.
        id: Option<String>,
        #[arg(long)]
        product: Option<String>,
        /// queued, running, succeeded, failed, terminated or superseded.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Resume a failed release from its failed steps.
    Retry { id: String },
    /// Stop a running release.
    Terminate { id: String },
    /// Approve the approval gate an environment of a running release waits at.
    Approve {
        /// The release.
        id: String,
        /// The environment whose gate to approve.
        environment: String,
    },
    /// Stop the line: block a version of a product. No release carrying it starts, and
    /// running ones stop before they write again (promoters and up).
    Block {
        product: String,
        /// The version, as the product's template reads it (`1.5.0`).
        #[arg(value_name = "VERSION")]
        blocked: String,
        /// Why; shown wherever the block stops something.
        #[arg(long)]
        reason: String,
    },
    /// Let a blocked version through again (release managers and up).
    Unblock {
        product: String,
        #[arg(value_name = "VERSION")]
        blocked: String,
    },
    /// List a product's blocked versions.
    Blocked { product: String },
    /// Pause a product, or one environment: releases hold before their next step there;
    /// steps under way finish (release managers and up).
    Pause {
        product: String,
        /// Only this environment (every environment of the product when absent).
        #[arg(long)]
        environment: Option<String>,
        /// Why; shown on the dashboard and in the log of every release it holds.
        #[arg(long)]
        reason: String,
    },
    /// Lift a pause; the releases it held go on (release managers and up).
    Resume {
        product: String,
        /// The environment's pause (the whole product's when absent).
        #[arg(long)]
        environment: Option<String>,
    },
    /// Freezes: times when releases may not enter some environments (docs/resources.md,
    /// "Freezes").
    #[command(subcommand)]
    Freeze(FreezeCommand),
    /// Let a release through the freeze that holds it in an environment, with a reason
    /// everyone sees (release managers and up).
    BreakGlass {
        release: String,
        environment: String,
        /// Why; recorded in the audit trail and shown on the release and the dashboard.
        #[arg(long)]
        reason: String,
    },
    /// Read the audit trail, newest first (admins): sign-ins, resource changes with
    /// their diffs, release actions, tokens, credentials, users and settings.
    Audit(AuditArgs),
    /// Manage API tokens in the local database (`--data-dir`).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Manage the people who sign in to the web UI (local database, `--data-dir`).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the named secrets git remotes, APIs and webhooks use (admins). Secrets
    /// are read from standard input or a file, never from the command line.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Show the server-wide settings, or change them (admins).
    Settings {
        /// Allow unencrypted `http://` and `git://` repositories.
        #[arg(long, value_name = "true|false")]
        allow_insecure_remotes: Option<bool>,
    },
    /// Move an installation between databases.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Create the demo once: a local git repository and the `shop` product.
    Demo,
    /// Propose resources from another system, as YAML to review and apply.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Name the servers this CLI talks to, each with a token file, and pick one
    /// (docs/configuration.md).
    #[command(subcommand)]
    Context(ContextCommand),
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Add a context, or change one: the server named by `--server` and the file holding
    /// its API token (the token itself is never written to the configuration). The first
    /// context becomes the current one.
    Add {
        name: String,
        /// A file holding the API token, read each time a command runs.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Make a context the current one.
    Use { name: String },
    /// List the contexts; `*` marks the current one.
    List,
    /// Remove a context.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Propose a Product from the Argo CD Applications carrying a label or annotation
    /// (`--selector promenade.dev/product=shop`); prints it, applies nothing.
    Argocd {
        /// `key=value` labels or annotations the Applications carry (comma-separated).
        #[arg(long)]
        selector: String,
        /// The Argo CD to ask (the server's own and the environments' when absent).
        /// `--server` is Promenade's own address.
        #[arg(long = "argocd-server", value_name = "URL", requires = "credentials")]
        argocd_server: Option<String>,
        /// Token credentials (stored in Promenade) for `--argocd-server`.
        #[arg(long, requires = "argocd_server")]
        credentials: Option<String>,
        /// The product's name (the selector's value when absent).
        #[arg(long)]
        name: Option<String>,
        /// Its PromotionTemplate (the only one when absent).
        #[arg(long)]
        template: Option<String>,
        /// Its PromotionFlow (the only one when absent).
        #[arg(long)]
        flow: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FreezeCommand {
    /// List freezes: those holding now, those beginning within `--days`, then the rest.
    List {
        /// How far ahead a freeze counts as upcoming.
        #[arg(long, default_value_t = 7)]
        days: u16,
    },
    /// Create a freeze, or replace the one of that name (release managers and up):
    /// once with `--from`/`--until`, or recurring with `--start`, `--rrule` and
    /// `--duration`.
    Create(Box<FreezeArgs>),
    /// End a freeze that holds now; it stays, with `endedAt`, as a record (release
    /// managers and up).
    End { name: String },
}

/// What `freeze create` writes into the Freeze resource.
#[derive(Debug, Args)]
pub struct FreezeArgs {
    pub name: String,
    /// Why; shown wherever the freeze holds a release.
    #[arg(long)]
    pub reason: String,
    /// A one-off freeze begins: a local date-time (`2026-12-21T00:00`) in `--timezone`,
    /// or an RFC 3339 instant.
    #[arg(long, requires = "until", conflicts_with_all = ["start", "rrule", "duration"])]
    pub from: Option<String>,
    /// …and ends.
    #[arg(long, requires = "from")]
    pub until: Option<String>,
    /// A recurring freeze's first occurrence, a local date-time in `--timezone`.
    #[arg(long, requires_all = ["rrule", "duration"])]
    pub start: Option<String>,
    /// Its RFC 5545 recurrence rule, e.g. `FREQ=WEEKLY;BYDAY=FR`.
    #[arg(long, requires = "start")]
    pub rrule: Option<String>,
    /// How long each occurrence lasts, e.g. `62h`.
    #[arg(long, requires = "start")]
    pub duration: Option<String>,
    /// The IANA time zone the times are read in (UTC when absent).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Only these products (every product when absent); repeatable.
    #[arg(long = "product", value_name = "PRODUCT")]
    pub products: Vec<String>,
    /// Only these environments; repeatable.
    #[arg(long = "environment", value_name = "ENVIRONMENT")]
    pub environments: Vec<String>,
    /// Only environments of this kind (`prod`, `non-prod`); repeatable.
    #[arg(long = "environment-kind", value_name = "KIND")]
    pub environment_kinds: Vec<String>,
    /// Only environments with this label; repeatable, all must match.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store new credentials.
    Create {
        name: String,
        /// https (user + token), ssh (private key + known hosts) or token.
        #[arg(long)]
        kind: String,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Replace the secret of credentials (the kind stays).
    Rotate {
        name: String,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// List credentials: names, kinds, history (never secrets).
    List,
    /// Delete credentials that no product uses.
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    /// https: the user name (`x-access-token` for GitHub tokens, `oauth2` for GitLab).
    #[arg(long)]
    pub username: Option<String>,
    /// Read the token, password or private key from this file instead of standard input.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// ssh: a file holding the private key's passphrase.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// ssh: the servers' host keys, as `ssh-keyscan HOST` prints them.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PromotionArgs {
    pub product: String,
    /// Stop at this environment (it and everything upstream of it).
    #[arg(long)]
    pub to: Option<String>,
    /// Promote this environment's content straight to `--to`.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// The flow, when the product has several.
    #[arg(long)]
    pub flow: Option<String>,
    /// Only these applications (repeat the flag).
    #[arg(long = "app")]
    pub applications: Vec<String>,
    /// Promote a commit of the source repository, or an earlier release's source.
    #[arg(long, value_name = "COMMIT|RELEASE")]
    pub source: Option<String>,
}

#[derive(Debug, Args, serde::Serialize)]
pub struct AuditArgs {
    /// Only this actor, as recorded (`user ada`, `token ci`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only this action (`signed-in`, `sign-in-failed`, `resource-applied`, …).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only this object, as recorded (`Product/shop`, a release id, a token name).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Only entries older than this id (the next page).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print each entry's detail (resource diffs) in full.
    #[arg(long)]
    #[serde(skip)]
    pub details: bool,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy everything (resources with their revisions, releases and their events,
    /// users, tokens, credentials, the audit trail) into a new, empty database, e.g.
    /// `--from sqlite:data/promenade.db --to postgres://promenade@db/promenade`. Stop the
    /// server first; people sign in again afterwards.
    Copy {
        /// The database to read (`sqlite:PATH` or `postgres://…`).
        #[arg(long)]
        from: String,
        /// The database to fill: migrated here, refused unless empty.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it (it is shown only this once).
    Create {
        name: String,
        /// viewer, promoter, release-manager or admin.
        #[arg(long, default_value = "promoter")]
        role: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is read from standard input (first line).
    Add {
        name: String,
        /// viewer, promoter, release-manager or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List users.
    List,
    /// Remove a user; their sessions end with their next request.
    Remove { name: String },
    /// Give a user another role (viewer, promoter, release-manager or admin), from their
    /// next request on.
    SetRole { name: String, role: String },
    /// Set a user's password, read from standard input (first line). Setting `admin`'s
    /// removes the first-start password file.
    Passwd { name: String },
}

#[cfg(test)]
mod tests {
    /// clap checks every subcommand's definition (duplicate names, conflicting ids) only
    /// when that subcommand is used; this checks them all.
    #[test]
    fn every_command_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
