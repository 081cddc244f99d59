//! Placeholder: the state crate is being written.
