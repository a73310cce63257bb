//! Each stage of a job graph, planned: what its spec asks for, as the
//! runtime runs it.

use super::{
    JoinKind, PlanError, PlannedGraphStage, PlannedStage, StageWork, WindowAgg, load_chained,
    load_operator,
};
use crate::job::{AggregateSpec, LoadedJob};
use crate::time::parse_duration_ms;
use crate::wasm::{WasmEngine, World};
use crate::window::{TimeMode, WindowKind};

/// A window, planned: its assigner, time, lateness and aggregation.
pub(super) fn window_stage(
    job: &LoadedJob,
    engine: &'static WasmEngine,
    w: &crate::job::WindowSpec,
) -> Result<PlannedStage, PlanError> {
    let dur = |s: &str| parse_duration_ms(s).unwrap_or(0);
    let opt = |s: &Option<String>| s.as_deref().map(dur).unwrap_or(0);
    let kind = match w.kind.as_str() {
        "tumbling" => WindowKind::Tumbling { size: opt(&w.size) },
        "sliding" => WindowKind::Sliding {
            size: opt(&w.size),
            slide: opt(&w.slide),
        },
        "cumulate" => WindowKind::Cumulate {
            size: opt(&w.size),
            step: opt(&w.step),
        },
        "global" => WindowKind::Global {
            ttl: w.ttl.as_deref().map(dur),
        },
        _ => WindowKind::Session { gap: opt(&w.gap) },
    };
    let (aggregate, beside) = match &w.aggregate {
        Some(a) => {
            let op = load_operator(job, engine, a, World::Aggregate)?;
            if op.component.world != World::ColumnAggregate {
                if !w.aggregates.is_empty() {
                    return Err(PlanError::BesideEvents {
                        operator: a.name.clone(),
                    });
                }
                if let WindowKind::Global { .. } = kind {
                    return Err(PlanError::GlobalOverEvents {
                        operator: a.name.clone(),
                    });
                }
            }
            (WindowAgg::Wasm(Box::new(op)), w.aggregates.clone())
        }
        None => {
            // Each row's sign is read with the aggregates' fields, last.
            let mut specs = w.aggregates.clone();
            specs.extend(w.sign.iter().map(|field| AggregateSpec {
                function: crate::window::aggregate::SIGN.into(),
                field: Some(field.clone()),
                output: None,
            }));
            (WindowAgg::Native(specs), Vec::new())
        }
    };
    Ok(PlannedStage::Window {
        kind,
        mode: if w.time == "processing" {
            TimeMode::Processing
        } else {
            TimeMode::Event
        },
        lateness_ms: dur(&w.allowed_lateness),
        aggregate,
        beside,
        skip_nulls: w.skip_nulls,
    })
}

/// An `over` stage as planned (validated: its frame and functions are
/// known).
fn over_stage(o: &crate::job::OverSpec) -> StageWork {
    use crate::job::Preceding;
    use crate::over::{Frame, OverAggregate, OverFunc};
    let frame = match (o.frame.as_str(), &o.preceding) {
        ("range", Some(Preceding::Time(t))) => Frame::Range(parse_duration_ms(t).ok()),
        ("range", _) => Frame::Range(None),
        (_, Some(Preceding::Rows(n))) => Frame::Rows(Some(*n)),
        _ => Frame::Rows(None),
    };
    let aggregates = o
        .aggregates
        .iter()
        .map(|a| OverAggregate {
            func: OverFunc::named(&a.function).unwrap_or(OverFunc::Count),
            field: a.field.clone(),
            output: a.output_name(),
        })
        .collect();
    StageWork::Over {
        frame,
        aggregates,
        processing: o.time == "processing",
    }
}

/// A `rank` stage's ranking (validated: its places and ties are known).
fn ranking(r: &crate::job::RankSpec) -> crate::rank::Ranking {
    use crate::rank::{Ranking, SortColumn, Ties};
    Ranking {
        order: r
            .order_by
            .iter()
            .map(|o| SortColumn {
                field: o.field.clone(),
                descending: o.desc,
                nulls_first: o.nulls_first.unwrap_or(!o.desc),
            })
            .collect(),
        from: r.from,
        to: r.to,
        number: r.number.clone(),
        at_watermark: r.at_watermark,
        sign: r.sign.clone(),
        ties: if r.ties == "later" {
            Ties::Later
        } else {
            Ties::Earlier
        },
    }
}

/// The stages of a job graph, in an order where inputs come first
/// (validation has refused cycles).
pub(super) fn graph_stages(
    job: &LoadedJob,
    engine: &'static WasmEngine,
) -> Result<Vec<PlannedGraphStage>, PlanError> {
    let stages = &job.spec.stages;
    let order = crate::job::topological_order(stages).unwrap_or_default();
    let keyed = crate::job::keyed_stages(stages);
    let dur = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| crate::job::parse_signed_duration_ms(s).ok())
            .unwrap_or(0)
    };
    let mut out = Vec::with_capacity(order.len());
    for i in order {
        let s = &stages[i];
        let work = if let Some(j) = &s.join {
            StageWork::Join(match j.kind.as_str() {
                "interval" => JoinKind::Interval {
                    lower: dur(&j.lower),
                    upper: dur(&j.upper),
                },
                "regular" => JoinKind::Regular {
                    ttl: j.ttl.as_ref().map(|t| dur(&Some(t.clone()))),
                    // (Validation refused any other setting.)
                    outer: crate::join::Outer::parse(j.outer.as_deref()).unwrap_or_default(),
                },
                _ if j.window == "sliding" => JoinKind::Window(WindowKind::Sliding {
                    size: dur(&j.size),
                    slide: dur(&j.slide),
                }),
                _ => JoinKind::Window(WindowKind::Tumbling { size: dur(&j.size) }),
            })
        } else if let Some(w) = &s.window {
            StageWork::Keyed(window_stage(job, engine, w)?)
        } else if let Some(o) = &s.over {
            over_stage(o)
        } else if let Some(r) = &s.rank {
            StageWork::Rank(ranking(r))
        } else if let Some(k) = &s.keyed {
            StageWork::Keyed(PlannedStage::Keyed(load_operator(
                job,
                engine,
                k,
                World::Keyed,
            )?))
        } else if let Some(q) = &s.sql {
            StageWork::Sql {
                query: q.query.clone(),
                table: q.table.clone().unwrap_or_else(|| s.inputs[0].clone()),
                schema: match &q.schema {
                    Some(fields) => Some(std::sync::Arc::new(crate::batch::schema_of(fields)?)),
                    None => None,
                },
                changelog: q.changelog,
                functions: q
                    .functions
                    .iter()
                    .map(|f| load_operator(job, engine, f, World::Columns))
                    .collect::<Result<_, _>>()?,
            }
        } else if !s.operators.is_empty() {
            StageWork::Operators(
                s.operators
                    .iter()
                    .map(|op| load_chained(job, engine, op))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            StageWork::Pass
        };
        out.push(PlannedGraphStage {
            keyed: keyed.get(&s.name).copied().unwrap_or(false),
            spec: s.clone(),
            work,
        });
    }
    Ok(out)
}
