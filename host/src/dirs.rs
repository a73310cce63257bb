//! Where weir keeps what outlives a run: compiled components, default
//! checkpoint and state directories, `weir serve`'s data.

use std::path::PathBuf;

/// weir's cache directory: `$WEIR_CACHE_DIR`, else `$XDG_CACHE_HOME/weir`,
/// else `~/.cache/weir`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WEIR_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("weir");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/weir"))
        .unwrap_or_else(|| std::env::temp_dir().join("weir-cache"))
}
