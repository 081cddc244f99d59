//! Built-in resource and data-source types, one file each. Registering a new type is one line here.

use crate::resource::Registry;

pub fn register(_r: &mut Registry) {}
