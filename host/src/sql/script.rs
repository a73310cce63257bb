//! A script as a job: its tables become the job's source and sink, its
//! `INSERT INTO … SELECT …` a stage whose query DataFusion evaluates, its
//! `SET`s the job's settings (Flink's keys).
//!
//! The query is planned here, against the tables' declared schemas, so a
//! script that cannot run is refused before it starts: an unknown column,
//! a type error, a construct weir does not run yet (by name, with the
//! statement's line), a query whose columns do not fit its sink.

use super::catalog::boxed;
use super::connector::{self, OptionError, Writes};
use super::graph::{Graph, SELECT, stage};
use super::parse::TableDef;
use super::types::{flink_type, widen};
use super::window::Refusal;
use super::{Pos, SqlError};
use crate::job::{
    ChangelogFormat, CheckpointSpec, EventTimeSpec, JobSpec, LimitsSpec, LoadedJob,
    NamedSourceSpec, SqlStageSpec, StageSpec, StateSpec,
};
use arrow_schema::{Schema, SchemaRef};
use datafusion_sql::sqlparser::ast::{BinaryOperator, Expr, Query};
pub use declare::check_declarations;
use declare::{Declared, declarations};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Read `path`, a SQL script, as a job (with `--set` overrides applied to
/// the job it makes).
pub fn load(path: &Path, overrides: &[String]) -> Result<LoadedJob, SqlError> {
    let text = std::fs::read_to_string(path).map_err(|source| SqlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let spec = to_job(path, &text)?;
    Ok(crate::job::from_spec(spec, path, overrides)?)
}

/// The job `text` (the script at `path`, for errors and the job's default
/// name) describes.
pub fn to_job(path: &Path, text: &str) -> Result<JobSpec, SqlError> {
    Ok(script_job(path, text, None)?.0)
}

/// The table a shell's `SELECT` is inserted into ([`select_job`]).
const SHELL_SINK: &str = "__shell";

/// The job of an interactive `SELECT` (`query`, after the `CREATE
/// TABLE`s and `SET`s of `ddl`): its rows written as JSON lines to
/// `output`; and the columns they have.
pub fn select_job(ddl: &str, query: &str, output: &Path) -> Result<(JobSpec, SchemaRef), SqlError> {
    let text = format!("{ddl}\nINSERT INTO `{SHELL_SINK}` {query}");
    script_job(Path::new("(shell)"), &text, Some(output))
}

/// The job `text` describes, and its sink's columns; with `shell`, its
/// INSERT goes to [`SHELL_SINK`], a file at `shell` with the query's own
/// columns.
fn script_job(
    path: &Path,
    text: &str,
    shell: Option<&Path>,
) -> Result<(JobSpec, SchemaRef), SqlError> {
    let p = || path.to_path_buf();
    let unsupported = |at, what, hint: &str| unsupported_at(path, at, what, hint);
    let invalid = |at, message| invalid_at(path, at, message);
    let Declared {
        mut tables,
        settings,
        insert,
        functions,
    } = declarations(path, text)?;
    let Some((sink_name, mut query, at)) = insert else {
        return Err(invalid(
            Pos { line: 1, column: 1 },
            "no INSERT INTO … SELECT …: a script needs one to be a job".into(),
        ));
    };
    // `(SELECT *, PROCTIME() AS c FROM t)` is `t` with that column.
    proctime::inline(&mut query, &mut tables, at).map_err(|(at, m)| invalid(at, m))?;
    let declared = match shell {
        Some(_) if sink_name == SHELL_SINK => None,
        _ => Some(tables.get(&sink_name).ok_or_else(|| {
            invalid(
                at,
                format!("no table `{sink_name}` to insert into: declare it with CREATE TABLE"),
            )
        })?),
    };
    // A sink's computed columns are not written (as in Flink): the query
    // gives its physical ones.
    let sink_of = |schema: &SchemaRef| {
        declared.map_or_else(
            || schema.clone(),
            |(def, s)| {
                if def.computed.is_empty() {
                    return s.clone();
                }
                let physical: Vec<_> = s
                    .fields()
                    .iter()
                    .filter(|f| def.columns.iter().any(|c| c.name == *f.name()))
                    .cloned()
                    .collect();
                Arc::new(Schema::new(physical))
            },
        )
    };
    let plan_err = |e| SqlError::Plan {
        path: p(),
        at,
        sink: sink_name.clone(),
        error: boxed(e),
    };
    // A group window (`GROUP BY TUMBLE(ts, …)`) is the window table
    // function it stands for.
    let query = super::group_window::rewrite(&query).map_or(query, Box::new);
    let refusal = |r| match r {
        Refusal::Unsupported(what, hint) => unsupported(at, what, &hint),
        Refusal::Invalid(m) => invalid(at, m),
        Refusal::Plan(e) => plan_err(e),
    };
    let (wasm, function_specs) = super::create_function::load(path, &functions)?;
    // The functions a stage's query calls run in that stage.
    let functions_of = |query: &Query| {
        let called = super::create_function::called(query, &wasm);
        function_specs
            .iter()
            .filter(|f| called.contains(&f.name))
            .cloned()
            .collect::<Vec<_>>()
    };
    let graph = super::compose::lower(&query, &tables, &wasm).map_err(refusal)?;
    let Graph {
        tables: read,
        mut stages,
        mut last,
        schema,
        updating,
    } = graph;
    // A table with computed columns is read through a stage that adds
    // them to its rows; the stages that read the table read that stage.
    for table in &read {
        let (def, _) = &tables[table];
        if def.computed.is_empty() {
            continue;
        }
        let source = Graph::source_name(&read, table);
        let name = format!("{source}_computed");
        for s in &mut stages {
            for input in &mut s.inputs {
                if *input == source {
                    input.clone_from(&name);
                }
            }
        }
        if last.input == source {
            last.input.clone_from(&name);
        }
        stages.insert(
            0,
            StageSpec {
                sql: Some(SqlStageSpec {
                    query: declare::computed_query(def),
                    table: Some(table.clone()),
                    ..Default::default()
                }),
                ..stage(&name, &source)
            },
        );
    }
    for s in &mut stages {
        if let Some(q) = s.sql.as_mut()
            && let Ok(query) = super::ast::parse_query(&q.query)
        {
            q.functions = functions_of(&query);
        }
    }
    // A time to live is for the state of operators that keep rows for
    // ever: a global window's keys, a regular join's rows (a window's or
    // a time-bounded join's state goes as time passes it, as in Flink).
    for s in &mut stages {
        if let Some(w) = s.window.as_mut().filter(|w| w.kind == "global") {
            w.ttl.clone_from(&settings.state_ttl);
        }
        if let Some(j) = s.join.as_mut().filter(|j| j.kind == "regular") {
            j.ttl.clone_from(&settings.state_ttl);
        }
    }
    // A sub-plan read twice (Nexmark q5's window count) runs once.
    super::graph::share_common_stages(&mut stages, &mut last.input);
    // An updating query's rows carry their change in their last column.
    let values = if updating {
        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
        fields.pop();
        Arc::new(Schema::new(fields))
    } else {
        schema
    };
    let sink_schema = sink_of(&values);
    let writes = declared.map_or(Writes::Rows, |(def, _)| {
        connector::sink_writes(&def.options)
    });
    // (The shell's sink writes rows as they are: it applies the changes.)
    if updating && let Some((def, _)) = declared {
        let refuse = |hint: &str| {
            unsupported(
                at,
                format!(
                    "an updating query (a GROUP BY without a window, a Top-N or an outer join) into table `{sink_name}`"
                ),
                hint,
            )
        };
        match writes {
            Writes::Inserts => {
                return Err(refuse(
                    ": its format takes only inserts; use 'format' = 'debezium-json' (a changelog), \
                     or a 'jdbc' table with a PRIMARY KEY",
                ));
            }
            Writes::ByKey if def.primary_key.is_empty() => {
                return Err(refuse(
                    ": it has no PRIMARY KEY to apply updates by; declare one, PRIMARY KEY (k) NOT ENFORCED",
                ));
            }
            _ => {}
        }
    }
    let post = fit_to_sink(&last.query, &values, &sink_schema, &sink_name, updating)
        .map_err(|m| invalid(at, m))?;
    stages.push(StageSpec {
        sql: Some(SqlStageSpec {
            query: post,
            table: Some(last.table),
            schema: last.schema,
            changelog: (writes == Writes::Debezium).then_some(ChangelogFormat::DebeziumJson),
            functions: functions_of(&last.query),
        }),
        ..stage(SELECT, &last.input)
    });
    let option_err =
        |t: &TableDef, OptionError(m)| invalid(t.at, format!("table `{}`: {m}", t.name));
    let source_of = |def: &TableDef| {
        let schema: BTreeMap<String, String> = def
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    flink_type(&c.ty).expect("checked above").1.to_string(),
                )
            })
            .collect();
        connector::source(&def.options, schema).map_err(|e| option_err(def, e))
    };
    let event_time_of = |def: &TableDef| match &def.watermark {
        None => Ok(None),
        Some(w) => watermark(def, w)
            .map(|mut e| {
                e.idle_timeout = settings.idle_timeout.clone();
                Some(e)
            })
            .map_err(|(at, m)| invalid(at, m)),
    };
    let (source_def, _) = &tables[&read[0]];
    let source = source_of(source_def)?;
    let mut sources = Vec::new();
    for table in &read[1..] {
        let (def, _) = &tables[table];
        sources.push(NamedSourceSpec {
            name: Graph::source_name(&read, table),
            source: source_of(def)?,
            event_time: event_time_of(def)?,
        });
    }
    let sink = match (declared, shell) {
        (Some((sink_def, _)), _) => {
            let columns: Vec<String> = sink_def.columns.iter().map(|c| c.name.clone()).collect();
            let mut sink = connector::sink(&sink_def.options, &columns, &sink_def.primary_key)
                .map_err(|e| option_err(sink_def, e))?;
            if let crate::job::SinkSpec::Postgres(p) = &mut sink {
                p.changelog = updating;
            }
            sink
        }
        (None, out) => crate::job::SinkSpec::File {
            path: out.unwrap_or(Path::new("-")).to_path_buf(),
        },
    };
    let event_time = event_time_of(source_def)?;
    let name = settings.name.unwrap_or_else(|| {
        let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
        crate::job::file_safe(&stem.unwrap_or_else(|| "sql".into()))
    });
    let windowed = stages
        .iter()
        .any(|s| s.window.is_some() || s.join.is_some() || s.over.is_some());
    let job = JobSpec {
        name,
        parallelism: settings.parallelism.unwrap_or(1),
        batch_size: crate::job::default_batch(),
        source,
        sources,
        event_time,
        operators: Vec::new(),
        key_by: None,
        window: None,
        keyed: None,
        stages,
        sink,
        sinks: Vec::new(),
        // Flink drops the rows that come after their window closed (and
        // counts them); so does a script, knowingly. A join drops the
        // rows that come after the watermark passed them.
        late_output: windowed.then_some(crate::job::SinkSpec::Discard {}),
        dead_letter: None,
        limits: LimitsSpec::default(),
        state: StateSpec {
            backend: if settings.rocksdb {
                "rocksdb"
            } else {
                "memory"
            }
            .into(),
            ..StateSpec::default()
        },
        checkpoint: settings.checkpoint.map(|interval| CheckpointSpec {
            interval,
            dir: settings.checkpoint_dir.clone(),
            retain: 3,
        }),
    };
    Ok((job, sink_schema))
}

