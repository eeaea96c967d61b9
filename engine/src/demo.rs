//! `promenade demo`: a ready-made product to try Promenade on — a local bare git
//! repository laid out like a GitOps monorepo, and the resources that promote it.
//!
//! It is also the one fixture of the project: the engine's and the server's tests and
//! benchmarks build their worlds from [`resources`], [`values`] and [`standard_flow`] with
//! their own [`Shape`] (more applications, prod by commit, another concurrency), and the
//! browser tests run against the demo itself.

use std::path::{Path, PathBuf};

use git2::build::TreeUpdateBuilder;
use git2::{FileMode, Repository, Signature};

use crate::auth::{Principal, Role};
use crate::resources::ResourceChange;
use crate::{Engine, EngineError, Result};

/// The demo's applications.
pub const APPLICATIONS: [&str; 3] = ["web", "api", "worker"];
/// The environments in flow order: name, kind, replicas, colour.
const ENVIRONMENTS: [(&str, &str, u32, &str); 5] = [
    ("dev", "non-prod", 1, "#6b7280"),
    ("qa", "non-prod", 1, "#0e7490"),
    ("staging-eu", "non-prod", 2, "#7c3aed"),
    ("staging-us", "non-prod", 2, "#7c3aed"),
    ("prod", "prod", 4, "#b3261e"),
];

/// What [`set_up`] did.
#[derive(Debug)]
pub struct Demo {
    pub repository: PathBuf,
    /// False when an earlier run had set it up already.
    pub created: bool,
    pub changes: Vec<ResourceChange>,
}

/// Creates the demo once: the repository under `<data_dir>/demo/` and the resources in
/// the store, applied by the system principal `demo` (a release manager: the demo brings
/// its own flow and template). Running it again changes nothing.
pub async fn set_up(engine: &Engine, data_dir: &Path) -> Result<Demo> {
    let repository = data_dir.join("demo").join("gitops.git");
    let created = !repository.exists();
    if created {
        let path = repository.clone();
        tokio::task::spawn_blocking(move || create_repository(&path))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
    }
    let absolute = repository
        .canonicalize()
        .map_err(|source| EngineError::DataDir {
            path: repository.display().to_string(),
            source,
        })?;
    let resources = resources(&format!("file://{}", absolute.display()), &Shape::default());
    std::fs::write(data_dir.join("demo").join("resources.yaml"), &resources).map_err(|source| {
        EngineError::DataDir {
            path: data_dir.display().to_string(),
            source,
        }
    })?;
    let author = Principal::system("demo", Role::ReleaseManager);
    let changes = engine
        .apply(
            &author,
            "demo/resources.yaml",
            &resources,
            &Default::default(),
        )
        .await?;
    Ok(Demo {
        repository: absolute,
        created,
        changes,
    })
}

fn create_repository(path: &Path) -> Result<()> {
    let fail = |e: git2::Error| EngineError::Git {
        url: path.display().to_string(),
        action: "create the demo repository".into(),
        message: e.message().to_string(),
    };
    let repo = Repository::init_bare(path).map_err(fail)?;
    let empty = repo
        .treebuilder(None)
        .and_then(|b| b.write())
        .map_err(fail)?;
    let base = repo.find_tree(empty).map_err(fail)?;
    let mut builder = TreeUpdateBuilder::new();
    let readme =
        "# acme/gitops\n\nOne folder per application and environment: `apps/<app>/envs/<env>/`.\n\
                  Argo CD syncs each folder; Promenade promotes image tags between them.\n";
    builder.upsert(
        "README.md",
        repo.blob(readme.as_bytes()).map_err(fail)?,
        FileMode::Blob,
    );
    for app in APPLICATIONS {
        for env in environments() {
            // dev runs a newer build than the rest, so there is something to promote.
            let tag = if env == "dev" { "1.5.0" } else { "1.4.0" };
            let file = values(app, env, tag);
            builder.upsert(
                values_path(app, env),
                repo.blob(file.as_bytes()).map_err(fail)?,
                FileMode::Blob,
            );
        }
    }
    let tree = builder.create_updated(&repo, &base).map_err(fail)?;
    let tree = repo.find_tree(tree).map_err(fail)?;
    let who = Signature::now("Acme Platform Team", "platform@acme.example").map_err(fail)?;
    repo.commit(
        Some("refs/heads/main"),
        &who,
        &who,
        "Lay out the shop applications",
        &tree,
        &[],
    )
    .map_err(fail)?;
    repo.set_head("refs/heads/main").map_err(fail)?;
    Ok(())
}

/// The environments of the flow `standard`, in order.
pub fn environments() -> impl Iterator<Item = &'static str> {
    ENVIRONMENTS.iter().map(|(name, ..)| *name)
}

/// Where an application's values live in an environment.
pub fn values_path(app: &str, env: &str) -> String {
    format!("apps/{app}/envs/{env}/values.yaml")
}

/// An application's Helm values in an environment, running `tag`.
pub fn values(app: &str, env: &str, tag: &str) -> String {
    let level = if env == "prod" { "info" } else { "debug" };
    let replicas = ENVIRONMENTS
        .iter()
        .find(|(name, ..)| *name == env)
        .map_or(1, |(_, _, replicas, _)| *replicas);
    format!(
        "# Helm values for the shop's {app} service in {env}.\n\
         # Promenade promotes image.tag; everything else belongs to this environment.\n\
         replicaCount: {replicas}  # sized for {env}\n\
         \n\
         image:\n\
         \x20 repository: ghcr.io/acme/shop-{app}\n\
         \x20 tag: \"{tag}\"  # the version running here\n\
         \x20 pullPolicy: IfNotPresent\n\
         \n\
         service:\n\
         \x20 port: 8080\n\
         \n\
         resources:\n\
         \x20 requests: {{ cpu: 100m, memory: 128Mi }}\n\
         \n\
         env:\n\
         \x20 LOG_LEVEL: {level}\n"
    )
}

