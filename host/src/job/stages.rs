//! A job as a graph of named stages (`[[stages]]`).
//!
//! A job file either describes the one-chain pipeline (`[[operators]]`,
//! `[key_by]`, `[window]` or `[keyed]`) or lists its stages, each with the
//! stages it reads. The graph starts at `source` and ends at the one stage
//! no other stage reads, which feeds `[sink]`:
//!
//! ```toml
//! [[stages]]
//! name = "orders"
//! inputs = ["source"]
//! operators = [{ name = "only-orders", component = "route", config = { kind = "order" } }]
//!
//! [[stages]]
//! name = "payments"
//! inputs = ["source"]
//! operators = [{ name = "only-payments", component = "route", config = { kind = "payment" } }]
//!
//! [[stages]]
//! name = "paid"
//! join = { type = "interval", left = "orders", right = "payments", left_key = "order", right_key = "order", lower = "0s", upper = "1h" }
//! ```
//!
//! A stage with several inputs is their union; `key_by` partitions its
//! input by a field (a window or keyed operator needs it); a join
//! partitions each side by its
//! own key.

use super::spec::{KeyBySpec, OperatorSpec, WindowSpec};
use serde::{Deserialize, Serialize};

/// The name the source has as a stage input.
pub const SOURCE: &str = "source";

/// One stage of a job graph.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Name, unique in the job (letters, digits, `-`, `_`); other stages
    /// name it in their `inputs`.
    pub name: String,
    /// What it reads: `source` or earlier stages. Several inputs are their
    /// union. A join names its inputs in `join` instead.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Partition the input by a JSON field (needed by `window` and `keyed`).
    pub key_by: Option<KeyBySpec>,
    /// Stateless Wasm operators applied in order (over JSON events).
    #[serde(default)]
    pub operators: Vec<OperatorSpec>,
    /// A window with aggregates, per key.
    pub window: Option<WindowSpec>,
    /// A keyed Wasm operator with state and timers.
    pub keyed: Option<OperatorSpec>,
    /// A join of two keyed streams.
    pub join: Option<JoinSpec>,
    /// An OVER aggregation per key (needs `key_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<OverSpec>,
    /// The first rows per key of an order (Top-N, deduplication; needs
    /// `key_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<RankSpec>,
    /// A SQL query over the stage's one input: projections and filters,
    /// evaluated by DataFusion over its columns (what `weir sql` makes of
    /// an `INSERT INTO … SELECT …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlStageSpec>,
}

/// A stage's SQL query.
///
/// ```toml
/// [[stages]]
/// name = "big"
/// inputs = ["source"]
/// sql = { query = "SELECT `user`, amount * 100 AS cents FROM tx WHERE amount >= 50", table = "tx" }
/// ```
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlStageSpec {
    /// One `SELECT` in Flink's dialect: projections, filters, scalar
    /// functions, `CASE`; no aggregation, join or `ORDER BY` (yet).
    pub query: String,
    /// The name the query reads its input by; default: the input's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The fields of its input, as `[source.schema]` names them, when the
    /// input comes as records (a join's output: `"left.user" =
    /// "string"`); default: inferred from the first records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<std::collections::BTreeMap<String, String>>,
    /// How it writes rows that carry a change (an `_op` column: `+I`,
    /// `-U`, `+U`, `-D`, from a `global` window) to a sink that writes:
    /// `debezium-json`, each change as Debezium's `{"before", "after",
    /// "op"}`; default: each row as it is, its change a field `_op`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changelog: Option<ChangelogFormat>,
    /// Wasm scalar functions the query calls (`CREATE FUNCTION … LANGUAGE
    /// WASM`), each by its name in the query: components of the
    /// `transform` world over columns (see `weir_guest::v2::scalar`),
    /// swapped live by that name like any operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<OperatorSpec>,
}

