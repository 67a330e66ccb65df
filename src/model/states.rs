//! The state enums, re-exported from the ground floor ([`crate::vocab::states`]) where
//! they live so that the model, the guard and the trace share them without importing
//! each other.

pub use crate::vocab::states::*;
