//! A script's declarations: its tables (with their Arrow schemas), its
//! functions, its `SET`s (Flink's keys) and its one `INSERT`.

use super::super::parse::{Statement, TableDef, parse_script};
use super::super::types::flink_type;
use super::super::{Pos, SqlError};
use super::{invalid_at, unsupported_at};
use arrow_schema::{Field, Schema, SchemaRef};
use datafusion_sql::sqlparser::ast::Query;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// What a script declares: its tables (with their Arrow schemas), its
/// settings, and its INSERT (sink, query, where).
pub(super) struct Declared {
    pub(super) tables: BTreeMap<String, (TableDef, SchemaRef)>,
    pub(super) settings: Settings,
    pub(super) insert: Option<(String, Box<Query>, Pos)>,
    pub(super) functions: Vec<super::super::parse::FunctionDef>,
}

/// Check the `CREATE TABLE`s and `SET`s of `text` as a script's (the
/// shell's session) would be: types weir reads, settings it knows.
pub fn check_declarations(text: &str) -> Result<(), SqlError> {
    declarations(Path::new("(shell)"), text).map(|_| ())
}

pub(super) fn declarations(path: &Path, text: &str) -> Result<Declared, SqlError> {
    let p = || path.to_path_buf();
    let statements = parse_script(text).map_err(|e| SqlError::Parse {
        path: p(),
        message: e.to_string(),
    })?;
    let unsupported = |at, what, hint: &str| unsupported_at(path, at, what, hint);
    let invalid = |at, message| invalid_at(path, at, message);
    let mut tables: BTreeMap<String, (TableDef, SchemaRef)> = BTreeMap::new();
    let mut settings = Settings::default();
    let mut insert: Option<(String, Box<Query>, Pos)> = None;
    let mut functions = Vec::new();
    for s in statements {
        match s {
            Statement::CreateTable(t) => {
                if let Some((name, what, at)) = t.unsupported.first() {
                    return Err(unsupported(*at, format!("{what} (`{name}`)"), ""));
                }
                let mut fields = Vec::new();
                for c in &t.columns {
                    let Some((ty, _)) = flink_type(&c.ty) else {
                        return Err(unsupported(
                            c.at,
                            format!("the type `{}` of column `{}`", c.ty, c.name),
                            ": weir reads BIGINT, INT, DOUBLE, FLOAT, DECIMAL(p, s), STRING/VARCHAR, BOOLEAN and TIMESTAMP(3) so far",
                        ));
                    };
                    fields.push(Field::new(&c.name, ty, c.nullable));
                }
                let at = t.at;
                let mut schema = Arc::new(Schema::new(fields));
                if !t.computed.is_empty() {
                    schema = with_computed(&t, schema)
                        .map_err(|(at, e)| invalid(at, format!("table `{}`: {e}", t.name)))?;
                }
                if tables.insert(t.name.clone(), (*t, schema)).is_some() {
                    return Err(invalid(at, "a second table of this name".into()));
                }
            }
            Statement::Set { key, value, at } => {
                settings.set(&key, &value).map_err(|m| invalid(at, m))?
            }
            Statement::Insert { sink, query, at } => {
                if insert.is_some() {
                    return Err(unsupported(
                        at,
                        "a second INSERT in one script".into(),
                        ": a script is one job with one INSERT INTO … SELECT … (run another script for another)",
                    ));
                }
                insert = Some((sink, query, at));
            }
            Statement::CreateFunction(f) => functions.push(f),
            Statement::Other { what, at } => {
                return Err(unsupported(
                    at,
                    what,
                    ": a script holds CREATE TABLE, CREATE FUNCTION, SET and one INSERT INTO … SELECT …",
                ));
            }
        }
    }
    super::super::create_function::check(path, &functions)?;
    Ok(Declared {
        tables,
        settings,
        insert,
        functions,
    })
}

