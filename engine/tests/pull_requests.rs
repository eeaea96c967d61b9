//! Pull requests on GitHub and GitLab: opened once with the promotion's words, watched
//! until merged (by the host's webhook or by polling), auto-merged, closed with the
//! release, and commit statuses on the source commit — against loopback fakes that
//! speak the hosts' REST (and GitHub's GraphQL) shapes over the real repository.

mod common;

use std::time::Duration;

use common::{promoter, values, values_path, Options, World};
use promenade_engine::release::PromotionRequest;
use promenade_engine::store::ReleaseRecord;
use promenade_engine::webhook::{Delivery, Receiver};
use promenade_model::hosting::PREVIEW_MARKER;
use promenade_model::release::{PullRequestRecord, PullRequestState, ReleaseStatus, StepStatus};
use promenade_testkit::hosts::{FakeHost, Flavour};

const TOKEN: &str = "ghp_fake_token_for_tests";

/// A world whose repository is served by `host` as `acme/shop` (GitHub) or under its
/// full path (GitLab), with prod promoted by pull request and `pull_request` the prod
/// policy's settings.
async fn hosted_world(host: &FakeHost, pull_request: &str) -> (World, String) {
    let world = World::new(Options {
        prod_action: "pr",
        ..Options::default()
    })
    .await;
    let segments: Vec<String> = world
        .remote
        .with_extension("")
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| s != "/")
        .collect();
    let (provider, project) = match host.flavour() {
        Flavour::GitHub => ("github", segments[segments.len() - 2..].join("/")),
        Flavour::GitLab => ("gitlab", segments.join("/")),
    };
    host.serve(&project, &world.remote);
    world.token_credentials("host-api", TOKEN).await;
    let resources = common::resources(&world.url, &world.apps, "pr", "queue")
        .replace(
            "branch: main }",
            &format!(
                "branch: main, provider: {provider}, apiUrl: \"{}\", apiCredentials: host-api }}",
                host.api_url
            ),
        )
        .replace(
            "  action: pr\n",
            &format!("  action: pr\n  {pull_request}\n"),
        );
    world.apply(&resources).await;
    (world, project)
}

fn prod(release: &ReleaseRecord) -> &promenade_model::release::StepRecord {
    release
        .steps
        .iter()
        .find(|s| s.environment == "prod")
        .unwrap()
}

fn pull_request(release: &ReleaseRecord) -> Option<PullRequestRecord> {
    prod(release)
        .detail
        .repositories
        .iter()
        .find_map(|r| r.pull_request.clone())
}

async fn waiting_for_merge(world: &World, id: &str) -> PullRequestRecord {
    let release = world
        .wait_until(id, |r| {
            prod(r).status == StepStatus::AwaitingMerge && pull_request(r).is_some()
        })
        .await;
    pull_request(&release).unwrap()
}

