//! A lowered query as stages of the job graph: the tables it reads (the
//! job's sources), its stages, and its last stage, whose rows go to the
//! sink once they are fitted to the sink's columns.

mod shared;

pub(super) use shared::share_common_stages;

use super::{join, over, rank, window};
use crate::job::{KeyBySpec, SOURCE, SqlStageSpec, StageSpec};
use arrow_schema::SchemaRef;
use datafusion_sql::sqlparser::ast::Query;
use std::collections::BTreeMap;

/// A query as stages.
pub(super) struct Graph {
    /// The tables it reads: the first is the job's `[source]`, the others
    /// its named sources ([`Graph::source_name`]).
    pub tables: Vec<String>,
    /// Its stages, but the last.
    pub stages: Vec<StageSpec>,
    /// The last stage: what it reads, and its query over it.
    pub last: Last,
    /// The columns the last stage's query makes.
    pub schema: SchemaRef,
    /// Its rows are a changelog: they carry their change in their last
    /// column (`_op`).
    pub updating: bool,
}

/// The last stage of a [`Graph`].
pub(super) struct Last {
    /// The stage (or source) it reads.
    pub input: String,
    /// The name its query reads its input by.
    pub table: String,
    /// The query.
    pub query: Query,
    /// Its input's fields, when they come as records of a known shape.
    pub schema: Option<BTreeMap<String, String>>,
}

/// The name of an OVER aggregation's stage.
const OVER: &str = "over";

/// The name of a Top-N's stage.
const RANK: &str = "rank";

/// The name of a Window Top-N's stage over the window's results.
const WINDOWED: &str = "windowed";

/// The prefix of the stages of a window of windows' inner aggregation,
/// and the name of the stage of its rows.
const INNER: &str = "inner";
const INNER_ROWS: &str = "inner_rows";

/// The name of the last stage.
pub(super) const SELECT: &str = "select";

impl Graph {
    /// A query over `table` alone, run as it is.
    pub fn select(table: String, query: Query, schema: SchemaRef) -> Graph {
        Graph {
            last: Last {
                input: SOURCE.into(),
                table: table.clone(),
                query,
                schema: None,
            },
            tables: vec![table],
            stages: Vec::new(),
            schema,
            updating: false,
        }
    }

    /// A window aggregation: its `filter` and `window` stages. Of a
    /// window of windows, the inner aggregation's stages (`inner_…`) and
    /// a stage of its rows (`inner_rows`) before them.
    pub fn window(w: window::Lowered) -> Graph {
        let mut stages = Vec::new();
        let (input, reads) = match w.cascade {
            None => (SOURCE.to_string(), w.table.clone()),
            Some(c) => {
                stages.extend(Graph::rows_of(*c.inner, INNER, INNER_ROWS, SOURCE));
                (INNER_ROWS.to_string(), c.reads)
            }
        };
        stages.push(StageSpec {
            sql: Some(SqlStageSpec {
                query: w.pre,
                table: Some(reads),
                ..Default::default()
            }),
            ..stage("filter", &input)
        });
        stages.push(StageSpec {
            key_by: Some(KeyBySpec {
                field: window::KEY.into(),
            }),
            window: Some(w.window),
            ..stage("window", "filter")
        });
        Graph {
            tables: vec![w.table],
            stages,
            last: Last {
                input: "window".into(),
                table: window::RESULTS.into(),
                query: w.post,
                schema: None,
            },
            schema: w.schema,
            updating: w.updating,
        }
    }

    /// An OVER aggregation: its `filter` and `over` stages.
    pub fn over(o: over::Lowered) -> Graph {
        let stages = vec![
            StageSpec {
                sql: Some(SqlStageSpec {
                    query: o.pre,
                    table: Some(o.table.clone()),
                    ..Default::default()
                }),
                ..stage("filter", SOURCE)
            },
            StageSpec {
                key_by: Some(KeyBySpec {
                    field: window::KEY.into(),
                }),
                over: Some(o.over),
                ..stage(OVER, "filter")
            },
        ];
        Graph {
            tables: vec![o.table],
            stages,
            last: Last {
                input: OVER.into(),
                table: over::ROWS.into(),
                query: o.post,
                schema: None,
            },
            schema: o.schema,
            updating: false,
        }
    }

    /// A Top-N: its `filter` and `rank` stages; its rows a changelog. A
    /// Top-N of an aggregation: the aggregation's stages, a `windowed`
    /// stage over their results, and `rank`; its rows inserts for a
    /// Window Top-N, a changelog after a `GROUP BY` without a window.
    pub fn rank(r: rank::Lowered) -> Graph {
        let updating = !r.rank.at_watermark;
        let mut stages = Vec::new();
        let input = match r.window {
            None => {
                stages.push(StageSpec {
                    sql: Some(SqlStageSpec {
                        query: r.pre,
                        table: Some(r.table.clone()),
                        ..Default::default()
                    }),
                    ..stage("filter", SOURCE)
                });
                "filter"
            }
            Some(w) => {
                stages.extend(Graph::window(*w).stages);
                stages.push(StageSpec {
                    sql: Some(SqlStageSpec {
                        query: r.pre,
                        table: Some(window::RESULTS.into()),
                        ..Default::default()
                    }),
                    ..stage(WINDOWED, "window")
                });
                WINDOWED
            }
        };
        stages.push(StageSpec {
            key_by: Some(KeyBySpec {
                field: window::KEY.into(),
            }),
            rank: Some(r.rank),
            ..stage(RANK, input)
        });
        Graph {
            tables: vec![r.table],
            stages,
            last: Last {
                input: RANK.into(),
                table: rank::ROWS.into(),
                query: r.post,
                schema: None,
            },
            schema: r.schema,
            updating,
        }
    }

