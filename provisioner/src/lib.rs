//! The provisioner library: load a stack, plan it against refreshed state, and apply the plan through the
//! AWS SDK. The `provisioner` binary is a thin CLI over this crate; other Rust programs use [`Stack`] the
//! same way (see `examples/`).
//!
//! See ARCHITECTURE.md for the map of modules and their invariants.

pub mod apply;
pub mod aws;
pub mod credentials;
pub mod engine;
pub mod graph;
pub mod lang;
pub mod plan;
pub mod redact;
pub mod render;
pub mod render_markdown;
pub mod resource;
pub mod resources;
pub mod schema;
pub mod stack;
pub mod value;

pub use engine::{EngineError, PlanOptions};
pub use resource::{Registry, Resource};
pub use stack::{Stack, StackOptions};
pub use value::{Attrs, Value};
