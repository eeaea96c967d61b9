//! Promenade's pure domain model: the declarative resources and everything that can
//! be decided about them without I/O. It builds for `wasm32-unknown-unknown` (the
//! flow designer runs it in the browser) and natively (CLI, API, engine).
//!
//! - [`validate`] reads resource files and reports every problem at once;
//!   [`load`] reads one file.
//! - [`resources`] and [`action`] are the typed resources; [`canonical`] writes them
//!   back as stable YAML; [`layout`] reads and writes canvas positions.
//! - [`release`] and [`overview`] are the release records, requests, previews and
//!   dashboard rows that the engine, API, CLI and browser exchange.
//! - [`access`] says who may do what: roles, principals, four eyes; [`credentials`]
//!   describes stored secrets without ever holding one in an answer.
//! - [`graph::FlowGraph`] answers ordering questions about a flow;
//!   [`policy::resolve_policy`] merges policies and explains the result.
//! - [`schema`] gives the JSON Schema of each kind, for editors.
//! - [`template`] applies a promotion template to in-memory file trees, editing YAML
//!   and JSON without disturbing anything else; [`diff`] turns the result into the
//!   preview people see.

#![warn(missing_docs)]

pub mod access;
pub mod action;
pub mod audit;
pub mod canonical;
pub mod credentials;
pub mod delivery;
pub mod diagnostic;
pub mod diff;
pub mod discovery;
pub mod duration;
mod edit;
mod error;
pub mod freeze;
pub mod graph;
pub mod hosting;
pub mod jsonpath;
pub mod layout;
mod loader;
pub mod overview;
pub mod path;
pub mod policy;
pub mod redact;
pub mod release;
pub mod remote;
pub mod resources;
pub mod schema;
pub mod stored;
pub mod template;
pub mod validate;
mod yaml;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use error::Error;
pub use loader::{load, LoadedResource, Origin};
pub use resources::{Resource, ResourceKind};
pub use validate::{validate, ResourceSet, Summary, Validation};

/// The API group and version of every Promenade resource.
pub const API_VERSION: &str = "promenade.dev/v1alpha1";
