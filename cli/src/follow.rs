//! `promote --wait`: follows a release's event stream until the release ends. On a
//! terminal a spinner shows every step's state; anywhere else (a CI log) each state
//! change is one line, printed as it happens. A stream that ends or breaks off before
//! the release does (the server restarting, a proxy's timeout) is opened again with
//! `Last-Event-ID`, so no event is missed or shown twice.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use promenade_model::release::{EventChange, EventRecord, ReleaseRecord, StepStatus};

use crate::args::Output;
use crate::client::Client;

/// How long to keep reopening a stream that broke off before giving up.
const RECONNECT_FOR: Duration = Duration::from_secs(300);
/// The pause between two attempts to reopen it.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Follows release `id` until it is final.
pub async fn follow(client: &Client, id: &str, output: Output) -> anyhow::Result<()> {
    let view = View::new(output);
    let path = format!("/releases/{id}/events");
    let mut state = Followed::default();
    let mut broken_since: Option<Instant> = None;
    loop {
        let seen = state.last_seq;
        let outcome = match client.stream(&path, state.last_seq).await {
            Ok(response) => state.read(response, &view).await,
            Err(error) => Err(error),
        };
        if state.finished {
            break;
        }
        let problem = match outcome {
            // The server ends the stream once the release is final; it also ends it when
            // it shuts down. Ask which.
            Ok(()) => {
                let release: ReleaseRecord = match client.get(&format!("/releases/{id}")).await {
                    Ok(release) => release,
                    Err(error) => Err(error).context("the event stream ended")?,
                };
                if release.status.is_final() {
                    break;
                }
                "the event stream ended before the release did".to_string()
            }
            Err(error) => format!("{error:#}"),
        };
        if state.last_seq > seen {
            broken_since = None;
        }
        let since = *broken_since.get_or_insert_with(Instant::now);
        if since.elapsed() > RECONNECT_FOR {
            bail!(
                "{problem}; gave up reconnecting after {} s (the release goes on: `promenade releases {id}`)",
                RECONNECT_FOR.as_secs()
            );
        }
        view.note(&format!("{problem}; reconnecting"));
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
    view.finish();
    Ok(())
}

/// What the events said so far.
#[derive(Default)]
struct Followed {
    /// The last event's number: where a reopened stream resumes.
    last_seq: i64,
    /// Each step's latest status, in the order they first changed.
    steps: Vec<(String, StepStatus)>,
    finished: bool,
}

impl Followed {
    /// Reads the stream until it ends.
    async fn read(&mut self, mut response: reqwest::Response, view: &View) -> anyhow::Result<()> {
        let mut buffer = String::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .context("the event stream broke off")?
        {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                    continue;
                };
                if let Ok(event) = serde_json::from_str::<EventRecord>(data.trim()) {
                    self.apply(&event, view);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: &EventRecord, view: &View) {
        if event.seq <= self.last_seq {
            return;
        }
        self.last_seq = event.seq;
        match &event.change {
            EventChange::Release(change) => self.finished = change.status.is_final(),
            EventChange::Step(change) => {
                let Some(environment) = event.environment.as_deref() else {
                    return;
                };
                match self.steps.iter_mut().find(|(e, _)| e == environment) {
                    Some(entry) => entry.1 = change.status,
                    None => self.steps.push((environment.to_string(), change.status)),
                }
                view.step(environment, change.status);
                if change.status == StepStatus::AwaitingMerge {
                    let opened = change
                        .detail
                        .iter()
                        .flat_map(|d| &d.repositories)
                        .filter_map(|r| r.pull_request.as_ref());
                    for request in opened {
                        view.line(&format!(
                            "  {environment}: waits for pull request #{} {}",
                            request.number, request.url
                        ));
                    }
                }
                let summary: Vec<String> = self
                    .steps
                    .iter()
                    .map(|(e, s)| format!("{e}: {s}"))
                    .collect();
                view.summary(&summary.join(", "));
            }
            EventChange::Gate(_) | EventChange::Approval(_) => {}
        }
    }
}

/// Where progress goes: a spinner on a terminal, plain lines elsewhere, nothing when the
/// output is for scripts (standard output is then the release's JSON, YAML or id alone).
enum View {
    Spinner(ProgressBar),
    Lines,
    Quiet,
}

impl View {
    fn new(output: Output) -> View {
        match output {
            Output::Json | Output::Yaml | Output::Name => View::Quiet,
            Output::Text | Output::Wide if std::io::stdout().is_terminal() => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                View::Spinner(bar)
            }
            Output::Text | Output::Wide => View::Lines,
        }
    }

    /// A step changed state: a line when it ended (on a terminal the spinner shows the
    /// rest), or every change when there is no spinner.
    fn step(&self, environment: &str, status: StepStatus) {
        match self {
            View::Spinner(_) if status.is_final() => {
                self.line(&format!("  {environment}: {status}"))
            }
            View::Lines => self.line(&format!("  {environment}: {status}")),
            View::Spinner(_) | View::Quiet => {}
        }
    }

    fn line(&self, text: &str) {
        match self {
            View::Spinner(bar) => bar.println(text),
            View::Lines => println!("{text}"),
            View::Quiet => {}
        }
    }

    fn summary(&self, text: &str) {
        if let View::Spinner(bar) = self {
            bar.set_message(text.to_string());
        }
    }

    /// Something went wrong with the stream, not with the release: on standard error.
    fn note(&self, text: &str) {
        match self {
            View::Spinner(bar) => bar.suspend(|| eprintln!("{text}")),
            View::Lines | View::Quiet => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let View::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}
