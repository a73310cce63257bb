//! Loading a component and checking, before a job starts, that it
//! implements the world its operator needs.

use super::{StoreData, WasmEngine, WasmError, bindings};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker};

/// The contract version of the record-at-a-time worlds (JSON events).
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The contract version of the columnar worlds (data plane v2).
pub const COLUMNS_VERSION: &str = "0.2.0";

/// The worlds of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// Stateless map / filter / flat-map.
    Transform,
    /// Keyed process function.
    Keyed,
    /// Window aggregate function.
    Aggregate,
    /// Stateless map / filter over typed columns (`weir:dataflow@0.2.0`).
    Columns,
    /// Window aggregate function over typed columns (`weir:dataflow@0.2.0`).
    ColumnAggregate,
    /// Keyed process function over typed columns (`weir:dataflow@0.2.0`).
    ColumnKeyed,
}

impl World {
    /// The world's name in the WIT.
    pub fn name(self) -> &'static str {
        match self {
            World::Transform => "transform",
            World::Keyed | World::ColumnKeyed => "keyed",
            World::Aggregate => "aggregate",
            World::Columns => "transform",
            World::ColumnAggregate => "aggregate",
        }
    }
    /// The contract version it belongs to.
    pub fn version(self) -> &'static str {
        match self {
            World::Columns | World::ColumnAggregate | World::ColumnKeyed => COLUMNS_VERSION,
            _ => CONTRACT_VERSION,
        }
    }
    /// The interface the world exports.
    pub fn export(self) -> &'static str {
        match self {
            World::Transform | World::Columns => "transformer",
            World::Keyed | World::ColumnKeyed => "keyed-processor",
            World::Aggregate | World::ColumnAggregate => "aggregator",
        }
    }
    fn role(self) -> &'static str {
        match self {
            World::Transform => "chained operator ([[operators]])",
            World::Keyed => "keyed operator ([keyed])",
            World::Aggregate => "window aggregate ([window.aggregate])",
            World::Columns => "chained operator over columns ([[operators]])",
            World::ColumnAggregate => "window aggregate over columns ([window.aggregate])",
            World::ColumnKeyed => "keyed operator over columns ([keyed])",
        }
    }
    const ALL: [World; 6] = [
        World::Transform,
        World::Keyed,
        World::Aggregate,
        World::Columns,
        World::ColumnAggregate,
        World::ColumnKeyed,
    ];
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled, checked component, ready to instantiate per subtask.
#[derive(Clone)]
pub struct LoadedComponent {
    /// The operator's name.
    pub operator: Arc<str>,
    /// Where it came from.
    pub path: PathBuf,
    /// SHA-256 of the component bytes.
    pub digest: String,
    /// Its world.
    pub world: World,
    pub(crate) pre: InstancePre<StoreData>,
}

impl LoadedComponent {
    /// Compile (or fetch from the cache) and check a component for `world`.
    pub fn load(
        engine: &WasmEngine,
        operator: &str,
        path: &Path,
        world: World,
    ) -> Result<LoadedComponent, WasmError> {
        Self::load_any(engine, operator, path, &[world])
    }

