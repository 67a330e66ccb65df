//! The ground floor: the vocabulary every layer shares (time and ids, the state enums of
//! the webrtc crate, stack calls and events). It imports nothing from the rest of the
//! crate, so the pure model, the guard and the trace can all stand on it without
//! importing each other (docs/architecture.md).

pub mod calls;
pub mod ids;
pub mod states;

pub use calls::*;
pub use ids::*;
pub use states::*;
