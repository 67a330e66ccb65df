//! Channel symmetry reduction (placeholder: identity).

use super::world::{Action, State, World};

/// The representative of `s`'s symmetry class.
pub fn canonical(_world: &World, s: State) -> State {
    s
}

/// The actions of a path given as action indices of each (canonical) state.
pub fn actions_of_path(world: &World, _symmetry: bool, indices: &[u32]) -> Vec<Action> {
    let mut s = world.init();
    let mut out = Vec::new();
    let mut actions = Vec::new();
    for &i in indices {
        world.actions(&s, &mut actions);
        let Some(a) = actions.get(i as usize).cloned() else {
            break;
        };
        let Some(next) = world.step(&s, &a) else {
            break;
        };
        s = next;
        out.push(a);
    }
    out
}
