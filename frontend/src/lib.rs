//! The browser entry point of the products and releases pages (and sign-in): takes over
//! the server-rendered page. The other groups of pages have entry crates of their own,
//! `designer/` and `settings/` (see `promenade_app::bundle`).

pub use promenade_app::hydrate;
