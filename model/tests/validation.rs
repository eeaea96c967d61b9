//! One test per rule: each asserts the exact `file:line:col: message` and code of the
//! diagnostics, so positions point at the offending node and messages stay readable.

use promenade_model::{validate, Code, Severity};

/// Environments dev, qa, staging (non-prod) and prod, and a template `helm`.
const BASE: &str = "\
apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {kind: non-prod}
---
apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: non-prod}
---
apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec: {kind: non-prod}
---
apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {kind: prod}
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionTemplate
metadata: {name: helm}
spec:
  files: [{path: values.yaml, attributes: [$.image.tag]}]
";

/// `file:line:col: message [code]` for every diagnostic of BASE plus `test.yaml`.
fn check(test: &str) -> Vec<String> {
    validate([("base.yaml", BASE), ("test.yaml", test)])
        .diagnostics
        .iter()
        .map(|d| format!("{d} [{}]", d.code))
        .collect()
}

const FLOW: &str =
    "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata: {name: standard}\n";

#[test]
fn the_base_is_valid() {
    assert_eq!(check(""), Vec::<String>::new());
}

#[test]
fn yaml_syntax() {
    assert_eq!(
        check("apiVersion: promenade.dev/v1alpha1\nkind: Environment: x\n"),
        ["test.yaml:2:18: mapping values are not allowed in this context [yaml-syntax]"]
    );
    assert_eq!(
        check("a: 1\nb: 2\na: 3\n"),
        ["test.yaml:3:1: duplicate key `a` [yaml-syntax]"]
    );
}

#[test]
fn documents_must_be_resources() {
    assert_eq!(check("- a\n- b\n"), [
        "test.yaml:1:1: a resource must be a mapping with apiVersion, kind, metadata and spec [invalid-document]"
    ]);
    assert_eq!(
        check("apiVersion: promenade.dev/v1\nkind: Environment\n"),
        ["test.yaml:1:13: unsupported apiVersion \"promenade.dev/v1\", expected `promenade.dev/v1alpha1` [unsupported-api-version]"]
    );
    assert_eq!(
        check("apiVersion: promenade.dev/v1alpha1\nkind: Enviroment\nmetadata: {name: x}\n"),
        ["test.yaml:2:7: unknown kind `Enviroment`, expected one of `Environment`, `Product`, `PromotionTemplate`, `PromotionPolicy`, `PromotionFlow`, `Freeze` [unknown-kind]"]
    );
    assert_eq!(
        check("kind: Environment\n"),
        ["test.yaml:1:1: missing field `apiVersion` [missing-field]"]
    );
}

#[test]
fn unknown_fields_name_the_key() {
    let test = format!("{FLOW}spec:\n  triggerEnvironment: dev\n  steps: []\n  timout: 1h\n");
    assert_eq!(
        check(&test),
        ["test.yaml:7:3: spec.timout: unknown field `timout`, expected one of `triggerEnvironment`, `steps`, `hooks`, `timeout` [unknown-field]"]
    );
}

