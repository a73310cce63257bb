//! The host side of the `weir:dataflow` contract: `bindgen!` for the imports
//! once, and once per operator world for the exports (pointing back at the
//! shared import bindings with `with`, so there is one `Event` type).

#![allow(missing_docs)]

mod imports {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weir:dataflow/host-imports",
        imports: {
            "weir:dataflow/log": trappable,
            "weir:dataflow/state": trappable,
            "weir:dataflow/timers": trappable,
            "weir:dataflow/keyed-context": trappable,
        },
        with: {
            "weir:dataflow/state.value-state": crate::wasm::host::handle::StateHandle,
            "weir:dataflow/state.map-state": crate::wasm::host::handle::StateHandle,
            "weir:dataflow/state.list-state": crate::wasm::host::handle::StateHandle,
        },
    });
}

pub(crate) mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weir:dataflow/transform",
        with: {
            "weir:dataflow/types": super::imports::weir::dataflow::types,
            "weir:dataflow/log": super::imports::weir::dataflow::log,
        },
    });
}

pub(crate) mod keyed {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weir:dataflow/keyed",
        with: {
            "weir:dataflow/types": super::imports::weir::dataflow::types,
            "weir:dataflow/log": super::imports::weir::dataflow::log,
            "weir:dataflow/state": super::imports::weir::dataflow::state,
            "weir:dataflow/timers": super::imports::weir::dataflow::timers,
            "weir:dataflow/keyed-context": super::imports::weir::dataflow::keyed_context,
        },
    });
}

pub(crate) mod aggregate {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "weir:dataflow/aggregate",
        with: {
            "weir:dataflow/types": super::imports::weir::dataflow::types,
            "weir:dataflow/log": super::imports::weir::dataflow::log,
        },
    });
}

/// The columnar contract (`weir:dataflow@0.2.0`): its imports and types,
/// which each of its worlds below shares. The state resources are the
/// same host handles as 0.1's.
pub(crate) mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "weir:dataflow/host-imports",
        imports: {
            "weir:dataflow/log": trappable,
            "weir:dataflow/state": trappable,
            "weir:dataflow/timers": trappable,
            "weir:dataflow/keyed-context": trappable,
        },
        with: {
            "weir:dataflow/state.value-state": crate::wasm::host::handle::StateHandle,
            "weir:dataflow/state.map-state": crate::wasm::host::handle::StateHandle,
            "weir:dataflow/state.list-state": crate::wasm::host::handle::StateHandle,
        },
    });
}

/// The columnar contract's transform world.
pub(crate) mod v2_transform {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "weir:dataflow/transform",
        with: {
            "weir:dataflow/types": super::v2::weir::dataflow::types,
            "weir:dataflow/log": super::v2::weir::dataflow::log,
        },
    });
}

/// The columnar contract's keyed world.
pub(crate) mod v2_keyed {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "weir:dataflow/keyed",
        with: {
            "weir:dataflow/types": super::v2::weir::dataflow::types,
            "weir:dataflow/log": super::v2::weir::dataflow::log,
            "weir:dataflow/state": super::v2::weir::dataflow::state,
            "weir:dataflow/timers": super::v2::weir::dataflow::timers,
            "weir:dataflow/keyed-context": super::v2::weir::dataflow::keyed_context,
        },
    });
}

/// The columnar contract's aggregate world.
pub(crate) mod v2_aggregate {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "weir:dataflow/aggregate",
        with: {
            "weir:dataflow/types": super::v2::weir::dataflow::types,
            "weir:dataflow/log": super::v2::weir::dataflow::log,
        },
    });
}

pub use imports::weir::dataflow::types::{
    Accumulate, Event, FinishInput, FiredTimer, OperatorError, Output, Rejection, TimeDomain,
    Window,
};
pub(crate) use imports::weir::dataflow::{keyed_context, log, state, timers};

/// Adds every weir import to a linker.
pub(crate) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<super::StoreData>,
) -> wasmtime::Result<()> {
    use super::host::{WeirHost, view};
    log::add_to_linker::<_, WeirHost>(linker, view)?;
    state::add_to_linker::<_, WeirHost>(linker, view)?;
    timers::add_to_linker::<_, WeirHost>(linker, view)?;
    keyed_context::add_to_linker::<_, WeirHost>(linker, view)?;
    v2::weir::dataflow::log::add_to_linker::<_, WeirHost>(linker, view)?;
    v2::weir::dataflow::state::add_to_linker::<_, WeirHost>(linker, view)?;
    v2::weir::dataflow::timers::add_to_linker::<_, WeirHost>(linker, view)?;
    v2::weir::dataflow::keyed_context::add_to_linker::<_, WeirHost>(linker, view)?;
    Ok(())
}