/// A construct of the script at `path` weir does not run (yet).
fn unsupported_at(path: &Path, at: Pos, what: String, hint: &str) -> SqlError {
    SqlError::Unsupported {
        path: path.to_path_buf(),
        at,
        what,
        hint: hint.into(),
    }
}

/// A statement of the script at `path` that cannot be right.
fn invalid_at(path: &Path, at: Pos, message: String) -> SqlError {
    SqlError::Invalid {
        path: path.to_path_buf(),
        at,
        message,
    }
}

/// The query a stage runs for `query`, whose rows (of `schema`) go to a
/// sink of `sink` columns: Flink maps a query's columns to its sink's by
/// position, widening types where no value is lost (INT to BIGINT) and
/// refusing the rest. The stage's rows then carry the sink's column names.
///
/// The rows of an `updating` query carry their change in a last column,
/// `_op`, beside `schema`'s: it is kept as it is.
fn fit_to_sink(
    query: &Query,
    schema: &SchemaRef,
    sink: &SchemaRef,
    sink_name: &str,
    updating: bool,
) -> Result<String, String> {
    if schema.fields().len() != sink.fields().len() {
        return Err(format!(
            "the query has {} columns, table `{sink_name}` has {} ({})",
            schema.fields().len(),
            sink.fields().len(),
            sink.fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let q = |name: &str| format!("`{}`", name.replace('`', "``"));
    let mut items = Vec::new();
    for (i, (from, to)) in schema.fields().iter().zip(sink.fields()).enumerate() {
        let column = q(to.name());
        match widen(from.data_type(), to.data_type()) {
            Some(None) => items.push(column),
            Some(Some(ty)) => items.push(format!("CAST({column} AS {ty}) AS {column}")),
            None => {
                return Err(format!(
                    "the query's column {} (`{}`) is {}, but column `{}` of table `{sink_name}` is {}: CAST it",
                    i + 1,
                    from.name(),
                    from.data_type(),
                    to.name(),
                    to.data_type()
                ));
            }
        }
    }
    let mut names: Vec<String> = sink.fields().iter().map(|f| q(f.name())).collect();
    if updating {
        let op = q(crate::window::global::OP);
        items.push(op.clone());
        names.push(op);
    }
    let mut query = query.clone();
    super::flink::name_columns(&mut query);
    Ok(format!(
        "SELECT {} FROM ({query}) AS `q` ({})",
        items.join(", "),
        names.join(", ")
    ))
}

/// `WATERMARK FOR ts AS ts [- INTERVAL 'n' UNIT]` as the source's event
/// time: the column, and how far the watermark trails it.
fn watermark(t: &TableDef, w: &super::parse::WatermarkDef) -> Result<EventTimeSpec, (Pos, String)> {
    let field = match t.columns.iter().find(|c| c.name == w.column) {
        Some(column) => {
            if !matches!(
                flink_type(&column.ty),
                Some((arrow_schema::DataType::Timestamp(..), _))
            ) {
                return Err((
                    w.at,
                    format!(
                        "WATERMARK FOR `{}`: the column is {}, not TIMESTAMP(3)",
                        w.column, column.ty
                    ),
                ));
            }
            w.column.clone()
        }
        None => match t.computed.iter().find(|c| c.name == w.column) {
            // The source reads the event time from the BIGINT of ms the
            // computed column converts.
            Some(c) => epoch_ms_column(t, &c.expr).ok_or_else(|| {
                (
                    w.at,
                    format!(
                        "WATERMARK FOR `{}`: the computed column `{}` is not an event time weir reads; \
                         an event time is a TIMESTAMP(3) column of the input, or a computed \
                         TO_TIMESTAMP_LTZ(ms, 3) of a BIGINT column of ms since the epoch",
                        w.column, c.expr
                    ),
                )
            })?,
            None => {
                return Err((
                    w.at,
                    format!("WATERMARK FOR `{}`: no such column", w.column),
                ));
            }
        },
    };
    let is_column = |e: &Expr| matches!(e, Expr::Identifier(i) if i.value == w.column);
    let delay = match &w.expr {
        e if is_column(e) => Some(0),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Minus,
            right,
        } if is_column(left) => interval_ms(right),
        _ => None,
    };
    let delay = delay.ok_or_else(|| {
        (
            w.at,
            format!(
                "WATERMARK … AS {} is not supported: weir's watermarks are `{c}` or `{c} - INTERVAL 'n' SECOND` (or MINUTE, HOUR, MILLISECOND)",
                w.expr,
                c = w.column
            ),
        )
    })?;
    Ok(EventTimeSpec {
        field: Some(field),
        max_out_of_orderness: format!("{delay}ms"),
        idle_timeout: None,
    })
}

/// The BIGINT column of ms since the epoch that `expr`, a computed
/// column, makes a time of: `TO_TIMESTAMP_LTZ(ms, 3)` (Flink's usual
/// rowtime of epoch millis) or `TO_TIMESTAMP_MILLIS(ms)`.
fn epoch_ms_column(t: &TableDef, expr: &Expr) -> Option<String> {
    let Expr::Function(f) = expr else { return None };
    let name = f.name.to_string().to_ascii_lowercase();
    let args = super::ast::call_args(f);
    let column = match (name.as_str(), args.as_slice()) {
        ("to_timestamp_ltz", [c, p]) if p.to_string() == "3" => c,
        ("to_timestamp_millis", [c]) => c,
        _ => return None,
    };
    let Expr::Identifier(column) = column else {
        return None;
    };
    t.columns
        .iter()
        .find(|c| c.name == column.value)
        .filter(|c| matches!(flink_type(&c.ty), Some((arrow_schema::DataType::Int64, _))))
        .map(|c| c.name.clone())
}

/// `INTERVAL 'n' UNIT` in ms.
pub(super) fn interval_ms(e: &Expr) -> Option<i64> {
    let Expr::Interval(i) = e else { return None };
    let text = i.value.to_string();
    let n: f64 = text.trim_matches('\'').trim().parse().ok()?;
    let unit = i.leading_field.as_ref()?.to_string().to_ascii_uppercase();
    let ms = match unit.as_str() {
        "MILLISECOND" | "MILLISECONDS" => 1.0,
        "SECOND" | "SECONDS" => 1e3,
        "MINUTE" | "MINUTES" => 60e3,
        "HOUR" | "HOURS" => 3600e3,
        "DAY" | "DAYS" => 86400e3,
        _ => return None,
    };
    Some((n * ms).round() as i64)
}

mod declare;
mod proctime;
#[cfg(test)]
mod tests;