#[test]
fn missing_fields_point_at_the_mapping() {
    let test = format!("{FLOW}spec:\n  triggerEnvironment: dev\n  steps:\n    - {{environment: qa, dependsOn: [dev]}}\n    - dependsOn: [qa]\n");
    assert_eq!(
        check(&test),
        ["test.yaml:8:7: spec.steps[1]: missing field `environment` [missing-field]"]
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let test = format!(
        "{FLOW}spec:\n  triggerEnvironment: dev\n  steps:\n    - {{environment: qa, dependsOn: [dev]}}\n    - {{environment: staging, dependsOn: [qa]}}\n    - {{environment: prod, dependsOn: staging}}\n"
    );
    assert_eq!(
        check(&test),
        ["test.yaml:9:38: spec.steps[2].dependsOn: invalid type: string \"staging\", expected a sequence [invalid-value]"]
    );
}

#[test]
fn durations_are_checked() {
    let test = format!("{FLOW}spec:\n  triggerEnvironment: dev\n  timeout: 24x\n");
    assert_eq!(
        check(&test),
        ["test.yaml:6:12: spec.timeout: invalid duration `24x`: unknown unit `x`; use `d`, `h`, `m` or `s` [invalid-value]"]
    );
}

#[test]
fn unknown_action_kinds_point_at_the_key() {
    let test = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  gates:\n    - soak: {duration: 1h}\n    - aproval: {roles: [ops]}\n";
    assert_eq!(
        check(test),
        ["test.yaml:7:7: spec.gates[1]: unknown variant `aproval`, expected one of `approval`, `soak`, `http`, `argocd`, `workflow`, `command`, `window` [invalid-value]"]
    );
    let two_keys = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  gates:\n    - {soak: {duration: 1h}, approval: {}}\n";
    assert_eq!(
        check(two_keys),
        ["test.yaml:6:7: spec.gates[0]: an action is a mapping with exactly one key: approval, soak, http, argocd, workflow, command or window [invalid-value]"]
    );
}

#[test]
fn names_are_dns_labels_and_unique() {
    let test = "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: {name: QA_1}\nspec: {kind: non-prod}\n---\napiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: qa\nspec: {kind: prod}\n";
    assert_eq!(
        check(test),
        [
            "test.yaml:3:18: invalid name `QA_1`: use lowercase letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit [invalid-name]",
            "test.yaml:9:9: Environment `qa` is already defined at base.yaml:8:18 [duplicate-name]",
        ]
    );
}

#[test]
fn flows_name_unknown_environments() {
    let test = format!(
        "{FLOW}spec:\n  triggerEnvironment: devv\n  steps:\n    - {{environment: qa, dependsOn: [devv]}}\n    - {{environment: uat, dependsOn: [qa]}}\n    - {{environment: prod, dependsOn: [stagin]}}\n"
    );
    assert_eq!(
        check(&test),
        [
            "test.yaml:5:23: unknown environment `devv`; did you mean `dev`? [unknown-environment]",
            "test.yaml:8:21: unknown environment `uat` [unknown-environment]",
            "test.yaml:9:39: unknown environment `stagin`; did you mean `staging`? [unknown-environment]",
        ]
    );
}

#[test]
fn dependencies_must_be_in_the_flow() {
    let test = format!("{FLOW}spec:\n  triggerEnvironment: dev\n  steps:\n    - {{environment: prod, dependsOn: [dev, staging]}}\n");
    assert_eq!(
        check(&test),
        ["test.yaml:7:44: step `prod` depends on `staging`, which is neither the trigger nor a step of this flow [dependency-not-in-flow]"]
    );
}

#[test]
fn cycles_are_named() {
    let test = format!(
        "{FLOW}spec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [dev, staging]\n    - environment: staging\n      dependsOn: [qa]\n"
    );
    assert_eq!(
        check(&test),
        ["test.yaml:8:24: steps depend on each other in a cycle: qa → staging → qa [flow-cycle]"]
    );
}

#[test]
fn unreachable_steps() {
    let test = format!(
        "{FLOW}spec:\n  triggerEnvironment: dev\n  steps:\n    - {{environment: qa}}\n    - {{environment: prod, dependsOn: [qa]}}\n"
    );
    assert_eq!(
        check(&test),
        [
            "test.yaml:7:21: step `qa` is not reachable from the trigger `dev`: its dependsOn is empty [unreachable-step]",
            "test.yaml:8:21: step `prod` can never start: it waits for `qa`, which can never start [unreachable-step]",
        ]
    );
}

#[test]
fn the_trigger_is_not_a_step_and_steps_are_unique() {
    let test = format!(
        "{FLOW}spec:\n  triggerEnvironment: dev\n  steps:\n    - {{environment: dev, dependsOn: [dev]}}\n    - {{environment: qa, dependsOn: [dev]}}\n    - {{environment: qa, dependsOn: [dev]}}\n"
    );
    assert_eq!(
        check(&test),
        [
            "test.yaml:7:21: `dev` is the trigger environment, so it cannot also be a step [trigger-as-step]",
            "test.yaml:9:21: `qa` is already a step of this flow [duplicate-step]",
        ]
    );
}

#[test]
fn products_point_to_existing_templates_and_flows() {
    let test = "\
apiVersion: promenade.dev/v1alpha1
kind: Product
metadata: {name: shop}
spec:
  repository: {url: https://example.com/gitops.git}
  applications:
    - {name: api, path: 'apps/api/{env}'}
    - {name: api, path: '/srv/api/{env}'}
    - name: web
      path: 'apps/web/{env}'
      environments:
        prd: {path: ../web-prod}
  template: hlem
  flows: [{name: standard}]
";
    assert_eq!(
        check(test),
        [
            "test.yaml:8:14: application `api` is already defined in this product (applications[0]) [duplicate-name]",
            "test.yaml:8:25: path `/srv/api/{env}` escapes the application folder: it is absolute; write it relative to the folder [path-escapes-folder]",
            "test.yaml:12:9: unknown environment `prd`; did you mean `prod`? [unknown-environment]",
            "test.yaml:12:21: path `../web-prod` escapes the application folder: `..` leads out of the folder [path-escapes-folder]",
            "test.yaml:13:13: unknown template `hlem`; did you mean `helm`? [unknown-template]",
            "test.yaml:14:18: unknown flow `standard` [unknown-flow]",
        ]
    );
}

#[test]
fn templates_check_paths_globs_and_jsonpaths() {
    let test = "\
apiVersion: promenade.dev/v1alpha1
kind: PromotionTemplate
metadata: {name: t}
spec:
  versionSource: {file: /values.yaml, path: image.tag}
  files:
    - path: values.yaml
      attributes: [$.image.tag, '$.image.pull-policy']
    - path: 'config/[a.yaml'
    - path: ../common/*.yaml
";
    assert_eq!(
        check(test),
        [
            "test.yaml:5:25: path `/values.yaml` escapes the application folder: it is absolute; write it relative to the folder [path-escapes-folder]",
            "test.yaml:5:45: invalid JSONPath `image.tag` at character 1: a JSONPath starts with `$` [invalid-jsonpath]",
            "test.yaml:8:33: invalid JSONPath `$.image.pull-policy` at character 13: unexpected `-`; a name with such characters is quoted, e.g. `$[\"key-with-dash\"]` [invalid-jsonpath]",
            "test.yaml:9:13: invalid glob `config/[a.yaml`: unclosed character class; missing ']' [invalid-glob]",
            "test.yaml:10:13: path `../common/*.yaml` escapes the application folder: `..` leads out of the folder [path-escapes-folder]",
        ]
    );
}

#[test]
fn empty_templates() {
    let test = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  files: []\n";
    assert_eq!(
        check(test),
        ["test.yaml:5:10: template `t` copies nothing: add at least one entry to `files` [empty-template]"]
    );
}

#[test]
fn command_actions_need_an_administrator() {
    let test = "\
apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {name: smoke}
spec:
  verify:
    - command: {args: [./smoke.sh, '{env}'], timeout: 5m}
";
    let validation = validate([("base.yaml", BASE), ("test.yaml", test)]);
    let [diagnostic] = validation.diagnostics.as_slice() else {
        panic!("{:?}", validation.diagnostics);
    };
    assert_eq!(
        diagnostic.to_string(),
        "test.yaml:6:7: a `command` action runs on the server host: only an administrator may apply it"
    );
    assert_eq!(
        (diagnostic.code, diagnostic.severity),
        (Code::AdminOnlyAction, Severity::AdminOnly)
    );
    assert!(validation.is_valid(), "admin-only is not an error");
    assert!(validation.needs_admin());
    assert_eq!(validation.summary.admin_only, 1);
}

#[test]
fn actions_only_where_they_mean_something() {
    let test = format!(
        "\
apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: {{name: p}}
spec:
  gates:
    - soak: {{after: apply, duration: 10m}}
  verify:
    - approval: {{roles: [ops]}}
    - http: {{url: shop.example.com/health}}
---
{FLOW}spec:
  triggerEnvironment: dev
  hooks:
    onSuccess: [{{window: {{days: [mon]}}}}]
    onFailure: [{{http: {{url: 'https://x', expectJson: {{path: status, equals: ok}}}}}}]
"
    );
    assert_eq!(
        check(&test),
        [
            "test.yaml:6:21: a gate runs before the change is applied: use `after: upstream`, or move this soak to `verify` [action-not-allowed]",
            "test.yaml:8:7: `approval` cannot be used here: verify runs soak, http, argocd, workflow and command actions [action-not-allowed]",
            "test.yaml:9:19: `shop.example.com/health` is not an http:// or https:// URL [invalid-url]",
            "test.yaml:17:18: `window` cannot be used here: hooks run http, workflow and command actions [action-not-allowed]",
            "test.yaml:18:62: invalid JSONPath `status` at character 1: a JSONPath starts with `$` [invalid-jsonpath]",
        ]
    );
}

#[test]
fn policy_selectors_name_existing_things() {
    let test = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  selector: {products: [shp], environments: [prod, prod-eu]}\n  action: pr\n";
    assert_eq!(
        check(test),
        [
            "test.yaml:5:25: unknown product `shp` [unknown-product]",
            "test.yaml:5:52: unknown environment `prod-eu` [unknown-environment]",
        ]
    );
}

#[test]
fn layout_annotations_must_parse() {
    let test = "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata:\n  name: f\n  annotations:\n    promenade.dev/layout: '{\"dev\": [0]}'\nspec: {triggerEnvironment: dev}\n";
    assert_eq!(
        check(test),
        ["test.yaml:6:27: invalid layout annotation: `dev` must be [x, y], got [0] [invalid-layout]"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let broken = "\
apiVersion: promenade.dev/v1alpha1
kind: Product
metadata: {name: shop}
spec: {repository: {url: u}, applications: [], template: nope}
---
apiVersion: promenade.dev/v1alpha1
kind: Environment
metadata: {name: x}
spec: {kind: production}
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata: {name: f}
spec: {triggerEnvironment: dev, steps: [{environment: qa, dependsOn: [qa]}]}
";
    let validation = validate([
        ("base.yaml", BASE),
        ("broken.yaml", broken),
        ("bad.yaml", "a: ["),
    ]);
    let codes: Vec<Code> = validation.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            Code::YamlSyntax,
            Code::UnknownTemplate,
            Code::InvalidValue,
            Code::FlowCycle
        ]
    );
    assert_eq!(
        validation.diagnostics[2].to_string(),
        "broken.yaml:9:14: spec.kind: unknown variant `production`, expected `prod` or `non-prod`"
    );
    assert_eq!(validation.summary.errors, 4);
    assert!(!validation.is_valid());
}
