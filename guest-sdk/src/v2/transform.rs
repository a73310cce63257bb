//! The glue `#[map]` and `#[filter]` generate calls into: `init` against
//! the host's schema, column views of a batch, and the output.

use super::bindings::weir::dataflow::log::{Level, log};
use super::bindings::weir::dataflow::types::{
    Answer, Batch, Field, OperatorError, OperatorSpec, OutputBatch, Rejection, RowOrigin, Schema,
    Selection, TransformOutput,
};
use super::builders::Origin;
use super::columns::ColumnView;
use super::record::Record;
use crate::Error;
use std::sync::OnceLock;

fn op_error(message: impl std::fmt::Display) -> OperatorError {
    OperatorError {
        message: message.to_string(),
    }
}

/// `init`: keep the config, route panics to the host's log, and ask for the
/// input columns the struct `In` names (by name, type-checked); declare
/// `output` as what the operator emits (none: it selects rows).
pub fn init<'a, In: Record<'a>>(
    config: String,
    input: Schema,
    output: Option<Vec<Field>>,
) -> Result<OperatorSpec, OperatorError> {
    crate::config::store(config);
    std::panic::set_hook(Box::new(|info| {
        log(Level::Error, &format!("panicked: {info}"))
    }));
    let mut projection = Vec::new();
    for (i, want) in In::fields().iter().enumerate() {
        let Some(at) = input.iter().position(|f| f.name == want.name) else {
            let names: Vec<&str> = input.iter().map(|f| f.name.as_str()).collect();
            return Err(op_error(format_args!(
                "the input has no column `{}` (it has {})",
                want.name,
                names.join(", ")
            )));
        };
        let have = &input[at];
        if !In::accepts(i, have.data_type) {
            return Err(op_error(format_args!(
                "column `{}` is {:?}, which field `{}` cannot be read from",
                have.name, have.data_type, want.name
            )));
        }
        projection.push(at as u32);
    }
    let _ = PROJECTION.set(projection.clone());
    Ok(OperatorSpec {
        output,
        projection: Some(projection),
        // Rust lifts typed lists in one copy: nothing to gain from bytes.
        packed: false,
    })
}

/// `init` of a SQL scalar function (`#[scalar]`): the host hands it its
/// arguments as columns `arg0`, `arg1`, …, and it takes exactly as many as
/// the function has parameters, of types they can be read from.
pub fn scalar_init<'a, In: Record<'a>>(
    config: String,
    input: Schema,
    output: Option<Vec<Field>>,
) -> Result<OperatorSpec, OperatorError> {
    let want = In::fields();
    if input.len() != want.len() {
        return Err(op_error(format_args!(
            "the function takes {} argument(s); it was called with {}",
            want.len(),
            input.len()
        )));
    }
    init::<In>(config, input, output)
}

/// A batch the operator cannot read at all (its columns break the
/// contract): the call fails, and the host fails the job with this.
#[cold]
pub fn batch_error(e: Error) -> OperatorError {
    op_error(format_args!(
        "the batch does not match the schema agreed at init: {e}"
    ))
}

/// The input columns `init` asked for, by position in the host's schema:
/// the same for the instance's life, like its config.
static PROJECTION: OnceLock<Vec<u32>> = OnceLock::new();

/// Views of a batch's columns, named as `fields` (the input struct's).
pub fn views<'a>(batch: &'a Batch, fields: &'a [Field]) -> Vec<ColumnView<'a>> {
    let projection = PROJECTION.get().map(Vec::as_slice).unwrap_or_default();
    batch
        .columns
        .iter()
        .zip(fields)
        .enumerate()
        .map(|(i, (c, f))| {
            let index = projection.get(i).copied().unwrap_or(i as u32);
            ColumnView::new(&f.name, index, c)
        })
        .collect()
}

/// The output of a map as it is built: `B` is the output record's
/// [`Record::Builders`].
pub struct Mapped<B> {
    builders: B,
    parents: Vec<u32>,
    rejected: Vec<Rejection>,
}

impl<B> Mapped<B> {
    /// An empty output of the record type `Out`, for `capacity` rows.
    pub fn new<'a, Out: Record<'a, Builders = B>>(capacity: usize) -> Self {
        Self {
            builders: Out::builders(capacity),
            parents: Vec::with_capacity(capacity),
            rejected: Vec::new(),
        }
    }

    /// Emit `out`, made from input row `row`.
    #[inline(always)]
    pub fn emit<'a, Out: Record<'a, Builders = B>>(&mut self, row: usize, out: &Out) {
        out.write(&mut self.builders);
        self.parents.push(row as u32);
    }

    /// Reject input row `row`.
    #[cold]
    pub fn reject(&mut self, row: usize, e: Error) {
        self.rejected.push(Rejection {
            index: row as u32,
            reason: e.to_string(),
        });
    }

    /// The call's answer, for a batch of `rows` rows read from `inputs`.
    pub fn finish<'a, Out: Record<'a, Builders = B>>(
        self,
        rows: u32,
        inputs: &[ColumnView<'_>],
    ) -> TransformOutput {
        let n = self.parents.len() as u32;
        let same = n == rows && self.parents.iter().enumerate().all(|(i, p)| i as u32 == *p);
        let columns = Out::finish(
            self.builders,
            &Origin {
                parents: (!same).then_some(&self.parents[..]),
                inputs,
            },
        );
        TransformOutput {
            answer: Answer::Emit(OutputBatch {
                rows: n,
                origin: if same {
                    RowOrigin::Same
                } else {
                    RowOrigin::Parents(self.parents)
                },
                event_time: None,
                columns,
            }),
            rejected: self.rejected,
        }
    }
}

/// A filter's answer: the rows it kept, and those it rejected.
pub fn select(rows: u32, kept: Vec<u32>, rejected: Vec<(usize, Error)>) -> TransformOutput {
    let all = kept.len() as u32 == rows;
    TransformOutput {
        answer: Answer::Select(if all {
            Selection::All
        } else {
            Selection::Indices(kept)
        }),
        rejected: rejected
            .into_iter()
            .map(|(row, e)| Rejection {
                index: row as u32,
                reason: e.to_string(),
            })
            .collect(),
    }
}

/// What a filter function may return.
pub trait FilterReturn {
    /// Keep the row?
    fn keep(self) -> Result<bool, Error>;
}
impl FilterReturn for bool {
    fn keep(self) -> Result<bool, Error> {
        Ok(self)
    }
}
impl<E: Into<Error>> FilterReturn for Result<bool, E> {
    fn keep(self) -> Result<bool, Error> {
        self.map_err(Into::into)
    }
}
