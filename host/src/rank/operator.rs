//! The rank operator of one keyed subtask: per key the rows at the first
//! places of the order, and after each batch the changes at the places it
//! emits.

use super::{RankError, Ranking, Ties};
use crate::batch::rows::KeyColumn;
use crate::budget::Budgets;
use crate::window::global::OP;
use arrow_array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array, cast::AsArray,
    types::UInt64Type,
};
use arrow_row::{OwnedRow, RowConverter, SortField};
use arrow_schema::{DataType, Field, Schema, SchemaRef, SortOptions};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

mod changelog;

/// The file of a subtask's checkpoint holding the kept rows (Arrow IPC,
/// each row's arrival number and time in two last columns).
pub const RANK_FILE: &str = "rank.arrow";
const SEQ: &str = "__weir_seq";
const TIME: &str = "__weir_time";

/// What the memory budget calls what it holds.
const WHAT: &str = "Top-N rows";

/// A kept row.
#[derive(Clone)]
struct Entry {
    /// Its place in the order, as bytes that compare as the order does.
    sort: Arc<[u8]>,
    /// When it came, among the subtask's rows (unique).
    seq: u64,
    /// Its event time.
    time: i64,
    /// The row, every column.
    row: Row,
}

/// A kept row's columns: converted to the row format once the batch it
/// came in is done, and only if it is still kept then (a row that comes
/// and goes within one batch is never converted).
#[derive(Clone)]
enum Row {
    /// Row `0` of the batch being processed.
    Pending(u32),
    Owned(Arc<OwnedRow>),
}

impl Entry {
    fn bytes(&self) -> u64 {
        let row = match &self.row {
            Row::Owned(r) => r.as_ref().as_ref().len(),
            Row::Pending(_) => 0,
        };
        (self.sort.len() + row + 48) as u64
    }

    fn row(&self) -> arrow_row::Row<'_> {
        match &self.row {
            Row::Owned(r) => r.row(),
            Row::Pending(_) => unreachable!("a batch's kept rows are converted before it ends"),
        }
    }
}

/// The rows' converters, made from the first batch's columns.
struct Converters {
    schema: SchemaRef,
    /// The columns of the order, by index.
    order: Vec<usize>,
    sort: RowConverter,
    rows: RowConverter,
}

/// A kept row's place among its key's rows over a changelog: its place
/// in the order, then its arrival (or the reverse of it, as ties go).
/// The order's first 8 bytes come first as a number, so that most
/// comparisons in the B-tree are one (the bytes compare only on a tie
/// there; a number of the first bytes, zero-padded, orders as they do).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    head: u64,
    sort: Arc<[u8]>,
    tie: u64,
}

impl Place {
    fn new(sort: Arc<[u8]>, tie: u64) -> Self {
        let mut head = [0u8; 8];
        let n = sort.len().min(8);
        head[..n].copy_from_slice(&sort[..n]);
        Self {
            head: u64::from_be_bytes(head),
            sort,
            tie,
        }
    }
}

impl Converters {
    /// Each row's place in the order, as bytes that compare as it does.
    fn sort_of(&self, batch: &RecordBatch) -> Result<arrow_row::Rows, arrow_schema::ArrowError> {
        let order: Vec<ArrayRef> = self
            .order
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        self.sort.convert_columns(&order)
    }
}

/// The Top-N of one subtask (see the [module docs](super)).
pub struct RankOperator {
    ranking: Ranking,
    key_field: String,
    conv: Option<Converters>,
    /// Per key, the rows at the first places, in their order.
    keys: FxHashMap<Vec<u8>, Vec<Entry>>,
    /// Over a changelog ([`Ranking::sign`]): per key, every row.
    all: FxHashMap<Vec<u8>, BTreeMap<Place, Entry>>,
    next_seq: u64,
    bytes: u64,
    budgets: Arc<Budgets>,
    charged: u64,
}

/// One change: the row, its place (1-based) and its kind.
type Change<'a> = (&'a Entry, u64, &'static str);

impl RankOperator {
    /// The Top-N `ranking` of rows keyed by column `key_field`.
    pub fn new(ranking: Ranking, key_field: &str, budgets: Arc<Budgets>) -> Self {
        Self {
            ranking,
            key_field: key_field.into(),
            conv: None,
            keys: FxHashMap::default(),
            all: FxHashMap::default(),
            next_seq: 0,
            bytes: 0,
            budgets,
            charged: 0,
        }
    }

    /// Rows kept, over all keys.
    pub fn kept(&self) -> usize {
        self.keys.values().map(Vec::len).sum::<usize>()
            + self.all.values().map(BTreeMap::len).sum::<usize>()
    }

