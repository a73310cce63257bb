//! Top-N and deduplication: per key, the first rows of an order — Flink's
//!
//! ```sql
//! SELECT * FROM (
//!   SELECT *, ROW_NUMBER() OVER (PARTITION BY merchant ORDER BY amount DESC) AS rn
//!   FROM tx
//! ) WHERE rn <= 3
//! ```
//!
//! The operator keeps, per key, the rows at the first `to` places of the
//! order (an insert-only input never brings a row back once it fell
//! behind them, so nothing else is kept), and after each batch it emits
//! what changed at places `from..=to` as a changelog (`_op`: `+I`, `-U`,
//! `+U`, `-D`), as Flink's `AppendOnlyTopNFunction` does per record and its
//! mini-batch mode per batch:
//!
//! - with the rank number as a column ([`Ranking::number`]), each place is
//!   a row of the result: a place whose row changed retracts the old row
//!   with its number (`-U`) and inserts the new one (`+U`); a place newly
//!   filled is `+I`;
//! - without it, the result is the set of rows at those places: rows that
//!   left are retracted, rows that came inserted (Flink's rank without
//!   number). Deduplication is this with one place.
//!
//! Over a changelog ([`Ranking::sign`]: the Top-N of a `GROUP BY`'s
//! results, whose rows update), a row can be taken back, and a row that
//! fell behind the places may come back into them, so every row is kept,
//! per key in a B-tree by its place in the order (Flink's
//! `RetractableTopNFunction` keeps them too); a row taken back removes the
//! earliest equal row, and the changes go out after each batch as above.
//!
//! A Window Top-N ([`Ranking::at_watermark`]) instead waits: each key (a
//! window, and maybe more columns) goes out once, its places as inserts,
//! when the watermark passes its rows' time, and is then forgotten — as
//! Flink's `WindowRankOperator` does; its result is append-only.
//!
//! Rows that tie in the order keep the order they came in
//! ([`Ties::Earlier`], Flink's Top-N); deduplication keeping the last row
//! (`ORDER BY ts DESC`, `rn = 1`) lets a later row win a tie
//! ([`Ties::Later`]), as Flink's `Deduplicate` does.
//!
//! The rows are kept on the heap in Arrow's row format, charged to the
//! job's memory budget, and written at each checkpoint as Arrow IPC; a
//! restore keeps the keys a subtask owns, so a job rescales.

mod operator;
#[cfg(test)]
mod tests;

pub use operator::RankOperator;

/// What a rank stage keeps and emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    /// The order, first column first.
    pub order: Vec<SortColumn>,
    /// The first place emitted (1-based).
    pub from: u64,
    /// The last place emitted and kept.
    pub to: u64,
    /// The column the rank number goes into (BIGINT); `None`: the rows
    /// alone, as a set.
    pub number: Option<String>,
    /// Which of two rows equal in the order comes first.
    pub ties: Ties,
    /// Each key's rows go out once, when the watermark passes their time,
    /// as inserts without a change column, and the key is forgotten: the
    /// Top-N of a window's results (Flink's Window Top-N), whose rows of
    /// one window share one time. Otherwise the changes go out after each
    /// batch.
    pub at_watermark: bool,
    /// The input is a changelog: this column holds each row's sign, and a
    /// row whose sign is negative takes back an equal row that came
    /// before (Flink's `RetractableTopNFunction`). Every row is then kept,
    /// not only the first places: a row taken back lets a later one move
    /// up. The column itself is not kept.
    pub sign: Option<String>,
}

/// A column of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortColumn {
    /// The column.
    pub field: String,
    /// Greatest first.
    pub descending: bool,
    /// NULLs before other values.
    pub nulls_first: bool,
}

/// Which of two rows equal in the order comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// The one that came first (Flink's Top-N).
    Earlier,
    /// The one that came last (Flink's deduplication keeping the last row).
    Later,
}

/// Why a rank stage could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RankError {
    /// The kept rows passed the job's memory budget.
    #[error(transparent)]
    OverBudget(#[from] crate::budget::OverBudget),
    /// Rows could not be converted, put together or taken apart.
    #[error("ranked rows: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The key column cannot be a key.
    #[error(transparent)]
    Key(#[from] crate::batch::SchemaError),
    /// A column of the order is not in the input.
    #[error("the order column `{0}` is not a column of the stage's input")]
    NoColumn(String),
    /// A batch's columns differ from the first batch's.
    #[error("a batch with other columns than the first: {0}")]
    Schema(String),
    /// Its input came as records, not typed columns.
    #[error(
        "a rank stage reads typed columns, and its input came as records; read a source or a `sql` stage"
    )]
    NotColumns,
    /// A row's sign is NULL.
    #[error(
        "row {row} of a batch has no sign (NULL in `{field}`); each row of a changelog is added (1) or taken back (-1)"
    )]
    NoSign {
        /// The sign column.
        field: String,
        /// The row, in its batch.
        row: usize,
    },
    /// A row taken back was never added (or was taken back already): the
    /// changelog is not one.
    #[error(
        "a row taken back (sign -1) under key `{key}` was never added: its input is not a changelog of the rows it ranks"
    )]
    NotAdded {
        /// The key, as text.
        key: String,
    },
    /// A checkpoint's rank state cannot be read or written.
    #[error("rank state in the checkpoint {path}: {message}")]
    State {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}
