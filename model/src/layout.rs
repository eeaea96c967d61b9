//! Canvas positions, kept in the flow's `promenade.dev/layout` annotation so that the
//! YAML stays the single source of truth: `{"dev":[0,0],"qa":[240,0]}`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::resources::PromotionFlow;
use crate::Error;

/// The annotation key.
pub const LAYOUT_ANNOTATION: &str = "promenade.dev/layout";

/// Environment name → (x, y) in canvas units.
pub type Layout = BTreeMap<String, (i64, i64)>;

/// Reads an annotation value. Fractional coordinates are rounded.
pub fn parse_layout(text: &str) -> Result<Layout, Error> {
    let fail = |message: String| Error::Layout { message };
    let value: Value = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let Value::Object(entries) = value else {
        return Err(fail(
            "expected a JSON object such as {\"dev\":[0,0]}".into(),
        ));
    };
    entries
        .into_iter()
        .map(|(environment, point)| {
            let coordinates = match &point {
                Value::Array(items) if items.len() == 2 => {
                    items.iter().map(Value::as_f64).collect::<Option<Vec<_>>>()
                }
                _ => None,
            };
            match coordinates.as_deref() {
                Some(&[x, y]) if x.abs() < 1e15 && y.abs() < 1e15 => {
                    Ok((environment, (x.round() as i64, y.round() as i64)))
                }
                _ => Err(fail(format!("`{environment}` must be [x, y], got {point}"))),
            }
        })
        .collect()
}

/// Writes an annotation value: compact and ordered by environment, so it diffs cleanly.
pub fn format_layout(layout: &Layout) -> String {
    let entries: Vec<String> = layout
        .iter()
        .map(|(environment, (x, y))| format!("{}:[{x},{y}]", Value::String(environment.clone())))
        .collect();
    format!("{{{}}}", entries.join(","))
}

impl PromotionFlow {
    /// The canvas positions; empty when the annotation is absent.
    pub fn layout(&self) -> Result<Layout, Error> {
        self.metadata
            .annotations
            .get(LAYOUT_ANNOTATION)
            .map_or_else(|| Ok(Layout::new()), |text| parse_layout(text))
    }

    /// Stores canvas positions; an empty layout removes the annotation.
    pub fn set_layout(&mut self, layout: &Layout) {
        if layout.is_empty() {
            self.metadata.annotations.remove(LAYOUT_ANNOTATION);
        } else {
            self.metadata
                .annotations
                .insert(LAYOUT_ANNOTATION.to_owned(), format_layout(layout));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Metadata, PromotionFlowSpec};

    #[test]
    fn reads_and_writes_the_annotation() {
        let mut flow = PromotionFlow {
            metadata: Metadata::named("standard"),
            spec: PromotionFlowSpec::default(),
        };
        assert_eq!(flow.layout().unwrap(), Layout::new());
        let layout = Layout::from([("qa".into(), (240, 0)), ("dev".into(), (0, -12))]);
        flow.set_layout(&layout);
        assert_eq!(
            flow.metadata.annotations[LAYOUT_ANNOTATION],
            r#"{"dev":[0,-12],"qa":[240,0]}"#
        );
        assert_eq!(flow.layout().unwrap(), layout);
        flow.set_layout(&Layout::new());
        assert!(flow.metadata.annotations.is_empty());
    }

    #[test]
    fn rounds_fractions_and_rejects_other_shapes() {
        assert_eq!(parse_layout(r#"{"a":[1.6,-2.4]}"#).unwrap()["a"], (2, -2));
        assert_eq!(
            parse_layout(r#"{"a":[1]}"#).unwrap_err().to_string(),
            "invalid layout annotation: `a` must be [x, y], got [1]"
        );
        assert!(parse_layout("[1,2]").is_err());
        assert!(parse_layout("{").is_err());
    }
}
