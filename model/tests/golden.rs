//! Golden tests: a template applied to realistic files must give exactly the bytes in
//! `fixtures/golden/<case>/expected.*`. Each case folder holds `source.*` (the trigger
//! environment's file), `target.*` (the environment promoted to) and `attributes.txt`
//! (one JSONPath per line). Run with `PROMENADE_BLESS=1` to write missing or changed
//! expectations after reviewing them.

use std::path::{Path, PathBuf};

use promenade_model::resources::{PromotionTemplateSpec, TemplateFile};
use promenade_model::template::{apply_template, FileTree};

fn case_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(case)
}

fn golden(case: &str, extension: &str) {
    let dir = case_dir(case);
    let read =
        |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{case}/{name}: {e}"));
    let file = format!("config.{extension}");
    let attributes = String::from_utf8(read("attributes.txt")).unwrap();
    let spec = PromotionTemplateSpec {
        version_source: None,
        files: vec![TemplateFile {
            path: file.clone(),
            attributes: attributes.lines().map(str::to_owned).collect(),
        }],
    };
    let source = FileTree::from([(file.clone(), read(&format!("source.{extension}")))]);
    let target = FileTree::from([(file.clone(), read(&format!("target.{extension}")))]);
    let applied = apply_template(&spec, &source, &target).unwrap();
    let output = &applied.files[&file];
    let expected_path = dir.join(format!("expected.{extension}"));
    if std::env::var_os("PROMENADE_BLESS").is_some() {
        std::fs::write(&expected_path, output).unwrap();
    }
    let expected = std::fs::read(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    assert_eq!(
        String::from_utf8_lossy(output),
        String::from_utf8_lossy(&expected),
        "{case}: output differs from expected.{extension}"
    );
    assert_eq!(output, &expected, "{case}: bytes differ (line ends?)");
    assert!(applied.changed);
    // Applying again changes nothing.
    let again = apply_template(&spec, &source, &applied.files).unwrap();
    assert!(
        !again.changed,
        "{case}: a second application changed the file again"
    );
}

#[test]
fn helm_values_with_comments_anchors_and_quotes() {
    golden("helm-values", "yaml");
}

#[test]
fn kustomization_images_list() {
    golden("kustomization", "yaml");
}

#[test]
fn json_config() {
    golden("json-config", "json");
}

#[test]
fn crlf_values() {
    golden("crlf-values", "yaml");
}
