//! Any text as the target `values.yaml` of a promotion: applying never panics, and a
//! successful application is idempotent (applying again changes nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use promenade_model::resources::{PromotionTemplateSpec, TemplateFile};
use promenade_model::template::{apply_template, FileTree};

const SOURCE: &str = "image:\n  tag: \"1.5.0\"\n  pull: {policy: Always}\nresources:\n  limits: {cpu: 1, memory: 1Gi}\nlist: [a, b]\n";

fuzz_target!(|text: &str| {
    let spec = PromotionTemplateSpec {
        version_source: None,
        files: vec![TemplateFile {
            path: "values.yaml".into(),
            attributes: vec![
                "$.image.tag".into(),
                "$.image.pull".into(),
                "$..limits".into(),
                "$.list".into(),
            ],
        }],
    };
    let source = FileTree::from([("values.yaml".into(), SOURCE.as_bytes().to_vec())]);
    let target = FileTree::from([("values.yaml".into(), text.as_bytes().to_vec())]);
    if let Ok(applied) = apply_template(&spec, &source, &target) {
        let again = apply_template(&spec, &source, &applied.files).expect("a result applies again");
        assert!(!again.changed, "not idempotent");
    }
});