    /// Every kept row, key by key.
    fn entries(&self) -> impl Iterator<Item = &Entry> {
        let all = self.all.values().flat_map(BTreeMap::values);
        self.keys.values().flatten().chain(all)
    }

    fn converters(&mut self, schema: &SchemaRef) -> Result<&Converters, RankError> {
        if let Some(c) = &self.conv {
            let same = c.schema.fields().len() == schema.fields().len()
                && c.schema
                    .fields()
                    .iter()
                    .zip(schema.fields())
                    .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
            if !same {
                return Err(RankError::Schema(format!(
                    "first {:?}, now {:?}",
                    c.schema.fields(),
                    schema.fields()
                )));
            }
        } else {
            let mut order = Vec::new();
            let mut sort = Vec::new();
            for s in &self.ranking.order {
                let (i, f) = schema
                    .column_with_name(&s.field)
                    .ok_or_else(|| RankError::NoColumn(s.field.clone()))?;
                order.push(i);
                sort.push(SortField::new_with_options(
                    f.data_type().clone(),
                    SortOptions {
                        descending: s.descending,
                        nulls_first: s.nulls_first,
                    },
                ));
            }
            let rows = schema
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect();
            // Rows of later batches may hold NULLs where the first had none.
            let schema = Arc::new(Schema::new(
                schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect::<Vec<_>>(),
            ));
            self.conv = Some(Converters {
                schema,
                order,
                sort: RowConverter::new(sort)?,
                rows: RowConverter::new(rows)?,
            });
        }
        Ok(self.conv.as_ref().expect("made above"))
    }

