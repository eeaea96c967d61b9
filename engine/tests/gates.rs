//! Gates: approvals and soak times hold a step before it writes, through restarts.

mod common;

use common::{admin, person, promoter, viewer, Options, World};
use promenade_engine::auth::Role;
use promenade_engine::release::PromotionRequest;
use promenade_engine::store::ReleaseRecord;
use promenade_engine::{EngineError, ReleaseStatus, StepStatus};
use promenade_model::release::{Gate, GateStatus, StepRecord};
use promenade_model::resources::ResourceKind;

fn step<'a>(release: &'a ReleaseRecord, env: &str) -> &'a StepRecord {
    release.steps.iter().find(|s| s.environment == env).unwrap()
}

fn gates(release: &ReleaseRecord, env: &str) -> Vec<Gate> {
    step(release, env).gates()
}

fn policy(name: &str, selector: &str, body: &str) -> String {
    format!(
        "apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {{ name: {name} }}
spec:
  priority: 200
  selector: {selector}
{body}"
    )
}

/// A world of `apps` applications with `policy` applied as well.
async fn world_with(apps: usize, policy: &str) -> World {
    let world = World::new(Options {
        apps,
        ..Options::default()
    })
    .await;
    world.apply(policy).await;
    world
}

#[tokio::test]
async fn an_approval_gate_holds_prod_until_enough_people_with_the_role_approve() {
    let mut world = world_with(
        2,
        &policy(
            "prod-approval",
            "{ environmentKinds: [prod] }",
            "  gates:\n    - approval: { roles: [release-manager], count: 2 }\n",
        ),
    )
    .await;
    let release = world.promote_version("8.0.0").await;
    let id = release.id.clone();
    let waiting = world
        .wait_until(&id, |r| {
            gates(r, "prod").first().map(|g| g.status) == Some(GateStatus::Waiting)
        })
        .await;
    assert_eq!(step(&waiting, "prod").status, StepStatus::Gating);
    assert_eq!(step(&waiting, "staging-eu").status, StepStatus::Succeeded);
    assert_eq!(
        world.commits_of(&id, "prod"),
        0,
        "nothing is written before the gate"
    );

    // A promoter may promote but not approve; the refusal records nothing.
    let refused = world
        .engine
        .approve(&person("paul", Role::Promoter), &id, "prod")
        .await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "{refused:?}"
    );

    let once = world
        .engine
        .approve(&person("rita", Role::ReleaseManager), &id, "prod")
        .await
        .unwrap();
    assert_eq!(gates(&once, "prod")[0].approvals.len(), 1);
    let twice = world
        .engine
        .approve(&person("rita", Role::ReleaseManager), &id, "prod")
        .await;
    assert!(
        matches!(twice, Err(EngineError::Conflict { .. })),
        "{twice:?}"
    );
    let not_gated = world
        .engine
        .approve(&person("rita", Role::ReleaseManager), &id, "qa")
        .await;
    assert!(
        matches!(not_gated, Err(EngineError::Conflict { .. })),
        "{not_gated:?}"
    );

    // A restarted engine waits at the same gate with the approval it already has.
    world.restart(None).await;
    assert_eq!(world.engine.resume().await.unwrap(), 1);
    let resumed = world
        .wait_until(&id, |r| {
            step(r, "prod").attempt >= 2 && gates(r, "prod")[0].status == GateStatus::Waiting
        })
        .await;
    let gate = &gates(&resumed, "prod")[0];
    assert_eq!(gate.approvals.len(), 1, "{gate:?}");
    assert_eq!(gate.approvals_missing(), Some(1));
    assert_eq!(world.commits_of(&id, "prod"), 0);

    // Administrators may approve any gate.
    world
        .engine
        .approve(&person("ada", Role::Admin), &id, "prod")
        .await
        .unwrap();
    let done = world.wait(&id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let gate = &gates(&done, "prod")[0];
    assert_eq!(gate.status, GateStatus::Passed);
    assert_eq!(gate.describe(), "approved by rita, ada");
    assert_eq!(world.commits_of(&id, "prod"), 1);
}

