//! Placeholder: the service crate is being written (issue 3).
