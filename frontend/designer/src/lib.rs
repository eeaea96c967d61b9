//! The browser entry point of the flow designer's pages (`/flows…`): the designer's
//! canvas, panels and the model's YAML reader, writer and validator, and no other page
//! (see `promenade_app::bundle`).

pub use promenade_app::hydrate;
