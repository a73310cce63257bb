//! `weir:dataflow/log`: guest log lines into the host's `tracing`.

use super::WeirView;
use crate::wasm::bindings::log::{Host, Level};

/// Longer guest messages are cut, so a guest cannot flood the host's log with
/// one huge line.
const MAX_MESSAGE: usize = 4096;

impl Host for WeirView<'_> {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.emit(level, message)
    }
}

/// The 0.2 contract's `log`: the same.
impl crate::wasm::bindings::v2::weir::dataflow::log::Host for WeirView<'_> {
    fn log(
        &mut self,
        level: crate::wasm::bindings::v2::weir::dataflow::log::Level,
        message: String,
    ) -> wasmtime::Result<()> {
        use crate::wasm::bindings::v2::weir::dataflow::log::Level as L2;
        let level = match level {
            L2::Trace => Level::Trace,
            L2::Debug => Level::Debug,
            L2::Info => Level::Info,
            L2::Warn => Level::Warn,
            L2::Error => Level::Error,
        };
        self.emit(level, message)
    }
}

impl WeirView<'_> {
    fn emit(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        // Held to the job's log rate before anything is written: a guest
        // that logs without end fails its job, and fills no disk.
        if let Err(flood) = self.ctx.budgets.log.spend(message.len() as u64 + 32) {
            self.ctx.log_flood = Some(flood.clone());
            return Err(wasmtime::Error::new(flood));
        }
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("… (truncated)");
        }
        if level == Level::Error {
            self.ctx.last_error = Some(message.clone());
        }
        let id = &self.ctx.id;
        let (job, op, sub) = (&*id.job, &*id.operator, id.subtask);
        match level {
            Level::Trace => {
                tracing::trace!(target: "weir::guest", job, operator = op, subtask = sub, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "weir::guest", job, operator = op, subtask = sub, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "weir::guest", job, operator = op, subtask = sub, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "weir::guest", job, operator = op, subtask = sub, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "weir::guest", job, operator = op, subtask = sub, "{message}")
            }
        }
        Ok(())
    }
}