/// How a changelog is written (see [`SqlStageSpec::changelog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ChangelogFormat {
    /// Debezium's JSON, as Flink's `debezium-json` format writes it: an
    /// insert or update-after is `{"before": null, "after": row, "op":
    /// "c"}`, an update-before or delete `{"before": row, "after": null,
    /// "op": "d"}`.
    #[serde(rename = "debezium-json")]
    DebeziumJson,
}

impl StageSpec {
    /// The stages it reads, in order (a join: left, then right).
    pub fn input_names(&self) -> Vec<&str> {
        match &self.join {
            Some(j) => vec![j.left.as_str(), j.right.as_str()],
            None => self.inputs.iter().map(String::as_str).collect(),
        }
    }

    /// The key field its input `i` is partitioned by, if it is.
    pub fn key_of_input(&self, i: usize) -> Option<&str> {
        match &self.join {
            Some(j) => Some(if i == 0 { &j.left_key } else { &j.right_key }),
            None => self.key_by.as_ref().map(|k| k.field.as_str()),
        }
    }

    /// What the stage does, in a word, for errors and checkpoints.
    pub fn kind(&self) -> &'static str {
        if self.join.is_some() {
            "join"
        } else if self.window.is_some() {
            "window"
        } else if self.over.is_some() {
            "over"
        } else if self.rank.is_some() {
            "rank"
        } else if self.keyed.is_some() {
            "keyed"
        } else if self.sql.is_some() {
            "sql"
        } else if !self.operators.is_empty() {
            "operators"
        } else if self.key_by.is_some() {
            "key_by"
        } else {
            "union"
        }
    }
}

/// An OVER aggregation: every row goes out once, when the watermark
/// passes it, with aggregates over the rows of its key up to it in event
/// time — Flink's `agg(x) OVER (PARTITION BY k ORDER BY ts ROWS|RANGE
/// BETWEEN … PRECEDING AND CURRENT ROW)` (see [`crate::over`]). It reads
/// typed columns: its input is a source or a `sql` stage.
///
/// ```toml
/// [[stages]]
/// name = "last3"
/// inputs = ["source"]
/// key_by = { field = "user" }
/// over = { frame = "rows", preceding = 2, aggregates = [{ fn = "sum", field = "amount", as = "last3" }] }
/// ```
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverSpec {
    /// `rows` (default): the row and `preceding` rows before it; `range`:
    /// the rows at most `preceding` before it, and those at its time.
    #[serde(default = "rows")]
    pub frame: String,
    /// How far back: a number of rows (`rows`) or a duration (`range`,
    /// `"10s"`); absent: every row before (`UNBOUNDED PRECEDING`).
    pub preceding: Option<Preceding>,
    /// Built-in aggregates (`count`, `sum`, `min`, `max`, `avg`), each a
    /// column added to the row: BIGINT for `count`, DOUBLE (NULL over no
    /// numbers) else.
    pub aggregates: Vec<super::spec::AggregateSpec>,
    /// `event` (default): rows are ordered by event time and go out as
    /// the watermark passes them; `processing`: each row goes out as it
    /// comes, ordered by arrival, its time the wall clock when its batch
    /// is read (Flink's `ORDER BY` a `PROCTIME()` column).
    #[serde(default = "event")]
    pub time: String,
}

fn event() -> String {
    "event".into()
}

