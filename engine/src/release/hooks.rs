//! A flow's hooks: `http` calls, `command`s and Argo `workflow`s run once a release has
//! succeeded (`onSuccess`) or failed (`onFailure`), to tell chat, ticketing or
//! deployment trackers, or to run follow-up jobs. A hook that
//! does not answer as expected within its timeout is logged on the release and changes
//! nothing else: the release's outcome stands. Hooks are notifications, sent at most
//! once: an engine stopped between the end of a release and its hooks does not send
//! them after a restart.

use promenade_model::action::{Action, HttpCheck, HttpMethod};
use promenade_model::release::ReleaseStatus;
use tracing::{info_span, warn, Instrument};

use super::http_check::{self, Context};
use super::Snapshot;
use crate::{Engine, Result};

impl Engine {
    /// Calls the hooks for how the release ended; logs the ones that fail.
    pub(super) async fn run_hooks(
        &self,
        id: &str,
        snapshot: &Snapshot,
        status: ReleaseStatus,
    ) -> Result<()> {
        let hooks = match status {
            ReleaseStatus::Succeeded => &snapshot.hooks.on_success,
            ReleaseStatus::Failed => &snapshot.hooks.on_failure,
            _ => return Ok(()),
        };
        let context = Context::new(snapshot, id, "");
        let product = &snapshot.product.metadata.name;
        let when = match status {
            ReleaseStatus::Succeeded => "on-success",
            _ => "on-failure",
        };
        for (index, hook) in hooks.iter().enumerate() {
            let failed = match hook {
                Action::Http(check) => {
                    let check = with_default_body(check, id, product, context.version(), status);
                    let span = info_span!("hook", url = %promenade_model::redact::url(&check.url));
                    self.call_hook(&check, &context)
                        .instrument(span)
                        .await
                        .err()
                }
                Action::Command(command) => {
                    let span = info_span!("hook", command = %command.args.first().map_or("", String::as_str));
                    let run = super::command::run(command, &context, None)
                        .instrument(span)
                        .await;
                    for line in &run.output {
                        self.store().append_log(id, "hooks", "info", line).await?;
                    }
                    match run.ended {
                        super::command::Ended::Failed(why) => Some(why),
                        _ => None,
                    }
                }
                Action::Workflow(run) => {
                    let span = info_span!("hook", workflow = %run.template);
                    self.run_workflow_hook(run, &context, id, &format!("{when}-{index}"))
                        .instrument(span)
                        .await
                        .err()
                }
                // Refused when the release was planned.
                _ => None,
            };
            if let Some(problem) = failed {
                warn!(release = %id, %problem, "hook failed");
                self.store()
                    .append_log(id, "hooks", "error", &format!("hook failed: {problem}"))
                    .await?;
            }
        }
        Ok(())
    }

    /// Tries the hook every check interval until it answers as expected or its timeout
    /// runs out.
    async fn call_hook(
        &self,
        check: &HttpCheck,
        context: &Context,
    ) -> std::result::Result<(), String> {
        let timeout = check
            .timeout
            .as_ref()
            .map_or(http_check::DEFAULT_TIMEOUT, |t| t.to_std());
        let deadline = tokio::time::Instant::now() + timeout;
        let secrets = self
            .header_secrets(check)
            .await
            .map_err(|e| e.to_string())?;
        let requests = http_check::requests(check, context, &secrets);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let attempt_timeout = left.max(std::time::Duration::from_secs(1));
            let Err(problem) =
                http_check::attempt_all(self.outbound(), check, &requests, attempt_timeout).await
            else {
                return Ok(());
            };
            if tokio::time::Instant::now() + self.config().check_interval >= deadline {
                return Err(problem);
            }
            tokio::time::sleep(self.config().check_interval).await;
        }
    }
}

/// A hook that sends a body and names none sends the release context as JSON.
fn with_default_body(
    check: &HttpCheck,
    id: &str,
    product: &str,
    version: &str,
    status: ReleaseStatus,
) -> HttpCheck {
    let mut check = check.clone();
    let sends_body = !matches!(check.method, HttpMethod::Get | HttpMethod::Head);
    if sends_body && check.body.is_none() {
        check.body = Some(
            serde_json::json!({
                "release": id,
                "product": product,
                "version": version,
                "status": status,
            })
            .to_string(),
        );
        let has_type = check
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"));
        if !has_type {
            check
                .headers
                .insert("content-type".into(), "application/json".into());
        }
    }
    check
}
