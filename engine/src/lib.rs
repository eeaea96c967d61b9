//! Promenade's engine: everything that does I/O on behalf of a release — the store,
//! git, SCM hosts, Argo CD — behind one cloneable [`Engine`] handle that the server and
//! the UI's server functions share.

mod error;
pub mod git;
pub mod status;
pub mod store;

pub use error::{EngineError, Result};
pub use status::{ReleaseStatus, StepStatus};
pub use store::{DatabaseKind, Store};

/// The engine handle. Cheap to clone: every clone shares the same store.
#[derive(Clone, Debug)]
pub struct Engine {
    store: Store,
}

impl Engine {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