/// A rank stage: per key, the rows at places `from..=to` of an order,
/// as a changelog of what changes there (Flink's Top-N and deduplication,
/// `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)` filtered on the number;
/// see [`crate::rank`]). It reads typed columns: a source or a `sql` stage.
///
/// ```toml
/// [[stages]]
/// name = "top3"
/// inputs = ["source"]
/// key_by = { field = "merchant" }
/// rank = { order_by = [{ field = "amount", desc = true }], to = 3, number = "rn" }
/// ```
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RankSpec {
    /// The order, first column first.
    pub order_by: Vec<RankOrderSpec>,
    /// The first place emitted (default 1).
    #[serde(default = "first_place")]
    pub from: u64,
    /// The last place emitted.
    pub to: u64,
    /// A BIGINT column added with each row's place; absent: the rows
    /// alone, as a set (a row that moves within the places changes
    /// nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Which of two rows equal in the order comes first: `earlier`
    /// (default, Flink's Top-N) or `later` (Flink's deduplication keeping
    /// the last row).
    #[serde(default = "earlier")]
    pub ties: String,
    /// Each key's places go out once, as inserts, when the watermark
    /// passes its rows' time, and the key is forgotten (the Top-N of a
    /// window's results: Flink's Window Top-N). Default: the changes after
    /// each batch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_watermark: bool,
    /// The input is a changelog: the column holding each row's sign — 1
    /// adds the row, -1 takes back an equal row added before (the Top-N
    /// of a `GROUP BY`'s results, whose rows update). Every row is then
    /// kept, not only the first places. Not with `at_watermark`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// A column of a rank stage's order.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RankOrderSpec {
    /// The column.
    pub field: String,
    /// Greatest first.
    #[serde(default)]
    pub desc: bool,
    /// NULLs first; default: NULL is the least value (first ascending,
    /// last descending), as in Flink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls_first: Option<bool>,
}

fn first_place() -> u64 {
    1
}

fn earlier() -> String {
    "earlier".into()
}

/// The most places a rank stage keeps per key.
pub const MAX_RANK: u64 = 100_000;

/// How far back an OVER frame reaches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Preceding {
    /// Rows.
    Rows(u64),
    /// A duration.
    Time(String),
}

fn rows() -> String {
    "rows".into()
}

/// A join of two keyed streams, with Flink's semantics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JoinSpec {
    /// `window`: every pair with equal keys in the same window, emitted
    /// when the window fires (Flink's `join(…).window(…)`). `interval`:
    /// every pair with equal keys where `left.ts + lower <= right.ts <=
    /// left.ts + upper`, emitted as soon as both are in (Flink's
    /// `intervalJoin(…).between(lower, upper)`). `regular`: every pair
    /// with equal keys whatever their times, each record kept for ever or
    /// for `ttl` (Flink SQL's join of two tables without time bounds).
    #[serde(rename = "type")]
    pub kind: String,
    /// The left input stage (or `source`).
    pub left: String,
    /// The right input stage (or `source`).
    pub right: String,
    /// Dotted path of the left records' key field.
    pub left_key: String,
    /// Dotted path of the right records' key field.
    pub right_key: String,
    /// Window join: `tumbling` (default) or `sliding`.
    #[serde(default = "tumbling")]
    pub window: String,
    /// Window join: the window length.
    pub size: Option<String>,
    /// Window join, sliding: the hop.
    pub slide: Option<String>,
    /// Interval join: the lower bound, e.g. `"-5s"` (may be negative).
    pub lower: Option<String>,
    /// Interval join: the upper bound, e.g. `"5s"`; at least `lower`.
    pub upper: Option<String>,
    /// Regular join: how long each record is kept after it came, in
    /// processing time (Flink's `table.exec.state.ttl`); default: for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Regular join: an outer join, `left`, `right` or `full` (Flink SQL's
    /// `LEFT | RIGHT | FULL OUTER JOIN`): a row of that side (both, for
    /// `full`) with no partner is emitted with `null` for the other side,
    /// and retracted once a partner comes. Its records are a changelog:
    /// each carries its change in `_op` (`+I`, `-D`). Default: inner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer: Option<String>,
}

fn tumbling() -> String {
    "tumbling".into()
}

/// Parse a duration that may be negative (`"-5s"`), in ms.
///
/// ```
/// assert_eq!(weir::job::parse_signed_duration_ms("-5s"), Ok(-5000));
/// assert_eq!(weir::job::parse_signed_duration_ms("2s"), Ok(2000));
/// ```
pub fn parse_signed_duration_ms(text: &str) -> Result<i64, crate::time::DurationError> {
    match text.trim().strip_prefix('-') {
        Some(rest) => crate::time::parse_duration_ms(rest).map(|ms| -ms),
        None => crate::time::parse_duration_ms(text),
    }
}
