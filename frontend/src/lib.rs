#![recursion_limit = "512"]
//! The browser entry point of every page except the flow designer's: takes over the
//! server-rendered page. The designer's pages load `designer/`, the same app with the
//! designer built in (see `promenade_app::bundle`).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    promenade_app::hydrate();
}