/// What tests and benchmarks vary in the demo's resources.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Application names.
    pub applications: Vec<String>,
    /// How prod is changed: `pr` (the demo), `commit` or `none`.
    pub prod_action: String,
    /// `queue` (the demo) or `terminate`.
    pub concurrency: String,
    /// The credentials the repository is reached with (none for the demo's own).
    pub credentials: Option<String>,
}

impl Default for Shape {
    /// The demo itself.
    fn default() -> Self {
        Self {
            applications: APPLICATIONS.iter().map(|a| a.to_string()).collect(),
            prod_action: "pr".into(),
            concurrency: "queue".into(),
            credentials: None,
        }
    }
}

/// The resources of the product `shop` over the repository at `url`: five environments,
/// the product, the template `helm-image`, a policy for prod, and the flow `standard`.
pub fn resources(url: &str, shape: &Shape) -> String {
    let mut yaml = String::from("# The demo product. Edit and apply with `promenade apply -f`.\n");
    for (env, kind, _, color) in ENVIRONMENTS {
        yaml.push_str(&format!(
            "---\napiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: {{ name: {env} }}\n\
             spec: {{ kind: {kind}, color: \"{color}\" }}\n"
        ));
    }
    let applications: String = shape
        .applications
        .iter()
        .map(|app| format!("    - {{ name: {app}, path: \"apps/{app}/envs/{{env}}\", argocd: {{ application: \"{app}-{{env}}\" }} }}\n"))
        .collect();
    let (prod_action, concurrency) = (&shape.prod_action, &shape.concurrency);
    let credentials = shape
        .credentials
        .as_ref()
        .map(|c| format!(", credentials: {c}"))
        .unwrap_or_default();
    yaml.push_str(&format!(
        r#"---
apiVersion: promenade.dev/v1alpha1
kind: Product
metadata: {{ name: shop }}
spec:
  repository: {{ url: "{url}", branch: main{credentials} }}
  applications:
{applications}  template: helm-image
  flows: [ {{ name: standard }} ]
  concurrency: {concurrency}
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionTemplate
metadata: {{ name: helm-image }}
spec:
  versionSource: {{ file: values.yaml, path: "$.image.tag" }}
  files:
    - path: values.yaml
      attributes: ["$.image.tag"]
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {{ name: prod-gate }}
spec:
  priority: 100
  selector: {{ environmentKinds: [prod] }}
  action: {prod_action}
---
"#
    ));
    yaml.push_str(&standard_flow());
    yaml
}

/// A policy `{environment}-approval` holding `environment` at an approval gate, e.g.
/// `approval_policy("qa", "{ roles: [release-manager] }")`.
pub fn approval_policy(environment: &str, gate: &str) -> String {
    format!(
        "apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {{ name: {environment}-approval }}
spec:
  priority: 300
  selector: {{ environments: [{environment}] }}
  gates:
    - approval: {gate}
"
    )
}

/// The flow `standard`: dev → qa → {staging-eu, staging-us} → prod, laid out for the
/// designer. Its `spec` comes last, so more spec fields may be appended (indented by two
/// spaces).
pub fn standard_flow() -> String {
    r#"apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata:
  name: standard
  annotations:
    promenade.dev/layout: '{"dev":[0,80],"qa":[240,80],"staging-eu":[480,0],"staging-us":[480,160],"prod":[720,80]}'
spec:
  triggerEnvironment: dev
  steps:
    - { environment: qa, dependsOn: [dev] }
    - { environment: staging-eu, dependsOn: [qa] }
    - { environment: staging-us, dependsOn: [qa] }
    - { environment: prod, dependsOn: [staging-eu, staging-us] }
"#
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::PromotionRequest;
    use crate::store::Store;
    use crate::{EngineConfig, ReleaseStatus};

    fn viewer() -> Principal {
        Principal::user("vera", Role::Viewer)
    }

    fn promoter(name: &str) -> Principal {
        Principal::user(name, Role::Promoter)
    }

    #[tokio::test]
    async fn the_demo_is_set_up_once_and_previews_and_promotes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let mut config = EngineConfig::new(dir.path());
        config.allow_local_repositories = true;
        let engine = Engine::new(store, config);
        let demo = set_up(&engine, dir.path()).await.unwrap();
        assert!(demo.created);
        assert_eq!(
            demo.changes.len(),
            9,
            "5 environments, product, template, policy, flow"
        );

        let again = set_up(&engine, dir.path()).await.unwrap();
        assert!(!again.created);
        assert!(again
            .changes
            .iter()
            .all(|c| c.change == crate::resources::Change::Unchanged));

        let preview = engine
            .preview(&viewer(), "shop", &PromotionRequest::default())
            .await
            .unwrap();
        assert_eq!(preview.version.as_deref(), Some("1.5.0"));
        assert_eq!(preview.environments.len(), 4);
        assert!(preview
            .environments
            .iter()
            .all(|e| e.diff.applications.len() == 3));

        let to_qa = PromotionRequest {
            to: Some("qa".into()),
            ..Default::default()
        };
        let release = engine
            .promote(&promoter("newcomer"), "shop", &to_qa)
            .await
            .unwrap();
        let mut release = engine.release(&viewer(), &release.id).await.unwrap();
        for _ in 0..500 {
            if release.status.is_final() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            release = engine.release(&viewer(), &release.id).await.unwrap();
        }
        assert_eq!(release.status, ReleaseStatus::Succeeded);
    }
}
