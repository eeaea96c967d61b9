//! The flow designer (`/flows`, `/flows/new`, `/flows/:name`): draw a promotion flow on
//! a canvas and read or write it as YAML, validated in the browser by the model crate.
//!
//! The state (`state`, `editor`, `arrange`, `geometry`, `check`, `actions`, `fields`) is plain
//! Rust, tested natively; the components (`page`, `canvas`, `panels`) only wire it to
//! the DOM; `server` holds the server functions.

mod actions;
mod arrange;
mod canvas;
mod check;
mod dom;
mod editor;
mod fields;
mod geometry;
mod page;
mod panels;
mod server;
mod state;

pub use page::{FlowPage, FlowsPage, NewFlowPage};