#[tokio::test]
async fn a_soak_gate_waits_its_time_after_the_upstream_environment_finished() {
    let world = world_with(
        1,
        &policy(
            "soak-after-qa",
            "{ environments: [staging-eu] }",
            "  gates:\n    - soak: { after: upstream, duration: 2s }\n",
        ),
    )
    .await;
    let release = world.promote_version("8.1.0").await;
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");

    let time = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let qa_finished = time(step(&done, "qa").finished_at.as_deref().unwrap());
    let gate = &gates(&done, "staging-eu")[0];
    assert_eq!(gate.status, GateStatus::Passed);
    let until = time(gate.until.as_deref().unwrap());
    assert_eq!(until - qa_finished, time::Duration::seconds(2));
    let applied = time(step(&done, "staging-eu").finished_at.as_deref().unwrap());
    assert!(
        applied >= until,
        "staging-eu wrote at {applied}, before {until}"
    );
    // The other branch did not wait.
    let us = time(step(&done, "staging-us").finished_at.as_deref().unwrap());
    assert!(us < until, "staging-us finished at {us}");
}

#[tokio::test]
async fn a_release_waiting_for_approval_can_be_terminated() {
    let world = world_with(
        1,
        &policy(
            "qa-approval",
            "{ environments: [qa] }",
            "  gates:\n    - approval: {}\n",
        ),
    )
    .await;
    let release = world.promote_version("8.2.0").await;
    world
        .wait_until(&release.id, |r| {
            gates(r, "qa").first().map(|g| g.status) == Some(GateStatus::Waiting)
        })
        .await;
    let terminated = world
        .engine
        .terminate(&promoter("alice"), &release.id)
        .await
        .unwrap();
    assert_eq!(terminated.status, ReleaseStatus::Terminated);
    assert_eq!(step(&terminated, "qa").status, StepStatus::Terminated);
    let late = world
        .engine
        .approve(&person("paul", Role::Promoter), &release.id, "qa")
        .await;
    assert!(
        matches!(late, Err(EngineError::Conflict { .. })),
        "{late:?}"
    );
    assert!(world.promotion_commits().is_empty());
}

