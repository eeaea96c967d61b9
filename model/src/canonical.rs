//! The canonical YAML form of resources, written by the canvas and `promenade get`.
//!
//! Fields come out in declaration order, maps in key order, optional fields only when
//! set, durations normalised (`90m` → `1h30m`): the same resources always give the same
//! bytes, so what the canvas writes diffs cleanly. `serde_yaml_ng` does the emitting
//! (it quotes any string that would read back as another type); its
//! `singleton_map_recursive` writes actions as `- http: {...}` rather than as YAML tags
//! (`- !http`). Reading the output back with [`crate::load`] gives equal resources.

use crate::resources::Resource;
use crate::Error;

/// One resource as a YAML document (without a `---` line).
pub fn to_yaml(resource: &Resource) -> Result<String, Error> {
    let fail = |message: String| Error::Serialize { message };
    let mut out = Vec::new();
    let mut serializer = serde_yaml_ng::Serializer::new(&mut out);
    serde_yaml_ng::with::singleton_map_recursive::serialize(resource, &mut serializer)
        .map_err(|e| fail(e.to_string()))?;
    String::from_utf8(out).map_err(|e| fail(e.to_string()))
}

/// Several resources as one multi-document YAML stream, `---` between documents.
pub fn to_yaml_stream<'a>(
    resources: impl IntoIterator<Item = &'a Resource>,
) -> Result<String, Error> {
    let documents = resources
        .into_iter()
        .map(to_yaml)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(documents.join("---\n"))
}
