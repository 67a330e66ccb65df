//! The same world as a [`stateright::Model`], so that stateright's checkers (BFS, DFS,
//! simulation, its web explorer) can run it, and so that a test can hold this crate's
//! explorer to stateright's unique-state count.
//!
//! The model is exactly [`World`]: same initial state, same actions in the same order,
//! same steps (a timer firing the untimed model cannot observe is `None`, which
//! stateright reads as "no new state"), and one property, `always` "every invariant
//! holds", which reads the violation the world's monitor kept in the state.

use super::app::{PeerApp, WorldApp};
use super::world::{Action, State, World};
use stateright::{Model, Property};

/// Name of the one property.
pub const INVARIANTS_HOLD: &str = "every invariant holds";

/// [`World`] as a stateright model.
#[derive(Clone, Debug)]
pub struct WorldModel<A = PeerApp> {
    /// The world.
    pub world: World<A>,
}

impl<A: WorldApp> Model for WorldModel<A> {
    type State = State<A>;
    type Action = Action;

    fn init_states(&self) -> Vec<State<A>> {
        vec![self.world.init()]
    }

    fn actions(&self, state: &State<A>, actions: &mut Vec<Action>) {
        let mut out = Vec::new();
        self.world.actions(state, &mut out);
        actions.extend(out);
    }

    fn next_state(&self, last: &State<A>, action: Action) -> Option<State<A>> {
        self.world.step(last, &action)
    }

    fn format_action(&self, action: &Action) -> String {
        action.to_string()
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(INVARIANTS_HOLD, |_, s: &State<A>| {
            s.violation().is_none()
        })]
    }
}
