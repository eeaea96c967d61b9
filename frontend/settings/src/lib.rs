//! The browser entry point of Settings and a product's delivery figures: pages few
//! people visit, kept out of the other bundles (see `promenade_app::bundle`).

pub use promenade_app::hydrate;