    /// A join: a stage over each table, and the join. A side that is a
    /// window aggregation first has that aggregation's stages (named
    /// after its side) and a stage that makes its rows.
    pub fn join(j: join::Lowered) -> Graph {
        let [left, right] = j.tables;
        let mut tables = vec![left.clone()];
        if right != left {
            tables.push(right.clone());
        }
        let [pre_left, pre_right] = j.pre;
        let mut stages = Vec::new();
        for ((name, table, query), aggregated) in [
            (join::LEFT, left, pre_left),
            (join::RIGHT, right, pre_right),
        ]
        .into_iter()
        .zip(j.aggregated)
        {
            let source = Graph::source_name(&tables, &table);
            let (input, reads) = match aggregated {
                None => (source, table),
                Some(w) => {
                    let rows = if name == join::LEFT {
                        join::LEFT_ROWS
                    } else {
                        join::RIGHT_ROWS
                    };
                    stages.extend(Graph::rows_of(*w, name, rows, &source));
                    (rows.to_string(), rows.to_string())
                }
            };
            stages.push(StageSpec {
                sql: Some(SqlStageSpec {
                    query,
                    table: Some(reads),
                    ..Default::default()
                }),
                ..stage(name, &input)
            });
        }
        stages.push(StageSpec {
            join: Some(j.join),
            inputs: Vec::new(),
            ..stage(join::JOIN, "")
        });
        Graph {
            tables,
            stages,
            last: Last {
                input: join::JOIN.into(),
                table: join::JOINED.into(),
                query: j.post,
                schema: Some(j.joined),
            },
            schema: j.schema,
            updating: j.updating,
        }
    }

    /// An aggregation `outer` of the rows of query `inner`: `inner`'s
    /// stages (named `inner_…`), a stage `inner_rows` that runs its last
    /// query, then `outer`'s stages over its rows.
    pub fn stacked(inner: Graph, outer: window::Lowered) -> Graph {
        let renamed = |name: &str| format!("{INNER}_{name}");
        let ours: Vec<String> = inner.stages.iter().map(|s| s.name.clone()).collect();
        let mut stages = inner.stages;
        for s in &mut stages {
            s.name = renamed(&s.name);
            let join = s.join.as_mut().map(|j| [&mut j.left, &mut j.right]);
            for i in s.inputs.iter_mut().chain(join.into_iter().flatten()) {
                if ours.contains(i) {
                    *i = renamed(i);
                }
            }
        }
        let last = inner.last;
        let input = if ours.contains(&last.input) {
            renamed(&last.input)
        } else {
            last.input
        };
        stages.push(StageSpec {
            sql: Some(SqlStageSpec {
                query: last.query.to_string(),
                table: Some(last.table),
                schema: last.schema,
                ..Default::default()
            }),
            ..stage(INNER_ROWS, &input)
        });
        let mut graph = Graph::window(outer);
        for s in &mut graph.stages {
            for i in &mut s.inputs {
                if i == SOURCE {
                    *i = INNER_ROWS.into();
                }
            }
        }
        stages.append(&mut graph.stages);
        graph.stages = stages;
        graph.tables = inner.tables;
        graph
    }

    /// The stages of window aggregation `w`, named `{prefix}_…` and
    /// reading `source` for its table, then a stage `rows` that runs its
    /// `select` over the window's results: its rows, for the stages after.
    fn rows_of(w: window::Lowered, prefix: &str, rows: &str, source: &str) -> Vec<StageSpec> {
        let post = w.post.to_string();
        let mut stages = Graph::window(w).stages;
        for s in &mut stages {
            s.name = format!("{prefix}_{}", s.name);
            for i in &mut s.inputs {
                *i = if i == SOURCE {
                    source.to_string()
                } else {
                    format!("{prefix}_{i}")
                };
            }
        }
        stages.push(StageSpec {
            sql: Some(SqlStageSpec {
                query: post,
                table: Some(window::RESULTS.into()),
                ..Default::default()
            }),
            ..stage(rows, &format!("{prefix}_window"))
        });
        stages
    }

    /// The name of table `table`'s source in a graph reading `tables`:
    /// `source` for the first, else the table's name (`table_` before it
    /// when a stage has that name).
    pub fn source_name(tables: &[String], table: &str) -> String {
        if tables.first().map(String::as_str) == Some(table) {
            SOURCE.into()
        } else if table.starts_with(INNER)
            || [
                "filter",
                "window",
                OVER,
                RANK,
                WINDOWED,
                SELECT,
                join::LEFT,
                join::RIGHT,
                join::JOIN,
                join::LEFT_ROWS,
                join::RIGHT_ROWS,
                "join_left_filter",
                "join_left_window",
                "join_right_filter",
                "join_right_window",
                INNER_ROWS,
                "inner_filter",
                "inner_window",
                SOURCE,
            ]
            .contains(&table)
        {
            format!("table_{table}")
        } else {
            table.into()
        }
    }
}

/// A stage named `name` that reads `input` and does nothing yet.
pub(super) fn stage(name: &str, input: &str) -> StageSpec {
    StageSpec {
        name: name.into(),
        inputs: if input.is_empty() {
            Vec::new()
        } else {
            vec![input.into()]
        },
        key_by: None,
        operators: Vec::new(),
        window: None,
        keyed: None,
        join: None,
        over: None,
        rank: None,
        sql: None,
    }
}
