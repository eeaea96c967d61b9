//! `promenade freeze list|create|end` and `promenade break-glass`: freezes are
//! resources, so `create` writes a Freeze document and applies it like `apply` does;
//! listing and ending ask the server, which knows the time and the calendar.

use std::process::ExitCode;

use anyhow::Context;
use promenade_model::canonical::to_yaml;
use promenade_model::freeze::{Freeze, FreezePeriod, FreezeSchedule, FreezeSpec, FreezeStatus};
use promenade_model::release::ReleaseRecord;
use promenade_model::resources::{Metadata, Resource, Selector};
use promenade_model::stored::ApplyResponse;
use serde_json::json;

use crate::args::{FreezeArgs, FreezeCommand, Output};
use crate::client::Client;
use crate::commands::{show, table};

pub async fn run(
    client: &Client,
    command: &FreezeCommand,
    output: Output,
) -> anyhow::Result<ExitCode> {
    match command {
        FreezeCommand::List { days } => {
            let list: Vec<FreezeStatus> =
                client.get(&format!("/freeze-status?days={days}")).await?;
            show(output, &list, |list| {
                table(
                    output,
                    &["NAME", "STATE", "FROM", "UNTIL", "SCOPE", "REASON"],
                    &[],
                    list.iter().map(|f| {
                        vec![
                            f.name.clone(),
                            f.state.as_str().to_string(),
                            f.from.clone().unwrap_or_else(|| "-".into()),
                            f.until.clone().unwrap_or_else(|| "-".into()),
                            f.scope.clone(),
                            f.reason.clone(),
                        ]
                    }),
                )
            });
        }
        FreezeCommand::Create(args) => {
            let document = to_yaml(&Resource::Freeze(freeze(args)?))?;
            let answer: ApplyResponse = client.post_text("/apply", document).await?;
            show(output, &answer, |answer| {
                for change in &answer.changes {
                    println!(
                        "Freeze/{} {} (revision {})",
                        change.name,
                        change.change.as_str(),
                        change.revision
                    );
                }
            });
        }
        FreezeCommand::End { name } => {
            let ended: FreezeStatus = client
                .post(&format!("/freezes/{name}/end"), &json!({}))
                .await?;
            show(output, &ended, |f| {
                println!("freeze {} ended: it holds nothing from now on", f.name)
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The Freeze resource the arguments describe; the server checks the times.
fn freeze(args: &FreezeArgs) -> anyhow::Result<Freeze> {
    let environment_kinds = args
        .environment_kinds
        .iter()
        .map(|kind| {
            serde_json::from_value(json!(kind))
                .with_context(|| format!("unknown environment kind {kind:?}: use prod or non-prod"))
        })
        .collect::<anyhow::Result<_>>()?;
    let labels = args
        .labels
        .iter()
        .map(|label| {
            label
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--label {label:?}: expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<_>>()?;
    let period = match (&args.from, &args.until) {
        (Some(start), Some(end)) => Some(FreezePeriod {
            start: start.clone(),
            end: end.clone(),
        }),
        _ => None,
    };
    let schedule = match (&args.start, &args.rrule, &args.duration) {
        (Some(start), Some(rrule), Some(duration)) => Some(FreezeSchedule {
            start: start.clone(),
            rrule: rrule.clone(),
            duration: duration
                .parse()
                .map_err(|e| anyhow::anyhow!("--duration {duration:?}: {e}"))?,
        }),
        _ => None,
    };
    if period.is_none() && schedule.is_none() {
        anyhow::bail!(
            "say when: --from and --until (once), or --start, --rrule and --duration (recurring)"
        );
    }
    Ok(Freeze {
        metadata: Metadata::named(&args.name),
        spec: FreezeSpec {
            reason: args.reason.clone(),
            scope: Selector {
                products: args.products.clone(),
                environments: args.environments.clone(),
                environment_kinds,
                labels,
            },
            timezone: args.timezone.clone(),
            period,
            schedule,
            ended_at: None,
        },
    })
}

pub async fn break_glass(
    client: &Client,
    release: &str,
    environment: &str,
    reason: &str,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let answer: ReleaseRecord = client
        .post(
            &format!("/releases/{release}/break-glass"),
            &json!({ "environment": environment, "reason": reason }),
        )
        .await?;
    show(output, &answer, |r| {
        println!(
            "release {} may pass the freeze in {environment}: {reason}",
            r.id
        )
    });
    Ok(ExitCode::SUCCESS)
}
