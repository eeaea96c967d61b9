//! The CLI's commands besides `serve`: offline validation, local administration, and
//! the client commands that call the API.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_model::audit::AuditEntry;
use promenade_model::credentials::{CredentialInfo, CredentialInput, CredentialKind};
use promenade_model::delivery::DeliveryFigures;
use promenade_model::discovery::{ImportAnswer, ImportRequest};
use promenade_model::load;
use promenade_model::overview::ProductStatus;
use promenade_model::release::{
    BlockedVersion, Pause, Preview, PromotionRequest, ReleaseRecord, ReleaseStatus, SourceRef,
};
use promenade_model::resources::{Resource, ResourceKind};
use promenade_model::schema;
use promenade_model::stored::{AdminSettings, ApplyResponse, ResourceChange, StoredResource};
use promenade_model::validate::validate;
use serde::Serialize;
use serde_json::{json, Value};

use crate::args::{
    AuditArgs, CredentialsCommand, ImportCommand, Output, PromotionArgs, SecretArgs, StoreCommand,
    TokensCommand, UsersCommand,
};
use crate::client::Client;

/// Prints `value` as the API's JSON, or as text through `text`.
pub fn show<T: Serialize>(output: Output, value: &T, text: impl FnOnce(&T)) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        Output::Yaml => print!("{}", serde_yaml_ng::to_string(value).unwrap_or_default()),
        Output::Name => {
            for name in names(&serde_json::to_value(value).unwrap_or_default()) {
                println!("{name}");
            }
        }
        Output::Text | Output::Wide => text(value),
    }
}

/// What `-o name` prints of an answer, found by its fields: `Kind/name` for resources
/// (and each change `apply` reports), a release's or an audit entry's `id`, the `name` of
/// tokens, users, credentials and applications, a blocked version.
fn names(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(names).collect(),
        Value::Object(fields) => {
            let text = |key: &str| fields.get(key).and_then(value_text);
            match (text("kind"), text("name"), text("id"), text("version")) {
                (Some(kind), Some(name), _, _) => vec![format!("{kind}/{name}")],
                (_, _, Some(id), _) => vec![id],
                (_, Some(name), _, _) => vec![name],
                (_, _, _, Some(version)) => vec![version],
                // A wrapper such as `{dryRun, changes: [...]}`: what its lists name.
                _ => fields
                    .values()
                    .filter(|v| v.is_array())
                    .flat_map(names)
                    .collect(),
            }
        }
        _ => Vec::new(),
    }
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A text table for people, each column as wide as its widest cell. The `wide` columns
/// follow the others and are shown with `-o wide`; every row has cells for all of them.
pub fn table(
    output: Output,
    columns: &[&str],
    wide: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) {
    let shown = columns.len()
        + if output == Output::Wide {
            wide.len()
        } else {
            0
        };
    let header = columns.iter().chain(wide).map(|h| h.to_string()).collect();
    let mut lines: Vec<Vec<String>> = std::iter::once(header).chain(rows).collect();
    let mut widths = vec![0; shown];
    for line in &mut lines {
        line.truncate(shown);
        for (width, cell) in widths.iter_mut().zip(line.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// A cell of a table: the text, or `-` when there is none.
fn cell(text: Option<&str>) -> String {
    text.unwrap_or("-").to_string()
}

/// The engine over the server's database, opened exactly as `serve` opens it, for the
/// local administration commands. Whoever runs them on the server's machine with access
/// to its data folder owns the installation: they act as the system's `operator`.
async fn local_engine(
    data_dir: &Path,
    database: Option<&str>,
) -> anyhow::Result<(Engine, Principal)> {
    let store = Store::open(database, data_dir)
        .await
        .context("cannot open the local database")?;
    let mut config = EngineConfig::new(data_dir);
    // The operator's own machine: the demo's repository is on this disk.
    config.allow_local_repositories = true;
    Ok((
        Engine::new(store, config),
        Principal::system("operator", Role::Admin),
    ))
}

/// Every YAML file named, folders read recursively, in a stable order.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        || matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            entries.sort();
            files.extend(collect_files(&entries)?);
        } else {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.push((path.display().to_string(), text));
        }
    }
    Ok(files)
}

