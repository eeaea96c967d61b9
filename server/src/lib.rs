//! The `promenade` binary's library: the HTTP router (UI, API, probes), the command-line
//! interface and telemetry. Kept thin: every decision is the engine's or the model's.

pub mod api;
pub mod cli;
pub mod client;
pub mod commands;
mod health;
mod serve;
pub mod telemetry;
pub mod web;

pub use serve::{router, serve, AppState, ServeArgs};
