//! Memory limits per instance, and what to say when one is hit.

use wasmtime::ResourceLimiter;

/// Limits linear memory and tables, and remembers the request that was
/// refused so the failure can be reported as "out of memory" rather than as
/// whatever trap the guest's allocator produced afterwards.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    /// Bytes of linear memory allowed.
    pub max_memory: usize,
    /// Largest refused request, if any, in bytes.
    pub refused: Option<usize>,
    /// The largest a linear memory has grown to, in bytes.
    pub high_water: usize,
}

/// Table elements per instance: generous for real code, fatal for a bomb.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    /// A limiter for `max_memory` bytes.
    pub fn new(max_memory: usize) -> Self {
        Self {
            max_memory,
            refused: None,
            high_water: 0,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.refused = Some(self.refused.unwrap_or(0).max(desired));
            return Ok(false);
        }
        self.high_water = self.high_water.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
