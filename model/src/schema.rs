//! JSON Schemas of the resource kinds, for editors: generated with `schemars` from the
//! very types `apply` deserializes into, so field names, nesting, enums and "no unknown
//! fields" cannot drift from what the server accepts. They describe the shape only;
//! cross-resource rules (a flow naming environments that exist, …) stay with
//! [`crate::validate`]. Committed under `docs/schema/` (see `docs/resources.md` for the
//! `yaml-language-server` modeline), served at `/api/v1/schemas/{kind}` and printed by
//! `promenade schema`.

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use crate::freeze::FreezeSpec;
use crate::resources::{
    EnvironmentSpec, Metadata, ProductSpec, PromotionFlowSpec, PromotionPolicySpec,
    PromotionTemplateSpec, ResourceKind,
};
use crate::API_VERSION;

const META_SCHEMA: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of one kind's documents: `apiVersion`, `kind`, `metadata` and `spec`.
pub fn for_kind(kind: ResourceKind) -> Value {
    let mut generator = generator();
    let mut schema = Map::new();
    schema.insert("$schema".into(), META_SCHEMA.into());
    schema.insert("title".into(), kind.as_str().into());
    schema.extend(document(kind, &mut generator));
    schema.insert(
        "$defs".into(),
        Value::Object(generator.take_definitions(true)),
    );
    Value::Object(schema)
}

/// One schema for a file of any kinds, as `promenade apply -f` reads: each YAML document
/// is matched by its `kind`.
pub fn for_all_kinds() -> Value {
    let mut generator = generator();
    let kinds: Vec<Value> = ResourceKind::ALL
        .into_iter()
        .map(|kind| Value::Object(document(kind, &mut generator)))
        .collect();
    json!({
        "$schema": META_SCHEMA,
        "title": "Promenade resource",
        "oneOf": kinds,
        "$defs": generator.take_definitions(true),
    })
}

/// The file name a kind's schema is published under in `docs/schema/`.
pub fn file_name(kind: Option<ResourceKind>) -> String {
    match kind {
        Some(kind) => format!("{}.json", kind.as_str().to_ascii_lowercase()),
        None => "resources.json".to_string(),
    }
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

fn document(kind: ResourceKind, generator: &mut SchemaGenerator) -> Map<String, Value> {
    let spec = match kind {
        ResourceKind::Environment => generator.subschema_for::<EnvironmentSpec>(),
        ResourceKind::Product => generator.subschema_for::<ProductSpec>(),
        ResourceKind::PromotionTemplate => generator.subschema_for::<PromotionTemplateSpec>(),
        ResourceKind::PromotionPolicy => generator.subschema_for::<PromotionPolicySpec>(),
        ResourceKind::PromotionFlow => generator.subschema_for::<PromotionFlowSpec>(),
        ResourceKind::Freeze => generator.subschema_for::<FreezeSpec>(),
    };
    let document = json!({
        "description": kind_description(kind),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": { "const": API_VERSION },
            "kind": { "const": kind.as_str() },
            "metadata": generator.subschema_for::<Metadata>(),
            "spec": spec,
        },
    });
    match document {
        Value::Object(fields) => fields,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

fn kind_description(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Environment => "A stage such as `dev` or `prod`: where its applications are deployed and which Argo CD watches it.",
        ResourceKind::Product => "A group of applications promoted together, where they live, and the flows that carry them.",
        ResourceKind::PromotionTemplate => "What a promotion copies from one environment's folder to the next.",
        ResourceKind::PromotionPolicy => "How a promotion happens in the environments it selects: commit or pull request, gates, verification.",
        ResourceKind::PromotionFlow => "Where promotions go, and in what order.",
        ResourceKind::Freeze => "When releases may not enter the environments it scopes: once or on a recurring schedule, with a reason.",
    }
}

/// `JsonSchema` for a type written as one string, whose own parser checks the rest:
/// `string_schema!(Duration, "Duration", "description", "^pattern$")`.
macro_rules! string_schema {
    ($type:ty, $name:literal, $description:literal $(, $pattern:literal)?) => {
        impl schemars::JsonSchema for $type {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": $description,
                    $("pattern": $pattern,)?
                })
            }
        }
    };
}
pub(crate) use string_schema;
