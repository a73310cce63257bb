use std::path::PathBuf;

/// What went wrong loading or running a component, with where.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The engine could not be set up.
    #[error("cannot set up the Wasm engine: {0}")]
    Engine(String),
    /// The file could not be read or compiled.
    #[error("operator `{operator}`: cannot load component {path}: {message}")]
    Load {
        /// Operator name.
        operator: String,
        /// Component file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The component implements another world than the operator needs.
    #[error(
        "operator `{operator}`: component {path} {found}, but a {role} needs the `{expected}` world (it must export `weir:dataflow/{export}`); build it with the matching weir_guest macro"
    )]
    WrongWorld {
        /// Operator name.
        operator: String,
        /// Component file.
        path: PathBuf,
        /// What the component exports, in words.
        found: String,
        /// What the operator is used as.
        role: &'static str,
        /// Expected world.
        expected: &'static str,
        /// Expected export.
        export: &'static str,
    },
    /// The component was built against an incompatible contract version.
    #[error(
        "operator `{operator}`: component {path} was built against weir:dataflow@{found}; this host speaks weir:dataflow@{supported} (compatible: {supported_range}); rebuild it with the current weir-guest"
    )]
    Version {
        /// Operator name.
        operator: String,
        /// Component file.
        path: PathBuf,
        /// The version it was built against.
        found: String,
        /// Ours.
        supported: &'static str,
        /// What we accept.
        supported_range: &'static str,
    },
    /// An import the host does not provide.
    #[error(
        "operator `{operator}`: component {path} cannot be linked: {message}. Operators may import only weir:dataflow and WASI 0.2 interfaces"
    )]
    Link {
        /// Operator name.
        operator: String,
        /// Component file.
        path: PathBuf,
        /// The linker's complaint.
        message: String,
    },
    /// A guest call used more CPU time than its limit.
    #[error(
        "job `{job}`, operator `{operator}` (subtask {subtask}): a call to `{call}` ran longer than limits.call_timeout = {timeout_ms} ms of CPU time (it used {cpu_ms} ms) and was stopped; the operator probably loops forever"
    )]
    Timeout {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Subtask.
        subtask: usize,
        /// Export called.
        call: &'static str,
        /// The limit.
        timeout_ms: u64,
        /// CPU time the call used, ms.
        cpu_ms: u64,
    },
    /// A guest handed the host more bytes in one call than its limit.
    #[error(
        "job `{job}`, operator `{operator}` (subtask {subtask}): `{call}` handed the host more than limits.max_output_bytes = {limit_bytes} bytes in one call (its output, or one state value) and was stopped"
    )]
    OutputTooLarge {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Subtask.
        subtask: usize,
        /// Export called.
        call: &'static str,
        /// The limit.
        limit_bytes: usize,
    },
    /// A guest logged more than the job's log rate.
    #[error(transparent)]
    LogFlood(#[from] crate::budget::LogFlood),
    /// A guest's state writes took the job past its budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
    /// A guest tried to grow memory past its limit and then failed.
    #[error(
        "job `{job}`, operator `{operator}` (subtask {subtask}): `{call}` needed more than limits.memory = {limit_bytes} bytes of memory (it asked for {requested_bytes}) and failed"
    )]
    Memory {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Subtask.
        subtask: usize,
        /// Export called.
        call: &'static str,
        /// The limit.
        limit_bytes: usize,
        /// What it asked for.
        requested_bytes: usize,
    },
    /// The guest trapped (panic, unreachable, stack overflow, bad host call).
    #[error("job `{job}`, operator `{operator}` (subtask {subtask}): `{call}` trapped: {message}")]
    Trap {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Subtask.
        subtask: usize,
        /// Export called.
        call: &'static str,
        /// Trap description with the guest backtrace.
        message: String,
    },
    /// The guest returned an error for the whole call.
    #[error("job `{job}`, operator `{operator}` (subtask {subtask}): `{call}` failed: {message}")]
    Operator {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Subtask.
        subtask: usize,
        /// Export called.
        call: &'static str,
        /// The guest's message.
        message: String,
    },
    /// One call emitted more records than `limits.max_output_per_record`
    /// allows for what it was given.
    #[error(
        "job `{job}`, operator `{operator}` (subtask {subtask}): output flood: `{call}` emitted {emitted} records for {inputs} input(s), more than the limit of {per_record} per input (raise limits.max_output_per_record if this fan-out is intended)"
    )]
    OutputFlood {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Subtask.
        subtask: usize,
        /// Export called.
        call: &'static str,
        /// Records emitted.
        emitted: usize,
        /// Records or timers given.
        inputs: usize,
        /// The limit per input.
        per_record: usize,
    },
    /// The guest returned something that breaks the contract.
    #[error("job `{job}`, operator `{operator}`: `{call}` broke the contract: {message}")]
    Contract {
        /// Job.
        job: String,
        /// Operator.
        operator: String,
        /// Export called.
        call: &'static str,
        /// What was wrong.
        message: String,
    },
}
