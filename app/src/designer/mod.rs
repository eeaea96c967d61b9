//! The flow designer: draw a promotion flow on a canvas and read or write it as YAML.

mod arrange;
mod check;
mod editor;
mod geometry;
mod state;
