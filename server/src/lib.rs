//! The `promenade` binary's library: the HTTP router (UI, API, probes), the command-line
//! interface and telemetry. Kept thin: every decision is the engine's or the model's.

// The UI's view types nest deeply; rendering them needs more than the default.
#![recursion_limit = "512"]

pub mod api;
pub mod cli;
pub mod client;
pub mod commands;
mod health;
mod serve;
pub mod telemetry;
pub mod web;

pub use serve::{router, serve, AppState, ServeArgs};
