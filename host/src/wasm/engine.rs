//! The process-wide wasmtime engine.

use super::WasmError;
use super::{StoreData, World};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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
    /// Calls running now: the epoch ticks only while one does.
    pub(crate) calls: Arc<Calls>,
}

/// The guest calls running in an engine, so that its epoch ticker sleeps
/// while none does: a host of a thousand idle jobs then does not wake a
/// hundred times a second for nothing. A call's deadline counts ticks from
/// its start, so ticks missed while nothing ran change no deadline.
#[derive(Default)]
pub(crate) struct Calls {
    running: AtomicUsize,
    /// The ticker waits for a call (read and set under this lock, so a
    /// call that starts as the ticker parks always wakes it).
    parked: Mutex<bool>,
    wake: Condvar,
}

/// A guest call running: see [`Calls::enter`].
pub(crate) struct Running(Arc<Calls>);

impl Calls {
    /// A guest call starts; it ends when the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Running {
        if self.running.fetch_add(1, Ordering::SeqCst) == 0 {
            let parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
            if *parked {
                self.wake.notify_one();
            }
        }
        Running(self.clone())
    }

    /// For the ticker: return when a call is running, or after `most`.
    fn wait(&self, most: Duration) {
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        if self.running.load(Ordering::SeqCst) == 0 {
            *parked = true;
            parked = self
                .wake
                .wait_timeout(parked, most)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            *parked = false;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
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
        let calls = Arc::new(Calls::default());
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
                    waiting.wait(Duration::from_secs(1));
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