    /// Compile (or fetch from the cache) a component that implements one
    /// of `worlds` (SQL's `CREATE FUNCTION`: a scalar or an aggregate
    /// function); the first it implements is its world. A component that
    /// implements none is refused in the words of the first.
    pub fn load_any(
        engine: &WasmEngine,
        operator: &str,
        path: &Path,
        worlds: &[World],
    ) -> Result<LoadedComponent, WasmError> {
        let [first, ..] = worlds else {
            return Err(WasmError::Engine("no world to load a component for".into()));
        };
        let load_err = |message: String| WasmError::Load {
            operator: operator.into(),
            path: path.into(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| load_err(e.to_string()))?;
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        for &world in worlds {
            let key = (digest.clone(), world);
            if let Some(pre) = engine
                .linked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
            {
                return Ok(LoadedComponent {
                    operator: operator.into(),
                    path: path.into(),
                    digest,
                    world,
                    pre: pre.clone(),
                });
            }
        }
        let started = std::time::Instant::now();
        let component = Component::new(engine.engine(), &bytes).map_err(|e| {
            load_err(format!(
                "{e:#} (is it a WebAssembly component built for wasm32-wasip2?)"
            ))
        })?;
        tracing::debug!(
            operator,
            digest = &digest[..12],
            ms = started.elapsed().as_millis() as u64,
            "component compiled or loaded from cache"
        );
        let world = match worlds
            .iter()
            .copied()
            .find(|&w| check_world(engine, &component, operator, path, w).is_ok())
        {
            Some(w) => w,
            None => {
                // Refused in the words of the first.
                check_world(engine, &component, operator, path, *first)?;
                *first
            }
        };
        let key = (digest.clone(), world);
        let mut linker: Linker<StoreData> = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| WasmError::Engine(e.to_string()))?;
        bindings::add_to_linker(&mut linker).map_err(|e| WasmError::Engine(e.to_string()))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| WasmError::Link {
                operator: operator.into(),
                path: path.into(),
                message: format!("{e:#}"),
            })?;
        {
            let mut linked = engine.linked.lock().unwrap_or_else(|p| p.into_inner());
            if linked.len() >= super::engine::MAX_LINKED {
                linked.clear();
            }
            linked.insert(key, pre.clone());
        }
        Ok(LoadedComponent {
            operator: operator.into(),
            path: path.into(),
            digest,
            world,
            pre,
        })
    }
}

/// Find which of our interfaces the component exports, at which version.
fn check_world(
    engine: &WasmEngine,
    component: &Component,
    operator: &str,
    path: &Path,
    expected: World,
) -> Result<(), WasmError> {
    let ty = component.component_type();
    let mut ours: Vec<(&'static str, String)> = Vec::new();
    let mut others = Vec::new();
    for (name, item) in ty.exports(engine.engine()) {
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            others.push(name.to_string());
            continue;
        }
        let (iface, version) = name.split_once('@').unwrap_or((name, ""));
        match iface
            .strip_prefix("weir:dataflow/")
            .and_then(|i| World::ALL.into_iter().find(|w| w.export() == i))
        {
            Some(w) => ours.push((w.export(), version.to_string())),
            None => others.push(name.to_string()),
        }
    }
    let wrong = |found: String| WasmError::WrongWorld {
        operator: operator.into(),
        path: path.into(),
        found,
        role: expected.role(),
        expected: expected.name(),
        export: expected.export(),
    };
    let Some((_, version)) = ours.iter().find(|(e, _)| *e == expected.export()) else {
        return Err(match ours.first() {
            Some((e, v)) => {
                let w = World::ALL
                    .into_iter()
                    .find(|w| w.export() == *e && compatible(v, w.version()))
                    .map_or("another", World::name);
                wrong(format!(
                    "implements the `{w}` world (exports weir:dataflow/{e}@{v})"
                ))
            }
            None if others.is_empty() => wrong("exports nothing".into()),
            None => wrong(format!(
                "exports none of weir's interfaces (it exports {})",
                others.join(", ")
            )),
        });
    };
    if !compatible(version, expected.version()) {
        return Err(WasmError::Version {
            operator: operator.into(),
            path: path.into(),
            found: version.clone(),
            supported: expected.version(),
            supported_range: match expected {
                World::Columns | World::ColumnAggregate | World::ColumnKeyed => {
                    "0.2.x, for operators over columns"
                }
                _ => "0.1.x, for operators over JSON events",
            },
        });
    }
    Ok(())
}

/// Can a component built against contract `version` run where `ours` is
/// expected? Same major version, and same minor while the major is 0 (semver).
pub fn compatible(version: &str, ours: &str) -> bool {
    let parts = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parts(version), parts(ours)) {
        (Some((maj, min)), Some((our_maj, our_min))) => {
            maj == our_maj && (maj != 0 || min == our_min)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_compatibility_follows_semver() {
        let ours = super::CONTRACT_VERSION;
        assert!(super::compatible("0.1.0", ours));
        assert!(super::compatible("0.1.7", ours));
        assert!(!super::compatible("0.2.0", ours));
        assert!(super::compatible("0.2.1", super::COLUMNS_VERSION));
        assert!(!super::compatible("1.1.0", ours));
        assert!(!super::compatible("", ours));
    }
}
