//! The process-wide wasmtime engine.

use super::WasmError;
use super::{StoreData, World};
use crate::activity::Activity;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::component::InstancePre;
use wasmtime::{Cache, CacheConfig, Config, Engine};

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine plus where compiled code is cached.
#[derive(Clone)]
pub struct WasmEngine {
    engine: Engine,
    cache: Option<Cache>,
    /// Components linked already, by (digest, world): jobs running the same
    /// component share its compiled code instead of each holding a copy —
    /// what lets one host keep a thousand small jobs.
    pub(crate) linked: Arc<Mutex<Linked>>,
    /// Guest calls running now: the epoch ticks only while one does (a
    /// call's deadline counts ticks from its start, so ticks not made
    /// while none ran change no deadline).
    pub(crate) calls: Arc<Activity>,
}

/// Linked components by (digest, world).
pub(crate) type Linked = HashMap<(String, World), InstancePre<StoreData>>;

/// Linked components kept in [`WasmEngine::linked`]; past this the map is
/// cleared (running jobs keep theirs alive), so a long-running host that
/// sees many versions does not keep all of them.
pub(crate) const MAX_LINKED: usize = 256;

impl WasmEngine {
    /// The shared engine, created on first use. Compiled code is cached
    /// under `$WEIR_CACHE_DIR` (default `~/.cache/weir`)`/compiled`, keyed by
    /// a digest of the component and the engine's settings, so a second
    /// start does not recompile.
    pub fn shared() -> Result<&'static WasmEngine, WasmError> {
        static ENGINE: OnceLock<Result<WasmEngine, WasmError>> = OnceLock::new();
        ENGINE
            .get_or_init(|| WasmEngine::new(Some(crate::dirs::cache_dir().join("compiled"))))
            .as_ref()
            .map_err(|e| WasmError::Engine(e.to_string()))
    }

    /// A new engine; `cache_dir` None disables the compilation cache.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<WasmEngine, WasmError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Every call gets a deadline in epochs; a looping guest traps.
        config.epoch_interruption(true);
        // Plain synchronous calls: the async-task bookkeeping the default
        // config sets up on every call costs ~3x on a small call.
        config.concurrency_support(false);
        // `WEIR_PERFMAP=1`: name JIT code for `perf`, to profile operators.
        if std::env::var_os("WEIR_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let cache = match cache_dir {
            Some(dir) => {
                let mut cc = CacheConfig::new();
                cc.with_directory(dir);
                let cache = Cache::new(cc)
                    .map_err(|e| WasmError::Engine(format!("compilation cache: {e}")))?;
                config.cache(Some(cache.clone()));
                Some(cache)
            }
            None => None,
        };
        let engine = Engine::new(&config).map_err(|e| WasmError::Engine(e.to_string()))?;
        let ticker = engine.weak();
        let calls = Arc::new(Activity::default());
        let waiting = calls.clone();
        std::thread::Builder::new()
            .name("weir-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                    // Asleep while no call runs; up now and then to end
                    // with the engine.
                    waiting.wait_for_work(Duration::from_secs(1));
                }
            })
            .map_err(|e| WasmError::Engine(format!("epoch thread: {e}")))?;
        Ok(WasmEngine {
            engine,
            cache,
            linked: Arc::default(),
            calls,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// (hits, misses) of the compilation cache since start.
    pub fn cache_stats(&self) -> (usize, usize) {
        self.cache
            .as_ref()
            .map_or((0, 0), |c| (c.cache_hits(), c.cache_misses()))
    }
}
