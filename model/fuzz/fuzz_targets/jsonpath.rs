//! Any text as a JSONPath: parsing never panics, a parsed path selects without
//! panicking, and every match's concrete path parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promenade_model::jsonpath::JsonPath;

fuzz_target!(|text: &str| {
    let Ok(path) = JsonPath::parse(text) else {
        return;
    };
    let document = serde_json::json!({
        "image": {"tag": "1.2.3", "repository": "r", "key-with-dash": [1, {"name": "x"}]},
        "name": "top", "list": [[{"name": 1}]], "": {"": 0}, "é": {"\"": true}
    });
    for (concrete, _) in path.select(&document) {
        let again = JsonPath::parse(&concrete.to_jsonpath()).expect("concrete paths parse");
        assert_eq!(again.definite(), Some(concrete));
    }
});