#[tokio::test]
async fn actions_the_engine_does_not_run_are_refused_when_planning() {
    let world = World::new(Options::default()).await;
    for (name, body, kind) in [
        (
            "workflow-gate",
            "  gates:\n    - workflow: { template: smoke-tests }\n",
            "`workflow`",
        ),
        (
            "window-on-mars",
            "  gates:\n    - window: { timezone: Mars/Olympus_Mons }\n",
            "unknown time zone \"Mars/Olympus_Mons\" in a `window`",
        ),
        (
            "argocd-verify",
            "  verify:\n    - argocd: { timeout: 5m }\n",
            "`argocd`",
        ),
    ] {
        world
            .apply(&policy(name, "{ environments: [qa] }", body))
            .await;
        let refused = world
            .engine
            .promote(&promoter("alice"), "shop", &PromotionRequest::default())
            .await;
        match refused {
            Err(EngineError::BadRequest(message)) => {
                assert!(message.contains(kind), "{message}");
                assert!(message.contains("\"qa\""), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        world
            .engine
            .delete_resource(&admin(), ResourceKind::PromotionPolicy, name)
            .await
            .unwrap();
    }
    let listed = world
        .engine
        .list_releases(&viewer(), &Default::default())
        .await
        .unwrap();
    assert!(listed.is_empty(), "refused promotions create no release");
}

/// A loopback HTTP server standing in for a service's health endpoint: answers each
/// request with `answer(path, count so far)` and records the paths asked for.
struct Endpoint {
    url: String,
    paths: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// `METHOD body` of each request.
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

async fn endpoint(answer: fn(&str, usize) -> (u16, String)) -> Endpoint {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = paths.clone();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sent = bodies.clone();
    tokio::spawn(async move {
        let bodies = sent;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..read]);
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = body.as_bytes().to_vec();
            while body.len() < length {
                let read = socket.read(&mut buffer).await.unwrap();
                if read == 0 {
                    break;
                }
                body.extend_from_slice(&buffer[..read]);
            }
            let method = head.split_whitespace().next().unwrap_or("").to_string();
            bodies
                .lock()
                .unwrap()
                .push(format!("{method} {}", String::from_utf8_lossy(&body)));
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let count = {
                let mut seen = seen.lock().unwrap();
                seen.push(path.clone());
                seen.len()
            };
            let (status, body) = answer(&path, count);
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    Endpoint { url, paths, bodies }
}

#[tokio::test]
async fn an_http_gate_waits_until_the_service_answers_as_expected() {
    // Unhealthy for the first three calls, then healthy.
    let service = endpoint(|_, count| match count {
        1..=3 => (503, r#"{"status":"starting"}"#.into()),
        _ => (200, r#"{"status":"ok"}"#.into()),
    })
    .await;
    let world = world_with(
        2,
        &policy(
            "eu-health",
            "{ environments: [staging-eu] }",
            &format!(
                "  gates:\n    - http: {{ url: \"{}/health/{{env}}/{{version}}/{{application}}\", expectJson: {{ path: \"$.status\", equals: ok }}, timeout: 30s }}\n",
                service.url
            ),
        ),
    )
    .await;
    let release = world.promote_version("8.3.0").await;
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let gate = &gates(&done, "staging-eu")[0];
    assert_eq!(gate.status, GateStatus::Passed);
    let paths = service.paths.lock().unwrap().clone();
    // Every attempt asks for each application until one fails; the last asks for both.
    assert!(paths.len() >= 5, "{paths:?}");
    assert_eq!(
        paths[paths.len() - 2..],
        [
            "/health/staging-eu/8.3.0/app-000".to_string(),
            "/health/staging-eu/8.3.0/app-001".to_string()
        ]
    );
    // The gate held the write until the service answered.
    let eu = step(&done, "staging-eu");
    assert!(
        eu.attempt == 1 && eu.status == StepStatus::Succeeded,
        "{eu:#?}"
    );
}

#[tokio::test]
async fn verification_that_never_passes_fails_the_step_after_its_change_at_the_timeout() {
    let service = endpoint(|_, _| (500, r#"{"status":"down"}"#.into())).await;
    let world = world_with(
        1,
        &policy(
            "qa-verify",
            "{ environments: [qa] }",
            &format!(
                "  verify:\n    - soak: {{ after: apply, duration: 1s }}\n    - http: {{ url: \"{}/ready\", timeout: 1s }}\n",
                service.url
            ),
        ),
    )
    .await;
    let release = world.promote_version("8.4.0").await;
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Failed, "{done:#?}");
    let qa = step(&done, "qa");
    assert_eq!(qa.status, StepStatus::Failed);
    let error = qa.detail.error.as_deref().unwrap();
    assert!(
        error.contains("verify check did not pass within 1s")
            && error.contains("/ready answered 500"),
        "{error}"
    );
    let checks = qa.verification();
    assert_eq!(checks[0].status, GateStatus::Passed, "the soak ran first");
    assert_eq!(checks[1].status, GateStatus::Waiting);
    assert!(
        checks[1].describe().contains("answered 500"),
        "{:?}",
        checks[1]
    );
    // Verification comes after the change: qa was written, and nothing downstream ran.
    assert!(world
        .promotion_commits()
        .iter()
        .any(|(env, id)| env == "qa" && *id == release.id));
    assert!(matches!(
        step(&done, "staging-eu").status,
        StepStatus::Pending | StepStatus::Waiting
    ));
}

#[tokio::test]
async fn a_window_gate_lets_a_step_through_inside_its_days_and_holds_it_outside() {
    // Days as written in YAML, from today in Tokyo: today and tomorrow are allowed for
    // qa (so the test passes across midnight), only the day after next for staging-eu.
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let zone = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let today = jiff::Timestamp::now().to_zoned(zone).weekday();
    let day = |ahead: i8| {
        names[usize::try_from(today.wrapping_add(ahead).to_monday_zero_offset()).unwrap()]
    };
    let world = world_with(
        1,
        &format!(
            "{}---\n{}",
            policy(
                "qa-window",
                "{ environments: [qa] }",
                &format!(
                    "  gates:\n    - window: {{ days: [{}, {}], timezone: Asia/Tokyo }}\n",
                    day(0),
                    day(1)
                ),
            ),
            policy(
                "eu-window",
                "{ environments: [staging-eu] }",
                &format!(
                    "  gates:\n    - window: {{ days: [{}], hours: \"00:00-24:00\", timezone: Asia/Tokyo }}\n",
                    day(3)
                ),
            ),
        ),
    )
    .await;
    let release = world.promote_version("8.5.0").await;
    let held = world
        .wait_until(&release.id, |r| {
            gates(r, "staging-eu").first().map(|g| g.status) == Some(GateStatus::Waiting)
        })
        .await;
    assert_eq!(step(&held, "qa").status, StepStatus::Succeeded);
    assert_eq!(gates(&held, "qa")[0].status, GateStatus::Passed);
    assert_eq!(step(&held, "staging-eu").status, StepStatus::Gating);
    let waiting = gates(&held, "staging-eu")[0].describe();
    assert!(
        waiting.starts_with("waiting for the promotion window (outside the window: it is ")
            && waiting.ends_with(" in Asia/Tokyo)"),
        "{waiting}"
    );
    // The other branch is not held.
    let us = world
        .wait_until(&release.id, |r| {
            step(r, "staging-us").status == StepStatus::Succeeded
        })
        .await;
    assert_eq!(step(&us, "staging-eu").status, StepStatus::Gating);
    world
        .engine
        .terminate(&promoter("alice"), &release.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn hooks_tell_a_service_how_a_release_ended() {
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    let tracker = endpoint(|path, _| match path {
        "/broken" => (500, "{}".into()),
        _ => (204, String::new()),
    })
    .await;
    let flow = common::standard_flow(&format!(
        "  hooks:
    onSuccess:
      - http: {{ url: \"{url}/released/{{product}}/{{version}}\", method: POST }}
      - http: {{ url: \"{url}/broken\", timeout: 1s }}
    onFailure:
      - http: {{ url: \"{url}/failed\", method: POST }}
",
        url = tracker.url
    ));
    world.apply(&flow).await;
    let release = world.promote_version("8.6.0").await;
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    // Hooks run after the release is final; the broken one is retried until its timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let logs = loop {
        let logs = world
            .engine
            .release_logs(&viewer(), &release.id)
            .await
            .unwrap();
        if logs.iter().any(|line| line.environment == "hooks") {
            break logs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no hook log: {logs:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let paths = tracker.paths.lock().unwrap().clone();
    assert_eq!(paths[0], "/released/shop/8.6.0", "{paths:?}");
    assert!(paths[1..].iter().all(|p| p == "/broken"), "{paths:?}");
    assert!(!paths.contains(&"/failed".to_string()));
    let sent = tracker.bodies.lock().unwrap()[0].clone();
    let (method, body) = sent.split_once(' ').unwrap();
    assert_eq!(method, "POST");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "release": release.id,
            "product": "shop",
            "version": "8.6.0",
            "status": "succeeded",
        })
    );
    let line = logs
        .iter()
        .find(|line| line.environment == "hooks")
        .unwrap();
    assert_eq!(line.level, "error");
    assert!(
        line.message.contains("/broken answered 500"),
        "{}",
        line.message
    );
    // The release's outcome stands.
    let after = world.engine.release(&viewer(), &release.id).await.unwrap();
    assert_eq!(after.status, ReleaseStatus::Succeeded);
}

#[tokio::test]
async fn hooks_other_than_http_are_refused_when_planning() {
    let world = World::new(Options::default()).await;
    world
        .apply(
            "apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata: { name: standard }
spec:
  triggerEnvironment: dev
  steps:
    - { environment: qa, dependsOn: [dev] }
  hooks:
    onFailure:
      - workflow: { template: page-someone }
",
        )
        .await;
    let refused = world
        .engine
        .promote(&promoter("alice"), "shop", &PromotionRequest::default())
        .await;
    match refused {
        Err(EngineError::BadRequest(message)) => {
            assert!(message.contains("`workflow` hook"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
