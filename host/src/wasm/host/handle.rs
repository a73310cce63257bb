//! What a guest's state resource handle stands for (the host side of the
//! contract's `value-state`, `map-state` and `list-state` resources).

use crate::state::StateKind;

/// A piece of state of an operator, by name and kind; the key it reads and
/// writes is the one selected when it is used.
#[derive(Debug, Clone)]
pub struct StateHandle {
    /// The state's name in the operator.
    pub(crate) name: String,
    /// Value, map or list.
    pub(crate) kind: StateKind,
}