#[tokio::test]
async fn a_github_pull_request_is_opened_once_and_its_merge_finishes_the_step() {
    let github = FakeHost::github().await;
    let (mut world, project) = hosted_world(
        &github,
        "pullRequest: { labels: [promotion], reviewers: [rita], assignees: [sam] }",
    )
    .await;
    let source = world.release_in("dev", "9.0.0");
    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &PromotionRequest::default())
        .await
        .unwrap();
    let record = waiting_for_merge(&world, &release.id).await;
    assert_eq!(record.number, 1);
    assert_eq!(record.state, PullRequestState::Open);
    assert_eq!(record.url, format!("{}/{project}/pull/1", github.api_url));

    let pulls = github.pulls();
    assert_eq!(pulls.len(), 1);
    let pull = &pulls[0];
    assert_eq!(pull.title, "Promote shop 9.0.0 to prod");
    assert_eq!(pull.head, format!("promenade/shop/prod/{}", release.id));
    assert_eq!(pull.base, "main");
    assert_eq!(pull.labels, ["promotion"]);
    assert_eq!(pull.reviewers, ["rita"]);
    assert_eq!(pull.assignees, ["sam"]);
    assert!(!pull.draft);
    assert!(
        pull.body.contains(&format!("release `{}`", release.id)),
        "{}",
        pull.body
    );
    assert!(
        pull.body
            .contains("3 of 3 applications change: 3 files, +3 −3 lines."),
        "{}",
        pull.body
    );
    assert!(
        pull.body.contains("| app-000 | 9.0.0 | 1 | +1 −1 |"),
        "{}",
        pull.body
    );
    let comments = github.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.starts_with(PREVIEW_MARKER));
    assert!(
        comments[0]
            .body
            .contains("-  tag: \"1.0.0\"  # the version running here\n+  tag: \"9.0.0\""),
        "{}",
        comments[0].body
    );
    assert!(github
        .requests()
        .iter()
        .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))));

    // A restart in the middle of the wait finds the request instead of opening another.
    world.restart(None).await;
    world.engine.resume().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(github.pulls().len(), 1, "a restart opened a second request");
    assert_eq!(
        github.comments().len(),
        1,
        "the preview is kept, not written twice"
    );
    let lists = github
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pulls"))
        .count();
    assert_eq!(lists, 1, "one request was opened, ever");
    // Polling re-reads the request conditionally: unchanged answers are 304s.
    assert!(github
        .requests()
        .iter()
        .any(|r| { r.path.ends_with("/pulls/1") && r.if_none_match.is_some() && r.status == 304 }));

    let merge_commit = github.merge(1);
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let record = pull_request(&done).unwrap();
    assert_eq!(record.state, PullRequestState::Merged);
    assert_eq!(record.merge_commit.as_deref(), Some(merge_commit.as_str()));
    assert_eq!(prod(&done).status, StepStatus::Succeeded);
    assert_eq!(
        world.read("main", &values_path(&world.apps[0], "prod")),
        values(&world.apps[0], "prod", "9.0.0")
    );

    // Every environment's progress is on the source commit.
    let statuses: Vec<(String, String)> = github
        .statuses()
        .into_iter()
        .filter(|s| s.sha == source.to_string())
        .map(|s| (s.context, s.state))
        .collect();
    for env in ["qa", "staging-eu", "staging-us", "prod"] {
        let context = format!("promenade/{env}");
        let states: Vec<&str> = statuses
            .iter()
            .filter(|(c, _)| *c == context)
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(states.first(), Some(&"pending"), "{context}: {states:?}");
        assert_eq!(states.last(), Some(&"success"), "{context}: {states:?}");
    }
}

#[tokio::test]
async fn a_request_closed_without_merging_fails_the_step_saying_by_whom() {
    let github = FakeHost::github().await;
    let (world, _) = hosted_world(&github, "pullRequest: { labels: [promotion] }").await;
    let release = world.promote_version("9.1.0").await;
    let record = waiting_for_merge(&world, &release.id).await;
    github.close(record.number, "bob");
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(
        prod(&failed).detail.error.as_deref(),
        Some("pull request #1 was closed without merging by bob")
    );
    let prod_statuses: Vec<String> = github
        .statuses()
        .into_iter()
        .filter(|s| s.context == "promenade/prod")
        .map(|s| s.state)
        .collect();
    assert_eq!(prod_statuses, ["pending", "failure"]);
}

