//! Any text through the whole validation: loading, decoding, cross-document checks,
//! and canonical YAML of whatever loaded must read back to the same resources.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promenade_model::canonical::to_yaml;
use promenade_model::validate;

fuzz_target!(|text: &str| {
    let validation = validate([("fuzz.yaml", text)]);
    for diagnostic in &validation.diagnostics {
        assert!(
            diagnostic.line >= 1 && diagnostic.column >= 1,
            "{diagnostic:?}"
        );
    }
    for resource in validation.resources.resources() {
        let canonical = to_yaml(resource).expect("canonical YAML");
        let again = validate([("canonical.yaml", canonical.as_str())]);
        let reread: Vec<_> = again.resources.resources().collect();
        assert_eq!(reread, vec![resource], "round trip changed:\n{canonical}");
    }
});
