#![recursion_limit = "512"]
//! The browser entry point of the flow designer's pages (`/flows…`): the whole app with
//! the designer built in. Kept apart so the other pages' bundle stays small (see
//! `promenade_app::bundle`).

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
pub fn hydrate() {
    promenade_app::hydrate();
}