/// `promenade validate`: exit 0 with a summary, or 1 with every problem.
pub fn validate_files(paths: &[PathBuf], output: Output) -> anyhow::Result<ExitCode> {
    let files = collect_files(paths)?;
    let validation = validate(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    show(output, &validation, |validation| {
        for diagnostic in &validation.diagnostics {
            println!("{diagnostic}");
        }
        println!("{}", validation.summary);
    });
    Ok(if validation.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Probes the local server: no token, no configuration beyond its address, so it works
/// as a container's `HEALTHCHECK` as is.
pub async fn healthcheck(mut addr: std::net::SocketAddr, ready: bool) -> anyhow::Result<ExitCode> {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let probe = if ready { "readyz" } else { "healthz" };
    let url = format!("http://{addr}/{probe}");
    let answer = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?
        .get(&url)
        .send()
        .await;
    match answer {
        Ok(answer) if answer.status().is_success() => {
            println!("{url}: {}", answer.status());
            Ok(ExitCode::SUCCESS)
        }
        Ok(answer) => {
            eprintln!("{url}: {}", answer.status());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Prints a JSON Schema exactly as `docs/schema/` holds it.
pub fn schema(kind: Option<&str>) -> anyhow::Result<ExitCode> {
    let schema = match kind {
        None => schema::for_all_kinds(),
        Some(name) => schema::for_kind(ResourceKind::from_name(name).ok_or_else(|| {
            anyhow::anyhow!("no resource kind {name:?}: use {}", ResourceKind::NAMES)
        })?),
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

/// Reads every file offline, so that syntax and shape errors name the real files; prints
/// each problem and fails, saying `outcome`, when there is one. References are the
/// server's to check: these files may name environments, templates or flows stored there.
pub fn read_offline(files: &[(String, String)], outcome: &str) -> anyhow::Result<Vec<Resource>> {
    let mut resources = Vec::new();
    let mut unreadable = Vec::new();
    for (name, text) in files {
        let (loaded, diagnostics) = load(name, text);
        resources.extend(loaded.into_iter().map(|l| l.resource));
        unreadable.extend(diagnostics.into_iter().filter(|d| d.is_error()));
    }
    if !unreadable.is_empty() {
        for diagnostic in &unreadable {
            eprintln!("{diagnostic}");
        }
        bail!(
            "{outcome}: {} error{} reading the files",
            unreadable.len(),
            if unreadable.len() == 1 { "" } else { "s" }
        );
    }
    Ok(resources)
}

pub async fn apply(
    client: &Client,
    paths: &[PathBuf],
    dry_run: bool,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let files = collect_files(paths)?;
    read_offline(&files, "nothing applied")?;
    let stream = files
        .iter()
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let answer: ApplyResponse = client
        .post_text(&format!("/apply?dryRun={dry_run}"), stream)
        .await?;
    show(output, &answer, |answer| {
        let suffix = if dry_run { " (dry run)" } else { "" };
        for change in &answer.changes {
            println!(
                "{}/{} {} (revision {}){suffix}",
                change.kind.as_str(),
                change.name,
                change.change.as_str(),
                change.revision
            );
        }
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn get(
    client: &Client,
    kind: &str,
    name: Option<&str>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    match name {
        Some(name) => {
            let resource: StoredResource = client.get(&format!("/{kind}/{name}")).await?;
            show(output, &resource, |r| print!("{}", r.document));
        }
        None => {
            let list: Vec<StoredResource> = client.get(&format!("/{kind}")).await?;
            show(output, &list, |list| {
                table(
                    output,
                    &["NAME", "REVISION", "UPDATED", "UPDATED BY"],
                    &["LABELS", "SUMMARY"],
                    list.iter().map(|r| {
                        let (labels, summary) = describe(&r.document);
                        vec![
                            r.name.clone(),
                            r.revision.to_string(),
                            r.updated_at.clone(),
                            r.updated_by.clone(),
                            labels,
                            summary,
                        ]
                    }),
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored resource's labels (`key=value,…`) and a line saying what it does, for
/// `get -o wide`.
fn describe(document: &str) -> (String, String) {
    let (loaded, _) = load("", document);
    let Some(resource) = loaded.into_iter().next().map(|l| l.resource) else {
        return ("-".into(), "-".into());
    };
    let labels: Vec<String> = resource
        .metadata()
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let summary = match &resource {
        Resource::Environment(e) => format!("{} environment", word(&e.spec.kind)),
        Resource::Product(p) => format!(
            "{} applications in {} ({}), flows {}",
            p.spec.applications.len(),
            p.spec.repository.url,
            p.spec.repository.branch(),
            p.spec
                .flows
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        Resource::PromotionTemplate(t) => format!(
            "{} file rules, version from {}",
            t.spec.files.len(),
            t.spec
                .version_source
                .as_ref()
                .map_or("nowhere", |v| v.file.as_str())
        ),
        Resource::PromotionPolicy(p) => format!(
            "priority {}, action {}, {} gates, {} checks",
            p.spec.priority,
            p.spec.rules.action.as_ref().map_or("-".into(), word),
            p.spec.rules.gates.as_ref().map_or(0, Vec::len),
            p.spec.rules.verify.as_ref().map_or(0, Vec::len)
        ),
        Resource::PromotionFlow(f) => format!(
            "from {}, {} steps",
            f.spec.trigger_environment,
            f.spec.steps.len()
        ),
        Resource::Freeze(f) => {
            let when = match (&f.spec.period, &f.spec.schedule) {
                (Some(p), _) => format!("{} to {}", p.start, p.end),
                (_, Some(s)) => format!("{} from {}, {} each", s.rrule, s.start, s.duration),
                _ => "-".into(),
            };
            let ended = f.spec.ended_at.as_ref().map(|at| format!(", ended {at}"));
            format!(
                "{}: {when}{}",
                f.spec.scope.describe(),
                ended.unwrap_or_default()
            )
        }
    };
    let labels = if labels.is_empty() {
        "-".into()
    } else {
        labels.join(",")
    };
    (labels, summary)
}

/// A value as the API writes it (`prod`, `non-prod`, `pr`).
fn word(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        _ => "-".into(),
    }
}

pub async fn delete(
    client: &Client,
    kind: &str,
    name: &str,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let change: ResourceChange = client.delete(&format!("/{kind}/{name}")).await?;
    show(output, &change, |c| {
        println!("{}/{} deleted", c.kind.as_str(), c.name)
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn status(client: &Client, product: &str, output: Output) -> anyhow::Result<ExitCode> {
    let status: ProductStatus = client.get(&format!("/products/{product}/status")).await?;
    show(output, &status, |s| {
        for pause in &s.pauses {
            println!(
                "paused in {} by {}: {}",
                pause.scope(),
                pause.paused_by,
                pause.reason
            );
        }
        for block in &s.blocked {
            println!(
                "blocked: {} by {}: {}",
                block.version, block.blocked_by, block.reason
            );
        }
        let mut columns = vec!["APPLICATION"];
        columns.extend(s.environments.iter().map(|e| e.name.as_str()));
        let rows = s.applications.iter().map(|app| {
            let mut row = vec![app.name.clone()];
            row.extend(s.environments.iter().map(|env| {
                let here = app.cells.get(&env.name);
                let mut text = cell(here.and_then(|c| c.version.as_deref()));
                if output == Output::Wide {
                    if let Some(commit) = here.and_then(|c| c.commit.as_deref()) {
                        let short: String = commit.chars().take(7).collect();
                        text.push_str(&format!(" @{short}"));
                    }
                }
                if here.is_some_and(|c| c.drift) {
                    text.push_str(" (drift)");
                }
                if let Some(running) = here.and_then(|c| c.release.as_ref()) {
                    text.push_str(&format!(" [{}]", running.status));
                }
                text
            }));
            row
        });
        table(output, &columns, &[], rows);
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn delivery(
    client: &Client,
    product: &str,
    days: u32,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let figures: DeliveryFigures = client
        .get(&format!("/products/{product}/delivery?days={days}"))
        .await?;
    show(output, &figures, |f| {
        let hours = |seconds: Option<f64>| {
            seconds.map_or("-".to_string(), |s| format!("{:.1} h", s / 3600.0))
        };
        println!("{} over the last {} days", f.product, f.days);
        println!(
            "  deployments to production  {} ({:.2} a day)",
            f.deployments, f.deployments_per_day
        );
        println!(
            "  lead time (median)         {}",
            hours(f.lead_time_seconds)
        );
        println!(
            "  change failure rate        {}",
            f.change_failure_rate.map_or("-".to_string(), |r| format!(
                "{:.0} % ({} failed)",
                r * 100.0,
                f.failures
            ))
        );
        println!(
            "  time to restore (median)   {}",
            hours(f.time_to_restore_seconds)
        );
    });
    Ok(ExitCode::SUCCESS)
}

/// The body of `POST /products/{product}/promotions`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PromotionBody {
    #[serde(flatten)]
    request: PromotionRequest,
    dry_run: bool,
}

fn promotion_body(args: &PromotionArgs, message: Option<&str>, dry_run: bool) -> PromotionBody {
    let source = args.source.as_ref().map(|s| {
        // Commit ids are hexadecimal; release ids are not (they contain other letters).
        if s.len() >= 4 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            SourceRef::Commit(s.clone())
        } else {
            SourceRef::Release(s.clone())
        }
    });
    PromotionBody {
        request: PromotionRequest {
            flow: args.flow.clone(),
            from: args.from.clone(),
            to: args.to.clone(),
            applications: args.applications.clone(),
            source,
            message: message.map(str::to_string),
        },
        dry_run,
    }
}

pub async fn preview(
    client: &Client,
    args: &PromotionArgs,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let preview: Preview = client
        .post(
            &format!("/products/{}/promotions", args.product),
            &promotion_body(args, None, true),
        )
        .await?;
    show(output, &preview, |p| {
        println!(
            "Promote {} {} from {}",
            p.product,
            p.version.as_deref().unwrap_or("(no version)"),
            p.source.environment
        );
        for env in &p.environments {
            let diff = &env.diff;
            let summary = if diff.applications.is_empty() {
                "unchanged".to_string()
            } else {
                format!(
                    "{} applications, {} files, +{} -{}",
                    diff.applications.len(),
                    diff.files,
                    diff.added,
                    diff.removed
                )
            };
            println!("\n== {} ({}): {summary}", diff.environment, env.action);
            for app in &diff.applications {
                for file in &app.files {
                    print!("{}", file.unified);
                }
            }
        }
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn promote(
    client: &Client,
    args: &PromotionArgs,
    message: Option<&str>,
    wait: bool,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let release: ReleaseRecord = client
        .post(
            &format!("/products/{}/promotions", args.product),
            &promotion_body(args, message, false),
        )
        .await?;
    let id = release.id.clone();
    if !wait {
        show(output, &release, |r| println!("release {} started", r.id));
        return Ok(ExitCode::SUCCESS);
    }
    if output.is_text() {
        println!("release {id} started; following it (Ctrl+C stops following, not the release)");
    }
    crate::follow::follow(client, &id, output).await?;
    let release: ReleaseRecord = client.get(&format!("/releases/{id}")).await?;
    show(output, &release, print_release);
    Ok(match release.status {
        ReleaseStatus::Succeeded => ExitCode::SUCCESS,
        ReleaseStatus::Terminated => ExitCode::from(3),
        ReleaseStatus::Superseded => ExitCode::from(4),
        _ => ExitCode::FAILURE,
    })
}

fn print_release(r: &ReleaseRecord) {
    println!(
        "release {}  {}  {}  by {}",
        r.id, r.product, r.status, r.created_by
    );
    if let Some(newer) = &r.superseded_by {
        println!("  superseded by release {newer}");
    }
    for step in &r.steps {
        let error = step
            .detail
            .error
            .as_deref()
            .map(|e| format!("  ({e})"))
            .unwrap_or_default();
        println!(
            "  {:<16} {:<15} {}{error}",
            step.environment,
            step.status.as_str(),
            step.action
        );
        if let Some(frozen) = step.detail.frozen.as_ref() {
            println!("  {:<16} frozen: {}", "", frozen.describe());
        }
        if let Some(glass) = step.detail.break_glass.as_ref() {
            println!("  {:<16} break-glass: {}", "", glass.describe());
        }
        for gate in &step.detail.gates {
            println!("  {:<16} gate: {}", "", gate.describe());
        }
        for check in &step.detail.verify {
            println!("  {:<16} verify: {}", "", check.describe());
        }
        for request in step
            .detail
            .repositories
            .iter()
            .filter_map(|r| r.pull_request.as_ref())
        {
            let checks = request
                .checks
                .map(|c| format!(", checks {}", c.as_str()))
                .unwrap_or_default();
            let note = request
                .note
                .as_deref()
                .map(|n| format!("  ({n})"))
                .unwrap_or_default();
            println!(
                "  {:<16} pull request #{} {}{checks}  {}{note}",
                "",
                request.number,
                request.state.as_str(),
                request.url
            );
        }
    }
}

pub async fn releases(
    client: &Client,
    id: Option<&str>,
    product: Option<&str>,
    status: Option<&str>,
    limit: i64,
    output: Output,
) -> anyhow::Result<ExitCode> {
    if let Some(id) = id {
        let release: ReleaseRecord = client.get(&format!("/releases/{id}")).await?;
        show(output, &release, print_release);
        return Ok(ExitCode::SUCCESS);
    }
    let mut query = format!("/releases?limit={limit}");
    if let Some(product) = product {
        query.push_str(&format!("&product={product}"));
    }
    if let Some(status) = status {
        query.push_str(&format!("&status={status}"));
    }
    let list: Vec<ReleaseRecord> = client.get(&query).await?;
    show(output, &list, |list| {
        table(
            output,
            &["ID", "PRODUCT", "STATUS", "CREATED", "MESSAGE"],
            &["FLOW", "STARTED BY", "FINISHED"],
            list.iter().map(|r| {
                vec![
                    r.id.clone(),
                    r.product.clone(),
                    r.status.to_string(),
                    r.created_at.clone(),
                    cell(
                        Some(&r.message)
                            .filter(|m| !m.is_empty())
                            .map(|m| m.as_str()),
                    ),
                    r.flow.clone(),
                    r.created_by.clone(),
                    cell(r.finished_at.as_deref()),
                ]
            }),
        )
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn release_action(
    client: &Client,
    id: &str,
    action: &str,
    body: &serde_json::Value,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let release: ReleaseRecord = client
        .post(&format!("/releases/{id}/{action}"), body)
        .await?;
    show(output, &release, print_release);
    Ok(ExitCode::SUCCESS)
}

pub async fn block(
    client: &Client,
    product: &str,
    version: &str,
    reason: &str,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let blocked: BlockedVersion = client
        .post(
            &format!("/products/{product}/blocked"),
            &json!({ "version": version, "reason": reason }),
        )
        .await?;
    show(output, &blocked, |b| {
        println!("{} {} blocked: {}", b.product, b.version, b.reason)
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn unblock(
    client: &Client,
    product: &str,
    version: &str,
    output: Output,
) -> anyhow::Result<ExitCode> {
    client
        .delete::<()>(&format!("/products/{product}/blocked/{version}"))
        .await?;
    show(
        output,
        &json!({ "product": product, "version": version, "blocked": false }),
        |_| println!("{product} {version} unblocked"),
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn blocked(client: &Client, product: &str, output: Output) -> anyhow::Result<ExitCode> {
    let list: Vec<BlockedVersion> = client.get(&format!("/products/{product}/blocked")).await?;
    show(output, &list, |list| {
        table(
            output,
            &["VERSION", "BLOCKED BY", "AT", "REASON"],
            &[],
            list.iter().map(|b| {
                vec![
                    b.version.clone(),
                    b.blocked_by.clone(),
                    b.blocked_at.clone(),
                    b.reason.clone(),
                ]
            }),
        )
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn pause(
    client: &Client,
    product: &str,
    environment: Option<&str>,
    reason: &str,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let pause: Pause = client
        .post(
            &format!("/products/{product}/pause"),
            &json!({ "environment": environment, "reason": reason }),
        )
        .await?;
    show(output, &pause, |p| {
        println!("{} paused in {}: {}", p.product, p.scope(), p.reason)
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn resume(
    client: &Client,
    product: &str,
    environment: Option<&str>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    client
        .post::<()>(
            &format!("/products/{product}/resume"),
            &json!({ "environment": environment }),
        )
        .await?;
    let scope = environment.unwrap_or("every environment");
    show(
        output,
        &json!({ "product": product, "environment": environment, "paused": false }),
        |_| println!("{product} resumed in {scope}"),
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn audit(client: &Client, args: &AuditArgs, output: Output) -> anyhow::Result<ExitCode> {
    let entries: Vec<AuditEntry> = client.get_with("/audit", args).await?;
    show(output, &entries, |entries| {
        if args.details {
            for e in entries {
                println!("{} {} {} {} {}", e.id, e.at, e.actor, e.action, e.object);
                if let Some(detail) = &e.detail {
                    println!("{}", detail.trim_end());
                }
                println!();
            }
            return;
        }
        table(
            output,
            &["ID", "AT", "ACTOR", "ACTION", "OBJECT", "DETAIL"],
            &[],
            entries.iter().map(|e| {
                let detail = e.detail.as_deref().unwrap_or_default();
                vec![
                    e.id.to_string(),
                    e.at.clone(),
                    e.actor.clone(),
                    e.action.to_string(),
                    e.object.clone(),
                    [
                        e.address.as_deref().unwrap_or_default(),
                        detail.lines().next().unwrap_or_default(),
                    ]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
                ]
            }),
        )
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn store(
    data_dir: &Path,
    command: &StoreCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let StoreCommand::Copy { from, to } = command;
    // Opening a SQLite file creates it: a mistyped source would copy nothing, silently.
    if let Some(path) = from.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if !Path::new(path).is_file() {
            bail!("{path} does not exist: --from names the database to copy");
        }
    }
    let source = Store::open(Some(from), data_dir)
        .await
        .context("cannot open the source database")?;
    let target = Store::open(Some(to), data_dir)
        .await
        .context("cannot open the target database")?;
    let report = source.copy_to(&target).await?;
    let rows: Vec<serde_json::Value> = report
        .iter()
        .map(|(table, rows)| json!({ "table": table, "rows": rows }))
        .collect();
    show(output, &rows, |_| {
        for (table, rows) in &report {
            println!("{table:<22} {rows:>8} rows");
        }
        println!("copied; start the server on the new database");
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn tokens(
    data_dir: &Path,
    database: Option<&str>,
    command: &TokensCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let (engine, operator) = local_engine(data_dir, database).await?;
    match command {
        TokensCommand::Create { name, role } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let secret = engine.create_token(&operator, name, role).await?;
            show(
                output,
                &json!({ "name": name, "role": role, "token": secret }),
                |_| {
                    println!("{secret}");
                    eprintln!("token {name:?} ({role}) created: it is shown only this once");
                },
            );
        }
        TokensCommand::List => {
            let tokens = engine.list_tokens(&operator).await?;
            show(output, &tokens, |list| {
                table(
                    output,
                    &["NAME", "ROLE", "CREATED", "LAST USED"],
                    &[],
                    list.iter().map(|t| {
                        vec![
                            t.name.clone(),
                            t.role.to_string(),
                            t.created_at.clone(),
                            cell(t.last_used_at.as_deref()),
                        ]
                    }),
                )
            });
        }
        TokensCommand::Revoke { name } => {
            engine.revoke_token(&operator, name).await?;
            if output.is_text() {
                println!("token {name:?} revoked");
            }
        }
    }
    engine.close().await;
    Ok(ExitCode::SUCCESS)
}

/// A password from standard input's first line, prompting on a terminal.
fn read_password(name: &str, output: Output) -> anyhow::Result<String> {
    if output.is_text() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("password for {name}: ");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("cannot read the password")?;
    Ok(password.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn users(
    data_dir: &Path,
    database: Option<&str>,
    command: &UsersCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let (engine, operator) = local_engine(data_dir, database).await?;
    match command {
        UsersCommand::Add { name, role } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let password = read_password(name, output)?;
            engine.create_user(&operator, name, &password, role).await?;
            if output.is_text() {
                println!("user {name:?} ({role}) added");
            }
        }
        UsersCommand::List => {
            let users = engine.list_users(&operator).await?;
            show(output, &users, |list| {
                table(
                    output,
                    &["NAME", "ROLE", "CREATED"],
                    &[],
                    list.iter()
                        .map(|u| vec![u.name.clone(), u.role.to_string(), u.created_at.clone()]),
                )
            });
        }
        UsersCommand::Remove { name } => {
            engine.remove_user(&operator, name).await?;
            if output.is_text() {
                println!("user {name:?} removed");
            }
        }
        UsersCommand::SetRole { name, role } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            engine.set_role(&operator, name, role).await?;
            if output.is_text() {
                println!("user {name:?} is now {role}");
            }
        }
        UsersCommand::Passwd { name } => {
            let password = read_password(name, output)?;
            engine.set_password(&operator, name, &password).await?;
            if output.is_text() {
                println!("password of {name:?} changed");
            }
        }
    }
    engine.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn demo(
    data_dir: &Path,
    database: Option<&str>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let (engine, _) = local_engine(data_dir, database).await?;
    let demo = promenade_engine::demo::set_up(&engine, data_dir).await?;
    engine.close().await;
    let report = json!({
        "repository": demo.repository.display().to_string(),
        "created": demo.created,
        "changes": demo.changes,
    });
    show(output, &report, |_| {
        if demo.created {
            println!(
                "demo created: product `shop` (web, api, worker) in {}",
                demo.repository.display()
            );
        } else {
            println!("demo already set up in {}", demo.repository.display());
        }
        println!(
            "try: promenade preview shop --to qa   then   promenade promote shop --to qa --wait"
        );
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn credentials(
    client: &Client,
    command: &CredentialsCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let print_one = |info: &CredentialInfo, verb: &str| {
        show(output, info, |i| {
            eprintln!("credentials {} ({}) {verb}", i.name, i.kind)
        })
    };
    match command {
        CredentialsCommand::Create { name, kind, secret } => {
            let kind: CredentialKind = kind.parse().map_err(anyhow::Error::msg)?;
            let input = read_secret(kind, secret, true)?;
            let info: CredentialInfo = client.post(&format!("/credentials/{name}"), &input).await?;
            print_one(&info, "created");
        }
        CredentialsCommand::Rotate { name, secret } => {
            let existing: Vec<CredentialInfo> = client.get("/credentials").await?;
            let kind = existing
                .iter()
                .find(|c| &c.name == name)
                .map(|c| c.kind)
                .with_context(|| format!("credentials `{name}` do not exist"))?;
            // The server keeps what is left out (the user name of https credentials).
            let input = read_secret(kind, secret, false)?;
            let info: CredentialInfo = client.put(&format!("/credentials/{name}"), &input).await?;
            print_one(&info, "rotated");
        }
        CredentialsCommand::List => {
            let list: Vec<CredentialInfo> = client.get("/credentials").await?;
            show(output, &list, |list| {
                table(
                    output,
                    &["NAME", "KIND", "CREATED BY", "ROTATED", "LAST USED"],
                    &["CREATED", "ROTATED BY"],
                    list.iter().map(|c| {
                        vec![
                            c.name.clone(),
                            c.kind.to_string(),
                            c.created_by.clone(),
                            c.rotated_at.clone(),
                            cell(c.last_used_at.as_deref()),
                            c.created_at.clone(),
                            c.rotated_by.clone(),
                        ]
                    }),
                )
            });
        }
        CredentialsCommand::Delete { name } => {
            client.delete::<()>(&format!("/credentials/{name}")).await?;
            show(output, &json!({ "deleted": name }), |_| {
                eprintln!("credentials {name} deleted")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The secret from `--secret-file` or standard input, with the kind's other parts;
/// `complete`: refuse here what the server would refuse.
fn read_secret(
    kind: CredentialKind,
    args: &SecretArgs,
    complete: bool,
) -> anyhow::Result<CredentialInput> {
    use std::io::Read;
    let read_file = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut secret = match &args.secret_file {
        Some(path) => read_file(path)?,
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!("reading the secret from standard input (end with Ctrl+D)");
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the secret from standard input")?;
            text
        }
    };
    // A token read from a file or a pipe ends with a newline that is not part of it;
    // a private key keeps its own.
    if kind != CredentialKind::Ssh {
        secret = secret.trim_end_matches(['\r', '\n']).to_string();
    }
    let input = CredentialInput {
        kind,
        username: args.username.clone(),
        secret,
        passphrase: args
            .passphrase_file
            .as_ref()
            .map(read_file)
            .transpose()?
            .map(|p| p.trim_end_matches(['\r', '\n']).to_string()),
        known_hosts: args.known_hosts.as_ref().map(read_file).transpose()?,
    };
    let problems = input.problems();
    if complete && !problems.is_empty() {
        bail!(problems.join("\n"));
    }
    Ok(input)
}

pub async fn import(
    client: &Client,
    command: &ImportCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let ImportCommand::Argocd {
        selector,
        argocd_server,
        credentials,
        name,
        template,
        flow,
    } = command;
    let request = ImportRequest {
        selector: selector.clone(),
        server: argocd_server.clone(),
        credentials: credentials.clone(),
        product: name.clone(),
        template: template.clone(),
        flow: flow.clone(),
    };
    let answer: ImportAnswer = client.post("/import/argocd", &request).await?;
    show(output, &answer, |a| print!("{}", a.yaml));
    Ok(ExitCode::SUCCESS)
}

pub async fn settings(
    client: &Client,
    allow_insecure_remotes: Option<bool>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let mut settings: AdminSettings = client.get("/settings").await?;
    if let Some(allow) = allow_insecure_remotes {
        settings.allow_insecure_remotes = allow;
        settings = client.put("/settings", &settings).await?;
    }
    show(output, &settings, |s| {
        println!("allow-insecure-remotes: {}", s.allow_insecure_remotes)
    });
    Ok(ExitCode::SUCCESS)
}
