//! Promenade's HTTP server: the router (UI, API, probes), sessions and telemetry, which
//! `promenade serve` (the `cli` crate) runs. Kept thin: every decision is the engine's or
//! the model's.

// The UI's view types nest deeply; rendering them needs more than the default.
#![recursion_limit = "512"]

pub mod api;
mod health;
pub mod prometheus;
pub mod request_log;
mod serve;
pub mod telemetry;
pub mod web;

pub use serve::{router, serve, AppState, ServeArgs};
