//! One trait for what a stage does, driven by [`super::driver`].
//!
//! The driver calls, per step: [`Operator::process_batch`] for each
//! input's records, then [`Operator::on_watermark`] with the step's
//! watermark; at a barrier [`Operator::on_barrier`] (write state into the
//! checkpoint); at a live swap [`Operator::on_swap`]; at the end of input
//! [`Operator::on_end`] (fire everything). Records an operator emits go
//! into [`Cx::out`]; records it sets aside go to the side outputs.

pub(in crate::runtime) use super::edges::At;
use crate::event::{Event, Timestamp};
use crate::plan::Plan;
use crate::runtime::RunError;
use crate::runtime::message::Columns;
use crate::runtime::side::SideOutputs;
use crate::runtime::swap::Swap;
use std::path::Path;
use std::sync::Arc;

/// What an operator sees of the step it is in.
pub(super) struct Cx<'a> {
    /// The job.
    pub plan: &'a Plan,
    /// The stage (for errors).
    pub stage: &'a str,
    /// The epoch the step belongs to (for side outputs).
    pub epoch: u64,
    /// The event-time watermark after the step (the lowest of the
    /// inputs'); at the end of input, the end of time.
    pub watermark: Timestamp,
    /// When the source read the step's records.
    pub processing_time: i64,
    /// Late records and dead letters.
    pub side: &'a SideOutputs,
    /// Rows emitted in this step, in order: as records, or as columns
    /// where the stage's readers all take columns (see
    /// [`super::columns_out`]).
    pub out: Batch,
}

impl Cx<'_> {
    /// Emit `records` after what was emitted so far (taking the vector
    /// itself when it is the first: no copy of a whole batch).
    pub fn emit(&mut self, records: Vec<Event>) -> Result<(), RunError> {
        self.emit_batch(Batch {
            records,
            columns: None,
        })
    }

    /// Emit `rows` after what was emitted so far (see [`Batch::append`]).
    pub fn emit_batch(&mut self, rows: Batch) -> Result<(), RunError> {
        let at = At {
            job: &self.plan.job.spec.name,
            stage: self.stage,
        };
        self.out.append(rows, at)
    }

    /// Emit `rows` (a batch and each row's time), if any, after what was
    /// emitted so far.
    pub fn emit_columns(
        &mut self,
        rows: Option<(arrow_array::RecordBatch, Vec<i64>)>,
    ) -> Result<(), RunError> {
        match rows {
            Some((batch, time)) => self.emit_batch(Batch {
                records: Vec::new(),
                columns: Some(crate::runtime::message::Columns { batch, time }),
            }),
            None => Ok(()),
        }
    }

    /// The records emitted so far, to add more to (rows emitted as
    /// columns are written as records first).
    pub fn out_events(&mut self) -> Result<&mut Vec<Event>, RunError> {
        if self.out.columns.is_some() {
            let at = At {
                job: &self.plan.job.spec.name,
                stage: self.stage,
            };
            let records = std::mem::take(&mut self.out).into_events(at)?;
            self.out.records = records;
        }
        Ok(&mut self.out.records)
    }
}

/// Rows of a step: one input's part, or what a stage emits. They come as
/// records, or as typed columns — with the same rows as records beside
/// them (the input's own bytes, kept by the source: see
/// [`crate::plan::Plan::keeps_records`]), or alone. Stages pass columns on
/// where every reader takes them (typed columns between stages); a reader
/// that takes records writes rows that came only as columns as JSON.
#[derive(Debug, Default)]
pub(in crate::runtime) struct Batch {
    /// The records; empty when the rows exist only as columns.
    pub records: Vec<Event>,
    /// The rows as columns, if they come as columns.
    pub columns: Option<Columns>,
}

impl Batch {
    /// Rows.
    pub fn len(&self) -> usize {
        self.columns
            .as_ref()
            .map_or(self.records.len(), Columns::len)
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records are the rows (there are no columns, or the records are
    /// the same rows).
    pub fn has_records(&self) -> bool {
        self.columns
            .as_ref()
            .is_none_or(|c| c.len() == self.records.len())
    }

    /// The rows as records: the records themselves, or, when the rows
    /// exist only as columns, each row written as a JSON line (no key, no
    /// headers) at its event time.
    pub fn into_events(self, at: At<'_>) -> Result<Vec<Event>, RunError> {
        if self.has_records() {
            return Ok(self.records);
        }
        let cols = self.columns.expect("only columns have no records");
        let lines = crate::batch::json_lines(&cols.batch).map_err(|source| RunError::Encode {
            job: at.job.into(),
            operator: format!("(stage `{}`)", at.stage),
            source,
        })?;
        Ok(lines
            .into_iter()
            .zip(cols.time)
            .map(|(value, timestamp)| crate::event::event(value, timestamp))
            .collect())
    }

    /// `other`'s rows after these. Columns stay columns when both are
    /// columns of one schema and both have their records or neither has;
    /// otherwise both become records.
    pub fn append(&mut self, other: Batch, at: At<'_>) -> Result<(), RunError> {
        if other.is_empty() {
            return Ok(());
        }
        if self.is_empty() {
            *self = other;
            return Ok(());
        }
        let same_form = match (&self.columns, &other.columns) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                let both_bare = self.records.is_empty() && other.records.is_empty();
                let both_kept = self.has_records() && other.has_records();
                a.batch.schema() == b.batch.schema() && (both_bare || both_kept)
            }
            _ => false,
        };
        if !same_form {
            let mine = std::mem::take(self).into_events(at)?;
            let mut theirs = other.into_events(at)?;
            self.records = mine;
            self.records.append(&mut theirs);
            return Ok(());
        }
        let Batch {
            mut records,
            columns,
        } = other;
        self.records.append(&mut records);
        if let (Some(a), Some(b)) = (&mut self.columns, columns) {
            let batch =
                arrow_select::concat::concat_batches(&a.batch.schema(), [&a.batch, &b.batch])
                    .map_err(|e| at.error("joined", e))?;
            a.batch = batch;
            a.time.extend(b.time);
        }
        Ok(())
    }
}

