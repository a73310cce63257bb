//! What can go wrong with a SQL script or query, and where.

use datafusion_common::DataFusionError;
use std::path::PathBuf;

/// A position in a script: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl From<datafusion_sql::sqlparser::tokenizer::Location> for Pos {
    fn from(l: datafusion_sql::sqlparser::tokenizer::Location) -> Self {
        Pos {
            line: l.line,
            column: l.column,
        }
    }
}

/// Why a SQL script could not become a job, or a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The script could not be read.
    #[error("cannot read SQL script {path}: {source}")]
    Read {
        /// The script.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not SQL the parser understands.
    #[error("{path}: {message}")]
    Parse {
        /// The script.
        path: PathBuf,
        /// sqlparser's message, with the line and column.
        message: String,
    },
    /// Valid Flink SQL that weir does not run (yet): refused, never run
    /// as something else.
    #[error("{path}:{at}: {what} is not supported{hint}")]
    Unsupported {
        /// The script.
        path: PathBuf,
        /// Where the construct starts.
        at: Pos,
        /// The construct.
        what: String,
        /// What to do instead, if anything (starts with `: `).
        hint: String,
    },
    /// A statement that cannot be right: an unknown table, a missing or
    /// unknown connector option, a query whose columns do not fit its sink.
    #[error("{path}:{at}: {message}")]
    Invalid {
        /// The script.
        path: PathBuf,
        /// Where the statement starts.
        at: Pos,
        /// What is wrong and what to do.
        message: String,
    },
    /// DataFusion could not plan a query (an unknown column or function, a
    /// type error).
    #[error("{path}:{at}: in the query of `INSERT INTO {sink}`: {error}")]
    Plan {
        /// The script.
        path: PathBuf,
        /// Where the statement starts.
        at: Pos,
        /// The table the query writes.
        sink: String,
        /// DataFusion's error (in the message: not a `source`, whose
        /// chain would repeat it).
        error: Box<DataFusionError>,
    },
    /// A `CREATE FUNCTION`'s component could not be built or loaded.
    #[error("{path}:{at}: function `{name}`: {source}")]
    Function {
        /// The script.
        path: PathBuf,
        /// Where the statement starts.
        at: Pos,
        /// The function.
        name: String,
        /// Why.
        source: Box<super::create_function::LoadError>,
    },
    /// A stage's query could not be compiled for the schema its input has.
    #[error("stage `{stage}`: its query `{query}` over {schema}: {error}")]
    Compile {
        /// The stage.
        stage: String,
        /// The query.
        query: String,
        /// The input's schema, described.
        schema: String,
        /// DataFusion's error (in the message: not a `source`, whose
        /// chain would repeat it).
        error: Box<DataFusionError>,
    },
    /// Evaluating a stage's query over a batch failed (an overflow, a
    /// division by zero, a cast that does not fit).
    #[error("stage `{stage}`: evaluating `{query}`: {error}")]
    Evaluate {
        /// The stage.
        stage: String,
        /// The query.
        query: String,
        /// DataFusion's (or arrow's) error.
        error: Box<DataFusionError>,
    },
    /// A live swap's new version of a function cannot replace the running
    /// one (it refuses the arguments it is called with, or returns
    /// another type).
    #[error("stage `{stage}`: swapping function `{function}`: {error}")]
    Swap {
        /// The stage.
        stage: String,
        /// The function.
        function: String,
        /// Why.
        error: Box<DataFusionError>,
    },
    /// A stage's query made more bytes of one batch than a job's
    /// operators may (`limits.max_output_bytes`).
    #[error(
        "stage `{stage}`: its query made {bytes} bytes of rows from one batch of {rows}, over the job's limits.max_output_bytes ({limit})"
    )]
    TooLarge {
        /// The stage.
        stage: String,
        /// Bytes made.
        bytes: usize,
        /// Rows of the input batch.
        rows: usize,
        /// The limit.
        limit: usize,
    },
    /// The job the script makes is not valid (each problem says where).
    #[error(transparent)]
    Job(#[from] crate::job::JobError),
    /// A job file whose `sql` holds its script, but whose other keys do
    /// not go with it.
    #[error("{path}: {message}")]
    JobFile {
        /// The job file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}

impl SqlError {
    /// The error with its position moved down `lines` lines (a script
    /// that starts on line `lines + 1` of its file).
    pub(super) fn shifted(mut self, lines: u64) -> SqlError {
        match &mut self {
            SqlError::Unsupported { at, .. }
            | SqlError::Invalid { at, .. }
            | SqlError::Plan { at, .. }
            | SqlError::Function { at, .. } => at.line += lines,
            _ => {}
        }
        self
    }
}
