//! The `command` action: a program on the server host, run without a shell (only
//! administrators may apply one). It gets a clean environment — `PATH`, `HOME`, `LANG`,
//! the release's values as `PROMENADE_*` and the action's own `env` — never the server's
//! (which may hold `PROMENADE_SECRET_KEY`). Placeholders in `args` and `env` are filled
//! like an `http` check's. Its output goes to the step's log, bounded; it is killed when
//! its timeout runs out or the release is terminated.

use std::process::Stdio;
use std::time::Duration;

use promenade_model::action::CommandRun;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::gates::{Phase, Position};
use super::http_check::Context;
use super::StepJob;
use crate::{Engine, EngineError, Result};
use promenade_model::release::{Gate, GateStatus};

/// How long a command may run without a `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Lines of output kept for the log; the rest is counted.
const KEPT_LINES: usize = 200;

/// Characters kept of one line.
const LONGEST_LINE: usize = 2_000;

/// Variables passed through from the server's own environment.
const PASSED_THROUGH: [&str; 3] = ["PATH", "HOME", "LANG"];

/// How a command ended.
pub(super) enum Ended {
    /// Exit status 0.
    Succeeded,
    /// Why it did not succeed, for the step's error.
    Failed(String),
    /// The release was terminated or the engine is stopping; the command was killed.
    Stopped,
}

/// What a command printed (stdout and stderr, interleaved as read) and how it ended.
pub(super) struct Run {
    pub ended: Ended,
    pub output: Vec<String>,
}

/// Runs `command` to its end, its timeout or `cancel`.
pub(super) async fn run(
    command: &CommandRun,
    context: &Context,
    cancel: Option<&CancellationToken>,
) -> Run {
    let args: Vec<String> = command.args.iter().map(|a| context.fill(a)).collect();
    let program = args.first().cloned().unwrap_or_default();
    let timeout = command
        .timeout
        .as_ref()
        .map_or(DEFAULT_TIMEOUT, |t| t.to_std());
    let mut process = Command::new(&program);
    process
        .args(&args[1.min(args.len())..])
        .env_clear()
        .envs(
            PASSED_THROUGH
                .iter()
                .filter_map(|name| Some((*name, std::env::var(name).ok()?))),
        )
        .envs(context.variables())
        .envs(
            command
                .env
                .iter()
                .map(|(k, v)| (k.clone(), context.fill(v))),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match process.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Run {
                ended: Ended::Failed(format!("command `{program}` could not start: {e}")),
                output: Vec::new(),
            }
        }
    };
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::channel::<String>(64);
    // Kept while the command runs, so a chatty one never fills memory.
    let collector = tokio::spawn(async move {
        let mut output = Vec::new();
        let mut left_out = 0usize;
        while let Some(line) = lines_rx.recv().await {
            if output.len() < KEPT_LINES {
                output.push(line.chars().take(LONGEST_LINE).collect::<String>());
            } else {
                left_out += 1;
            }
        }
        if left_out > 0 {
            output.push(format!("… {left_out} more lines of output"));
        }
        output
    });
    let streams: [Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as _),
        child.stderr.take().map(|s| Box::new(s) as _),
    ];
    for stream in streams.into_iter().flatten() {
        let lines_tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if lines_tx.send(line).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(lines_tx);
    let never = CancellationToken::new();
    let cancel = cancel.unwrap_or(&never);
    let ended = tokio::select! {
        status = child.wait() => match status {
            Ok(status) if status.success() => Ended::Succeeded,
            Ok(status) => Ended::Failed(match status.code() {
                Some(code) => format!("command `{program}` exited with status {code}"),
                None => format!("command `{program}` was killed by a signal"),
            }),
            Err(e) => Ended::Failed(format!("command `{program}` could not be waited for: {e}")),
        },
        () = tokio::time::sleep(timeout) => {
            let _ = child.kill().await;
            Ended::Failed(format!(
                "command `{program}` did not finish within {}; it was killed",
                command.timeout.as_ref().map_or_else(|| "5m".to_string(), |t| t.to_string())
            ))
        }
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            Ended::Stopped
        }
    };
    // A program that left a child holding its output open is not waited for.
    let output = tokio::time::timeout(Duration::from_secs(2), collector)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Run { ended, output }
}

impl Engine {
    /// A `command` gate or verification: passes when the program exits with status 0.
    /// A command interrupted by a restart runs again from the start.
    pub(super) async fn command(
        &self,
        job: &StepJob,
        actions: &mut [Gate],
        at: Position,
        command: &CommandRun,
    ) -> Result<()> {
        let gate = &mut actions[at.index];
        gate.status = GateStatus::Waiting;
        gate.note = Some("running".into());
        self.save_actions(job, at.phase, actions).await?;
        let context = Context::new(&job.snapshot, &job.release, &job.environment);
        let run = run(command, &context, Some(&job.cancel)).await;
        let source = match at.phase {
            Phase::Gates => "gate",
            Phase::Verify => "verify",
        };
        for line in &run.output {
            self.store()
                .append_log(
                    &job.release,
                    &job.environment,
                    "info",
                    &format!("{source}: {line}"),
                )
                .await?;
        }
        match run.ended {
            Ended::Succeeded => {
                actions[at.index].note = None;
                Ok(())
            }
            Ended::Failed(why) => Err(EngineError::CheckFailed(why)),
            Ended::Stopped => Err(EngineError::Stopped),
        }
    }
}
