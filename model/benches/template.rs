//! Apply a template to 1,000 applications in memory and diff them: the work behind
//! one preview of a large monorepo product. `cargo bench -p promenade-model`.

use criterion::{criterion_group, criterion_main, Criterion};

use promenade_model::diff::{diff_trees, ApplicationDiff, EnvironmentDiff};
use promenade_model::resources::{PromotionTemplateSpec, TemplateFile};
use promenade_model::template::{CompiledTemplate, FileTree};

const APPLICATIONS: usize = 1_000;

fn values(app: usize, tag: &str, memory: &str, replicas: u32) -> String {
    format!(
        r#"# Values for app-{app}.
# Image and resources are promoted by Promenade.

replicaCount: {replicas}   # per environment

defaults: &defaults
  pullPolicy: IfNotPresent

image:
  <<: *defaults
  repository: "registry.example.com/shop/app-{app}"
  tag: "{tag}"

service:
  type: ClusterIP
  port: 8080

ingress:
  enabled: true
  hosts:
    - host: app-{app}.example.com
      paths: ["/"]

resources:
  limits:
    cpu: 500m
    memory: {memory}   # raised after an incident
  requests:
    cpu: 250m
    memory: 256Mi

env:
  - name: LOG_LEVEL
    value: "info"
  - name: FEATURE_FLAGS
    value: "checkout,search"
"#
    )
}

fn tree(app: usize, tag: &str, memory: &str, replicas: u32, config: &str) -> FileTree {
    FileTree::from([
        (
            "values.yaml".into(),
            values(app, tag, memory, replicas).into_bytes(),
        ),
        (
            "config/app.yaml".into(),
            format!("name: app-{app}\nlevel: {config}\n").into_bytes(),
        ),
        (
            "config/routes.yaml".into(),
            b"routes:\n  - /\n  - /health\n".to_vec(),
        ),
        (
            "Chart.yaml".into(),
            format!("apiVersion: v2\nname: app-{app}\nversion: 1.0.0\n").into_bytes(),
        ),
    ])
}

fn template() -> CompiledTemplate {
    CompiledTemplate::new(&PromotionTemplateSpec {
        version_source: None,
        files: vec![
            TemplateFile {
                path: "values.yaml".into(),
                attributes: vec![
                    "$.image.tag".into(),
                    "$.image.repository".into(),
                    "$..resources".into(),
                ],
            },
            TemplateFile {
                path: "config/*.yaml".into(),
                attributes: vec![],
            },
        ],
    })
    .expect("template compiles")
}

fn fleet() -> Vec<(String, FileTree, FileTree)> {
    (0..APPLICATIONS)
        .map(|app| {
            (
                format!("app-{app}"),
                tree(app, "1.5.0", "768Mi", 1, "debug"),
                tree(app, "1.4.2", "512Mi", 3, "info"),
            )
        })
        .collect()
}

fn promote(
    template: &CompiledTemplate,
    fleet: &[(String, FileTree, FileTree)],
) -> Vec<(String, FileTree, FileTree)> {
    fleet
        .iter()
        .map(|(name, source, target)| {
            let applied = template.apply(source, target).expect("applies");
            assert!(applied.changed);
            (name.clone(), target.clone(), applied.files)
        })
        .collect()
}

fn preview(promoted: &[(String, FileTree, FileTree)]) -> EnvironmentDiff {
    let applications = promoted
        .iter()
        .map(|(name, old, new)| {
            ApplicationDiff::new(
                name.clone(),
                diff_trees(&format!("apps/{name}/envs/prod"), old, new),
            )
        })
        .collect();
    EnvironmentDiff::new("prod", applications)
}

fn bench(c: &mut Criterion) {
    let template = template();
    let fleet = fleet();
    let promoted = promote(&template, &fleet);
    let environment = preview(&promoted);
    // 2 attribute lines (tag, memory) and 1 config line per application.
    assert_eq!(
        (environment.added, environment.removed, environment.files),
        (3_000, 3_000, 2_000)
    );

    let mut group = c.benchmark_group("1000 applications");
    group.sample_size(10);
    group.bench_function("apply template", |b| b.iter(|| promote(&template, &fleet)));
    group.bench_function("diff", |b| b.iter(|| preview(&promoted)));
    group.bench_function("apply template and diff", |b| {
        b.iter(|| preview(&promote(&template, &fleet)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