#[tokio::test]
async fn auto_merge_is_asked_for_and_a_refusal_is_shown_until_the_api_can_merge() {
    let github = FakeHost::github().await;
    let (world, _) = hosted_world(
        &github,
        "pullRequest: { labels: [promotion], autoMerge: true, mergeMethod: squash }",
    )
    .await;
    github.refuse_auto_merge(Some(
        "Pull request Auto merge is not allowed for this repository",
    ));
    let release = world.promote_version("9.2.0").await;
    let refused = world
        .wait_until(&release.id, |r| {
            pull_request(r).is_some_and(|p| p.note.is_some())
        })
        .await;
    assert_eq!(
        pull_request(&refused).unwrap().note.as_deref(),
        Some(
            "GitHub refused auto-merge: Pull request Auto merge is not allowed for this repository"
        )
    );

    // Allowed now: auto-merge is enabled with the policy's method.
    github.refuse_auto_merge(None);
    world
        .wait_until(&release.id, |r| {
            pull_request(r).is_some_and(|p| p.note.is_none())
        })
        .await;
    let graphql = github
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/graphql")
        .unwrap();
    assert_eq!(graphql.body["variables"]["method"], "SQUASH");
    assert_eq!(graphql.body["variables"]["id"], "PR_kwDOfake1");
    assert_eq!(github.pulls()[0].auto_merge.as_deref(), Some("squash"));

    // Approved and checks passed: GitHub merges it by itself, as asked.
    github.set_checks(Some("success"));
    github.set_mergeable(true);
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let merged = pull_request(&done).unwrap();
    assert_eq!(merged.state, PullRequestState::Merged);
    assert_eq!(merged.merge_commit, github.pulls()[0].merge_commit);
}

#[tokio::test]
async fn a_request_that_may_be_merged_already_is_merged_through_the_api() {
    let github = FakeHost::github().await;
    let (world, _) = hosted_world(
        &github,
        "pullRequest: { labels: [promotion], autoMerge: true, mergeMethod: rebase }",
    )
    .await;
    github.set_mergeable(true);
    let release = world.promote_version("9.7.0").await;
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let merge = github
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/pulls/1/merge"))
        .unwrap();
    assert_eq!(merge.body["merge_method"], "rebase");
    assert!(
        github.requests().iter().all(|r| r.path != "/graphql"),
        "auto-merge is not enabled on a request that may be merged now"
    );
}

#[tokio::test]
async fn a_secondary_rate_limit_is_waited_out_and_the_call_retried() {
    let github = FakeHost::github().await;
    let (world, _) = hosted_world(&github, "pullRequest: { labels: [promotion] }").await;
    github.throttle(1);
    let release = world.promote_version("9.3.0").await;
    let record = waiting_for_merge(&world, &release.id).await;
    assert_eq!(record.number, 1);
    let requests = github.requests();
    let refused = requests.iter().position(|r| r.status == 403).unwrap();
    let again = &requests[refused + 1];
    assert_eq!(
        (again.method.as_str(), again.path.as_str()),
        (
            requests[refused].method.as_str(),
            requests[refused].path.as_str()
        ),
        "the refused call is the next one made"
    );
    assert_ne!(again.status, 403);
}

#[tokio::test]
async fn terminating_the_release_closes_its_request_with_a_comment() {
    let github = FakeHost::github().await;
    let (world, _) = hosted_world(&github, "pullRequest: { labels: [promotion] }").await;
    let release = world.promote_version("9.4.0").await;
    waiting_for_merge(&world, &release.id).await;
    world
        .engine
        .terminate(&promoter("carol"), &release.id)
        .await
        .unwrap();
    assert_eq!(github.pulls()[0].state, "closed");
    let comment = github.comments().into_iter().last().unwrap();
    assert_eq!(
        comment.body,
        format!(
            "Promenade closes this pull request: release {} was terminated by carol.",
            release.id
        )
    );
    let last_prod = github
        .statuses()
        .into_iter()
        .rev()
        .find(|s| s.context == "promenade/prod")
        .unwrap();
    assert_eq!(last_prod.state, "error");
}