/// The query a table's computed columns are made by: every column in
/// its declared place, a computed one as `expr AS c`, over the physical
/// columns (read as the table itself).
pub(in crate::sql) fn computed_query(t: &TableDef) -> String {
    let quote = |n: &str| format!("`{}`", n.replace('`', "``"));
    let mut items: Vec<String> = t.columns.iter().map(|c| quote(&c.name)).collect();
    for c in &t.computed {
        items.insert(
            c.position.min(items.len()),
            format!("{} AS {}", c.expr, quote(&c.name)),
        );
    }
    format!("SELECT {} FROM {}", items.join(", "), quote(&t.name))
}

/// The schema of `t` with its computed columns, in their places: each
/// computed column's type is the type DataFusion plans its expression
/// to over the physical columns (`physical`).
pub(super) fn with_computed(t: &TableDef, physical: SchemaRef) -> Result<SchemaRef, (Pos, String)> {
    let catalog = super::super::catalog::Catalog::new([(t.name.clone(), physical)]);
    let at = t.computed.first().map_or(t.at, |c| c.at);
    let query = super::super::ast::parse_query(&computed_query(t)).map_err(|r| {
        use super::super::ast::Refusal;
        let why = match r {
            Refusal::Plan(e) => e.to_string(),
            Refusal::Invalid(m) | Refusal::Unsupported(m, _) => m,
        };
        (at, format!("its computed columns: {why}"))
    })?;
    let plan = super::super::catalog::plan_query(&catalog, query)
        .map_err(|e| (at, format!("its computed columns: {e}")))?;
    Ok(plan.schema().inner().clone())
}

/// What the script's `SET`s ask for (Flink's keys; others are refused).
#[derive(Default)]
pub(super) struct Settings {
    pub(super) name: Option<String>,
    pub(super) parallelism: Option<usize>,
    pub(super) checkpoint: Option<String>,
    /// `execution.checkpointing.dir` (Flink 1's `state.checkpoints.dir`).
    pub(super) checkpoint_dir: Option<std::path::PathBuf>,
    pub(super) idle_timeout: Option<String>,
    /// `table.exec.state.ttl`, when not 0.
    pub(super) state_ttl: Option<String>,
    /// `state.backend.type`: `rocksdb` keeps state in RocksDB (weir's
    /// `state.backend`); `hashmap`, Flink's default, in memory.
    pub(super) rocksdb: bool,
}

impl Settings {
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let duration = |v: &str| {
            let compact: String = v.split_whitespace().collect();
            crate::time::parse_duration_ms(&compact)
                .map(|_| compact)
                .map_err(|e| format!("SET '{key}' = '{v}': {e}"))
        };
        match key {
            "pipeline.name" => self.name = Some(crate::job::file_safe(value)),
            "parallelism.default" => {
                self.parallelism =
                    Some(value.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                        format!("SET '{key}' = '{value}': a parallelism is a whole number ≥ 1")
                    })?)
            }
            "execution.checkpointing.interval" => self.checkpoint = Some(duration(value)?),
            "execution.checkpointing.dir" | "state.checkpoints.dir" => {
                // A path, or Flink's `file://` URL of one.
                let path = value.strip_prefix("file://").unwrap_or(value);
                self.checkpoint_dir = Some(path.into());
            }
            "table.exec.source.idle-timeout" => self.idle_timeout = Some(duration(value)?),
            // Flink's default, 0, keeps state for ever.
            "table.exec.state.ttl" => {
                let ttl = duration(value)?;
                self.state_ttl =
                    (crate::time::parse_duration_ms(&ttl).unwrap_or_default() > 0).then_some(ttl);
            }
            // Flink 2's name, and Flink 1's.
            "state.backend.type" | "state.backend" => {
                self.rocksdb = match value.to_ascii_lowercase().as_str() {
                    "rocksdb" => true,
                    "hashmap" => false,
                    _ => {
                        return Err(format!(
                            "SET '{key}' = '{value}': weir keeps state in `hashmap` (memory, the default) or `rocksdb`"
                        ));
                    }
                }
            }
            _ => {
                return Err(format!(
                    "SET '{key}' is not supported (pipeline.name, parallelism.default, execution.checkpointing.interval, execution.checkpointing.dir, state.backend.type, table.exec.source.idle-timeout, table.exec.state.ttl)"
                ));
            }
        }
        Ok(())
    }
}
