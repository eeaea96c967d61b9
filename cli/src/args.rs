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
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "PROMENADE_SERVER",
        default_value = "http://127.0.0.1:3000"
    )]
    pub server: String,

    /// API token. Defaults to the administrator token a local server wrote to
    /// `<data-dir>/admin-token`.
    #[arg(long, global = true, env = "PROMENADE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// `text` for people; `json` or `yaml` (the API's answer) or `name` (one name per
    /// line) for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and sentences.
    Text,
    /// The API's answer as JSON.
    Json,
    /// The API's answer as YAML.
    Yaml,
    /// What the answer names, one per line: `Kind/name` for resources, the id of
    /// releases and audit entries, the name of tokens, users and credentials.
    Name,
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
        /// (0 succeeded, 1 failed, 3 terminated).
        #[arg(long)]
        wait: bool,
    },
    /// List releases, or show one.
    Releases {
        /// Show this release with its steps.
        id: Option<String>,
        #[arg(long)]
        product: Option<String>,
        /// queued, running, succeeded, failed or terminated.
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
    /// Set a user's password, read from standard input (first line). Setting `admin`'s
    /// removes the first-start password file.
    Passwd { name: String },
}