#[tokio::test]
async fn the_hosts_webhook_wakes_the_wait_at_once() {
    use hmac::Mac;
    let github = FakeHost::github().await;
    let (mut world, _) = hosted_world(&github, "pullRequest: { labels: [promotion] }").await;
    // Polling is far too slow to notice the merge in this test's time.
    world
        .restart_with(None, |config| {
            config.merge_poll_interval = Duration::from_secs(600)
        })
        .await;
    let secret = "webhook-secret";
    world.token_credentials("github-webhook", secret).await;
    let release = world.promote_version("9.5.0").await;
    let record = waiting_for_merge(&world, &release.id).await;
    github.merge(record.number);
    let body = serde_json::json!({
        "action": "closed",
        "number": record.number,
        "pull_request": { "merged": true, "base": { "ref": "prod-unrelated", "repo": { "clone_url": "https://github.com/acme/shop.git" } } }
    })
    .to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    world
        .engine
        .receive_webhook(
            Receiver::GitHub,
            &Delivery {
                headers: vec![
                    ("x-github-event".into(), "pull_request".into()),
                    ("x-github-delivery".into(), "d-1".into()),
                    ("x-hub-signature-256".into(), signature),
                ],
                body: body.as_bytes(),
            },
        )
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_gitlab_merge_request_merges_when_the_pipeline_succeeds() {
    let gitlab = FakeHost::gitlab().await;
    let (world, project) = hosted_world(
        &gitlab,
        "pullRequest: { labels: [promotion, prod], reviewers: [rita], autoMerge: true, draft: false }",
    )
    .await;
    gitlab.set_checks(Some("running"));
    let source = world.release_in("dev", "9.6.0");
    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &PromotionRequest::default())
        .await
        .unwrap();
    let record = world
        .wait_until(&release.id, |r| {
            pull_request(r).is_some_and(|p| p.checks.is_some())
        })
        .await;
    let record = pull_request(&record).unwrap();
    let root = gitlab.api_url.trim_end_matches("/api/v4");
    assert_eq!(record.url, format!("{root}/{project}/-/merge_requests/1"));
    assert_eq!(record.checks.map(|c| c.as_str()), Some("pending"));
    let pulls = gitlab.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Promote shop 9.6.0 to prod");
    assert_eq!(pulls[0].labels, ["promotion", "prod"]);
    assert_eq!(pulls[0].reviewers, ["rita"]);
    // The request is shown before the wait asks for auto-merge: give it that moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gitlab.pulls()[0].auto_merge.is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        gitlab.pulls()[0].auto_merge.as_deref(),
        Some("merge"),
        "merge when the pipeline succeeds"
    );
    let encoded = project.replace('/', "%2F");
    assert!(gitlab
        .requests()
        .iter()
        .any(|r| r.method == "POST"
            && r.path == format!("/api/v4/projects/{encoded}/merge_requests")));

    // The pipeline passes and GitLab merges.
    gitlab.set_checks(Some("success"));
    let merge_commit = gitlab.merge(record.number);
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert_eq!(
        pull_request(&done).unwrap().merge_commit.as_deref(),
        Some(merge_commit.as_str())
    );
    let prod_statuses: Vec<String> = gitlab
        .statuses()
        .into_iter()
        .filter(|s| s.context == "promenade/prod" && s.sha == source.to_string())
        .map(|s| s.state)
        .collect();
    assert_eq!(prod_statuses, ["pending", "success"]);
}

#[tokio::test]
async fn a_hosted_repository_without_api_credentials_is_refused_at_apply() {
    let world = World::new(Options::default()).await;
    let resources = common::resources(&world.url, &world.apps, "pr", "queue").replace(
        "branch: main }",
        "branch: main, provider: github, apiUrl: \"http://127.0.0.1:9\" }",
    );
    let problems = world.refusals("resources.yaml", &resources).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("is on github") && p.contains("apiCredentials")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn pull_request_settings_are_refused_for_a_generic_git_server() {
    let world = World::new(Options {
        prod_action: "pr",
        ..Options::default()
    })
    .await;
    let resources = common::resources(&world.url, &world.apps, "pr", "queue").replace(
        "  action: pr\n",
        "  action: pr\n  pullRequest: { reviewers: [rita] }\n",
    );
    world.apply(&resources).await;
    world.release_in("dev", "9.8.0");
    let refused = world
        .engine
        .promote(&promoter("alice"), "shop", &PromotionRequest::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("environment \"prod\" has `pullRequest` settings")
            && refused.contains("is a generic git server"),
        "{refused}"
    );
}
