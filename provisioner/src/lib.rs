//! The provisioner library: load a stack, plan it against refreshed state, and apply the plan through the
//! AWS SDK. The `provisioner` binary is a thin CLI over this crate; other Rust programs use it the same way.
//!
//! See ARCHITECTURE.md for the map of modules and their invariants.

pub mod aws;
pub mod resource;
pub mod resources;
pub mod schema;
pub mod value;

pub use resource::{Registry, Resource};
pub use value::{Attrs, Value};