/// A stage's work, one instance per subtask.
pub(super) trait Operator: Send {
    /// Records of input `input` (in the order the stage lists them).
    fn process_batch(&mut self, input: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError>;

    /// Time moved to `cx.watermark` (and `cx.processing_time`) after the
    /// step's records.
    fn on_watermark(&mut self, cx: &mut Cx) -> Result<(), RunError>;

    /// Write the state into `dir` for the checkpoint at this barrier.
    fn on_barrier(&mut self, dir: &Path) -> Result<(), RunError>;

    /// A live swap reached this subtask: switch if it names one of this
    /// stage's operators.
    fn on_swap(&mut self, plan: &Plan, subtask: usize, swap: &Arc<Swap>) -> Result<(), RunError>;

    /// The input is exhausted (`cx.watermark` is the end of time): emit
    /// everything still held.
    fn on_end(&mut self, cx: &mut Cx) -> Result<(), RunError> {
        self.on_watermark(cx)
    }
}

/// Passes records on: a union, or a key-by.
pub(super) struct Pass;

impl Operator for Pass {
    fn process_batch(&mut self, _: usize, batch: Batch, cx: &mut Cx) -> Result<(), RunError> {
        cx.emit_batch(batch)
    }
    fn on_watermark(&mut self, _: &mut Cx) -> Result<(), RunError> {
        Ok(())
    }
    fn on_barrier(&mut self, _: &Path) -> Result<(), RunError> {
        Ok(())
    }
    fn on_swap(&mut self, _: &Plan, _: usize, _: &Arc<Swap>) -> Result<(), RunError> {
        Ok(())
    }
}

/// Make a subtask's directory `dir` in a pending checkpoint.
pub(super) fn state_dir(dir: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))
}

/// Write `bytes` as `dir/file` for a checkpoint.
pub(super) fn write_state(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), RunError> {
    state_dir(dir)?;
    std::fs::write(dir.join(file), bytes).map_err(|e| io(dir, e))
}

fn io(dir: &Path, e: std::io::Error) -> RunError {
    RunError::State(crate::state::StateError::Backend {
        backend: "checkpoint",
        message: format!("{}: {e}", dir.display()),
    })
}

/// A batch's rows as keyed records, as a key-by over events makes them:
/// rows that came only as columns are written as JSON, and a record
/// without a key takes field `field`'s.
pub(super) fn keyed_events(
    batch: Batch,
    field: Option<&str>,
    cx: &Cx,
) -> Result<Vec<Event>, RunError> {
    let at = At {
        job: &cx.plan.job.spec.name,
        stage: cx.stage,
    };
    let mut records = batch.into_events(at)?;
    if let Some(field) = field {
        for e in records.iter_mut().filter(|e| e.key.is_none()) {
            e.key = crate::json::key(&e.value, field);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};

    const AT: At<'static> = At {
        job: "j",
        stage: "s",
    };

    fn cols(name: &str, values: &[i64]) -> Columns {
        let a: ArrayRef = Arc::new(Int64Array::from(values.to_vec()));
        Columns {
            batch: RecordBatch::try_from_iter([(name, a)]).unwrap(),
            time: values.to_vec(),
        }
    }

    fn bare(c: Columns) -> Batch {
        Batch {
            records: Vec::new(),
            columns: Some(c),
        }
    }

    fn values(b: Batch) -> Vec<String> {
        b.into_events(AT)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.value).unwrap())
            .collect()
    }

    #[test]
    fn columns_of_one_schema_stay_columns() {
        let mut b = bare(cols("n", &[1, 2]));
        b.append(bare(cols("n", &[3])), AT).unwrap();
        b.append(Batch::default(), AT).unwrap();
        assert!(b.records.is_empty());
        assert_eq!(b.columns.as_ref().unwrap().time, vec![1, 2, 3]);
        assert_eq!(values(b), [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    }

    #[test]
    fn columns_of_another_schema_or_beside_records_become_records_in_order() {
        let mut b = bare(cols("n", &[1]));
        b.append(bare(cols("m", &[2])), AT).unwrap();
        assert!(b.columns.is_none(), "two schemas cannot be one batch");
        b.append(
            Batch {
                records: vec![crate::event::event(b"{\"x\":3}".to_vec(), 3)],
                columns: None,
            },
            AT,
        )
        .unwrap();
        let s: ArrayRef = Arc::new(StringArray::from(vec!["own bytes"]));
        b.append(
            Batch {
                records: vec![crate::event::event(b"{\"s\":\"own bytes\"}".to_vec(), 4)],
                columns: Some(Columns {
                    batch: RecordBatch::try_from_iter([("s", s)]).unwrap(),
                    time: vec![4],
                }),
            },
            AT,
        )
        .unwrap();
        assert_eq!(
            values(b),
            [
                r#"{"n":1}"#,
                r#"{"m":2}"#,
                r#"{"x":3}"#,
                r#"{"s":"own bytes"}"#
            ]
        );
    }

    #[test]
    fn rows_only_as_columns_are_written_as_json_at_their_event_time() {
        let events = bare(cols("n", &[7, 9])).into_events(AT).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].timestamp, 9);
        assert_eq!(events[1].value, br#"{"n":9}"#);
        assert!(events[1].key.is_none());
    }
}