    /// Rows of `batch` (at times `time`) come in; returns the changes to
    /// the places emitted, as rows with [`OP`] last (and the rank number
    /// before it, when asked for), and their times.
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        time: &[i64],
    ) -> Result<Option<(RecordBatch, Vec<i64>)>, RankError> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        if let Some(sign) = self.ranking.sign.clone() {
            return self.process_changelog(batch, time, &sign);
        }
        let keys = KeyColumn::of(batch, &self.key_field)?;
        let conv = self.converters(&batch.schema())?;
        let sort = conv.sort_of(batch)?;
        let to = self.ranking.to as usize;
        let later = self.ranking.ties == Ties::Later;
        // Each changed key's rows as they were before the batch.
        let mut before: FxHashMap<Vec<u8>, Vec<Entry>> = FxHashMap::default();
        let mut buf = itoa::Buffer::new();
        for (row, &t) in time.iter().enumerate().take(batch.num_rows()) {
            let key = keys.key(row, &mut buf).unwrap_or_default();
            let s = sort.row(row);
            let s = s.data();
            if !self.keys.contains_key(key) {
                self.keys.insert(key.to_vec(), Vec::new());
            }
            let kept = self.keys.get_mut(key).expect("inserted above");
            // After the rows it does not come before.
            let at = kept.partition_point(|e| {
                let c = e.sort.as_ref().cmp(s);
                c.is_lt() || (c.is_eq() && !later)
            });
            if at >= to {
                continue;
            }
            if !before.contains_key(key) {
                before.insert(key.to_vec(), kept.clone());
            }
            let e = Entry {
                sort: s.into(),
                seq: self.next_seq,
                time: t,
                row: Row::Pending(row as u32),
            };
            self.next_seq += 1;
            self.bytes += e.bytes();
            kept.insert(at, e);
            if kept.len() > to {
                let gone = kept.pop().expect("longer than to");
                self.bytes = self.bytes.saturating_sub(gone.bytes());
            }
        }
        // The batch's rows still kept, in the row format, in one go.
        let mut pending: Vec<(&[u8], usize, u32)> = Vec::new();
        for key in before.keys() {
            for (i, e) in self.keys[key].iter().enumerate() {
                if let Row::Pending(r) = e.row {
                    pending.push((key, i, r));
                }
            }
        }
        if !pending.is_empty() {
            let at = arrow_array::UInt32Array::from_iter_values(pending.iter().map(|p| p.2));
            let columns = batch
                .columns()
                .iter()
                .map(|c| arrow_select::take::take(c, &at, None))
                .collect::<Result<Vec<_>, _>>()?;
            let conv = self.conv.as_ref().expect("made above");
            let rows = conv.rows.convert_columns(&columns)?;
            for (n, &(key, i, _)) in pending.iter().enumerate() {
                let e = &mut self.keys.get_mut(key).expect("a changed key")[i];
                e.row = Row::Owned(Arc::new(rows.row(n).owned()));
                self.bytes += e.bytes() - (e.sort.len() as u64 + 48);
            }
        }
        let out = if self.ranking.at_watermark {
            None
        } else {
            let pairs = before
                .iter()
                .map(|(key, old)| (old.as_slice(), self.keys[key].as_slice()));
            self.changes(pairs)?
        };
        self.charge()?;
        Ok(out)
    }

    /// The watermark is `watermark`: with [`Ranking::at_watermark`], the
    /// places of each key whose rows' time it passed go out as rows (the
    /// number before the last column, when asked for), earliest time
    /// first, and the keys are forgotten; returns them and their times.
    pub fn advance(
        &mut self,
        watermark: i64,
    ) -> Result<Option<(RecordBatch, Vec<i64>)>, RankError> {
        if !self.ranking.at_watermark {
            return Ok(None);
        }
        let key_time = |kept: &[Entry]| kept.iter().map(|e| e.time).max().unwrap_or(i64::MIN);
        let mut due: Vec<(i64, Vec<u8>)> = self
            .keys
            .iter()
            .filter(|(_, kept)| key_time(kept) <= watermark)
            .map(|(k, kept)| (key_time(kept), k.clone()))
            .collect();
        if due.is_empty() {
            return Ok(None);
        }
        due.sort();
        let from = self.ranking.from as usize;
        let mut out: Vec<(Entry, u64)> = Vec::new();
        for (_, key) in &due {
            let kept = self.keys.remove(key).expect("due keys are kept");
            for (i, e) in kept.into_iter().enumerate() {
                self.bytes = self.bytes.saturating_sub(e.bytes());
                if i + 1 >= from {
                    out.push((e, i as u64 + 1));
                }
            }
        }
        self.charge()?;
        if out.is_empty() {
            return Ok(None);
        }
        let conv = self.conv.as_ref().expect("a batch came");
        let mut columns = conv.rows.convert_rows(out.iter().map(|(e, _)| e.row()))?;
        let mut fields: Vec<Arc<Field>> = conv.schema.fields().iter().cloned().collect();
        if let Some(n) = &self.ranking.number {
            fields.push(Arc::new(Field::new(n, DataType::Int64, false)));
            columns.push(Arc::new(Int64Array::from_iter_values(
                out.iter().map(|&(_, p)| p as i64),
            )));
        }
        let times = out.iter().map(|(e, _)| e.time).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Some((batch, times)))
    }

    /// The changes at the emitted places from each key's rows before
    /// (in their order, at least the first places) to its rows now, as
    /// rows.
    fn changes<'a>(
        &'a self,
        pairs: impl Iterator<Item = (&'a [Entry], &'a [Entry])>,
    ) -> Result<Option<(RecordBatch, Vec<i64>)>, RankError> {
        let from = self.ranking.from as usize;
        let to = self.ranking.to as usize;
        let places = |v: &[Entry]| -> (usize, usize) {
            (from.saturating_sub(1).min(v.len()), to.min(v.len()))
        };
        let mut changes: Vec<Change<'_>> = Vec::new();
        for (old, new) in pairs {
            if self.ranking.number.is_some() {
                for p in from..=to {
                    let (o, n) = (old.get(p - 1), new.get(p - 1));
                    match (o, n) {
                        (Some(o), Some(n)) if o.seq == n.seq => {}
                        (Some(o), Some(n)) => {
                            changes.push((o, p as u64, "-U"));
                            changes.push((n, p as u64, "+U"));
                        }
                        (Some(o), None) => changes.push((o, p as u64, "-D")),
                        (None, Some(n)) => changes.push((n, p as u64, "+I")),
                        (None, None) => break,
                    }
                }
            } else {
                let (a, b) = places(old);
                let (c, d) = places(new);
                let (old, new) = (&old[a..b], &new[c..d]);
                let gone: Vec<&Entry> = old
                    .iter()
                    .filter(|o| !new.iter().any(|n| n.seq == o.seq))
                    .collect();
                let came: Vec<&Entry> = new
                    .iter()
                    .filter(|n| !old.iter().any(|o| o.seq == n.seq))
                    .collect();
                for (i, g) in gone.iter().enumerate() {
                    changes.push((g, 0, if i < came.len() { "-U" } else { "-D" }));
                }
                for (i, c) in came.iter().enumerate() {
                    changes.push((c, 0, if i < gone.len() { "+U" } else { "+I" }));
                }
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let conv = self.conv.as_ref().expect("a batch came");
        let mut columns = conv
            .rows
            .convert_rows(changes.iter().map(|(e, _, _)| e.row()))?;
        let mut fields: Vec<Arc<Field>> = conv.schema.fields().iter().cloned().collect();
        if let Some(n) = &self.ranking.number {
            fields.push(Arc::new(Field::new(n, DataType::Int64, false)));
            columns.push(Arc::new(Int64Array::from_iter_values(
                changes.iter().map(|&(_, p, _)| p as i64),
            )));
        }
        fields.push(Arc::new(Field::new(OP, DataType::Utf8, false)));
        columns.push(Arc::new(StringArray::from_iter_values(
            changes.iter().map(|&(_, _, op)| op),
        )));
        let times = changes.iter().map(|(e, _, _)| e.time).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Some((batch, times)))
    }

    fn charge(&mut self) -> Result<(), RankError> {
        let now = self.bytes + (self.keys.len() + self.all.len()) as u64 * 48;
        self.budgets.memory.resize(WHAT, self.charged, now)?;
        self.charged = now;
        Ok(())
    }

    /// Write the kept rows into checkpoint directory `dir`.
    pub fn snapshot_into(&self, dir: &Path) -> Result<(), RankError> {
        let path = dir.join(RANK_FILE);
        let io = |e: std::io::Error| RankError::State {
            path: path.clone(),
            message: e.to_string(),
        };
        let Some(conv) = &self.conv else {
            // No row came yet.
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let all: Vec<&Entry> = self.entries().collect();
        let mut columns = conv.rows.convert_rows(all.iter().map(|e| e.row()))?;
        columns.push(Arc::new(UInt64Array::from_iter_values(
            all.iter().map(|e| e.seq),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            all.iter().map(|e| e.time),
        )));
        let mut fields: Vec<Arc<Field>> = conv.schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(SEQ, DataType::UInt64, false)));
        fields.push(Arc::new(Field::new(TIME, DataType::Int64, false)));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        let file = std::fs::File::create(&path).map_err(io)?;
        let mut w = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema())?;
        w.write(&batch)?;
        w.finish()?;
        Ok(())
    }

    /// Put back the rows [`Self::snapshot_into`] wrote into `dir`, keeping
    /// the keys `keeps` says this subtask owns (several directories: a job
    /// rescaled).
    pub fn restore_from(
        &mut self,
        dir: &Path,
        keeps: &dyn Fn(&[u8]) -> bool,
    ) -> Result<(), RankError> {
        let path = dir.join(RANK_FILE);
        if !path.exists() {
            return Ok(());
        }
        let state = |message: String| RankError::State {
            path: path.clone(),
            message,
        };
        let file = std::fs::File::open(&path).map_err(|e| state(e.to_string()))?;
        let reader = arrow_ipc::reader::FileReader::try_new(file, None)?;
        for batch in reader {
            let mut batch = batch?;
            let n = batch.num_columns();
            if n < 2 {
                return Err(state("no arrival numbers and times".into()));
            }
            let time = batch.remove_column(n - 1);
            let seq = batch.remove_column(n - 2);
            let (Some(time), Some(seq)) = (
                time.as_any().downcast_ref::<Int64Array>(),
                seq.as_primitive_opt::<UInt64Type>(),
            ) else {
                return Err(state("arrival numbers and times of the wrong type".into()));
            };
            let (time, seq) = (time.values().to_vec(), seq.values().to_vec());
            let keys = KeyColumn::of(&batch, &self.key_field)?;
            let conv = self.converters(&batch.schema())?;
            let sort = conv.sort_of(&batch)?;
            let rows = conv.rows.convert_columns(batch.columns())?;
            let mut buf = itoa::Buffer::new();
            for r in 0..batch.num_rows() {
                let key = keys.key(r, &mut buf).unwrap_or_default();
                if !keeps(key) {
                    continue;
                }
                let e = Entry {
                    sort: sort.row(r).data().into(),
                    seq: seq[r],
                    time: time[r],
                    row: Row::Owned(Arc::new(rows.row(r).owned())),
                };
                self.next_seq = self.next_seq.max(e.seq + 1);
                if self.ranking.sign.is_some() {
                    self.keep(key, e);
                } else {
                    self.bytes += e.bytes();
                    self.keys.entry(key.to_vec()).or_default().push(e);
                }
            }
        }
        // Each key's rows back in their order: by place, then by arrival
        // (the earlier first, or the later, as ties go).
        let later = self.ranking.ties == Ties::Later;
        for kept in self.keys.values_mut() {
            kept.sort_by(|a, b| {
                a.sort.cmp(&b.sort).then(if later {
                    b.seq.cmp(&a.seq)
                } else {
                    a.seq.cmp(&b.seq)
                })
            });
        }
        self.charge()
    }
}
