//! Promenade's pure domain model. No I/O: it builds for wasm32 and native alike.

/// The API group and version of every Promenade resource.
pub const API_VERSION: &str = "promenade.dev/v1alpha1";
