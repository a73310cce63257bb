//! The Top-N of a changelog: every row kept per key by its place, a row
//! with a negative sign taking back the earliest equal row, and after each
//! batch the changes at the places emitted (see the [module docs](super::super)).

use super::{Entry, Place, RankError, RankOperator, Row, Ties};
use crate::batch::rows::KeyColumn;
use arrow_array::{Array, RecordBatch, cast::AsArray, types::Float64Type};
use arrow_schema::DataType;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// What a kept row costs beyond [`Entry::bytes`]: its place in the
/// B-tree (the key's bytes are the entry's own).
const PLACE_BYTES: u64 = 40;

impl RankOperator {
    /// Rows of `batch` (at times `time`, each with its sign in column
    /// `sign`) come in; returns the changes to the places emitted.
    pub(super) fn process_changelog(
        &mut self,
        batch: &RecordBatch,
        time: &[i64],
        sign: &str,
    ) -> Result<Option<(RecordBatch, Vec<i64>)>, RankError> {
        let schema = batch.schema();
        let (at, _) = schema
            .column_with_name(sign)
            .ok_or_else(|| RankError::NoColumn(sign.into()))?;
        let signs = arrow_cast::cast(batch.column(at), &DataType::Float64)?;
        let signs = signs.as_primitive::<Float64Type>();
        if let Some(row) = (0..signs.len()).find(|&r| signs.is_null(r)) {
            return Err(RankError::NoSign {
                field: sign.into(),
                row,
            });
        }
        // The rows without their sign.
        let kept_columns: Vec<usize> = (0..batch.num_columns()).filter(|&i| i != at).collect();
        let batch = batch.project(&kept_columns)?;
        let keys = KeyColumn::of(&batch, &self.key_field)?;
        let conv = self.converters(&batch.schema())?;
        let sort = conv.sort_of(&batch)?;
        let rows = conv.rows.convert_columns(batch.columns())?;
        let to = self.ranking.to as usize;
        // Each changed key's first places as they were before the batch.
        let mut before: FxHashMap<Vec<u8>, Vec<Entry>> = FxHashMap::default();
        let mut buf = itoa::Buffer::new();
        for (row, &t) in time.iter().enumerate().take(batch.num_rows()) {
            let key = keys.key(row, &mut buf).unwrap_or_default();
            if !before.contains_key(key) {
                let first = self
                    .all
                    .get(key)
                    .map(|kept| kept.values().take(to).cloned().collect())
                    .unwrap_or_default();
                before.insert(key.to_vec(), first);
            }
            let s: Arc<[u8]> = sort.row(row).data().into();
            if signs.value(row) < 0.0 {
                self.take_back(key, s, rows.row(row))?;
            } else {
                let e = Entry {
                    sort: s,
                    seq: self.next_seq,
                    time: t,
                    row: Row::Owned(Arc::new(rows.row(row).owned())),
                };
                self.next_seq += 1;
                self.keep(key, e);
            }
        }
        let after: Vec<(Vec<Entry>, Vec<Entry>)> = before
            .into_iter()
            .map(|(key, old)| {
                let new = self
                    .all
                    .get(&key)
                    .map(|kept| kept.values().take(to).cloned().collect())
                    .unwrap_or_default();
                (old, new)
            })
            .collect();
        let out = self.changes(after.iter().map(|(o, n)| (o.as_slice(), n.as_slice())))?;
        self.charge()?;
        Ok(out)
    }

    /// Keep row `e` among key `key`'s rows.
    pub(super) fn keep(&mut self, key: &[u8], e: Entry) {
        let tie = match self.ranking.ties {
            Ties::Earlier => e.seq,
            Ties::Later => u64::MAX - e.seq,
        };
        self.bytes += e.bytes() + PLACE_BYTES;
        let kept = match self.all.get_mut(key) {
            Some(kept) => kept,
            None => self.all.entry(key.to_vec()).or_default(),
        };
        kept.insert(Place::new(e.sort.clone(), tie), e);
    }

    /// Take back the earliest of key `key`'s rows equal to `row` (whose
    /// place in the order is `sort`).
    fn take_back(
        &mut self,
        key: &[u8],
        sort: Arc<[u8]>,
        row: arrow_row::Row<'_>,
    ) -> Result<(), RankError> {
        let not_added = || RankError::NotAdded {
            key: String::from_utf8_lossy(key).into_owned(),
        };
        let kept = self.all.get_mut(key).ok_or_else(not_added)?;
        let (first, last) = (Place::new(sort.clone(), 0), Place::new(sort, u64::MAX));
        let place = kept
            .range(first..=last)
            .filter(|(_, e)| e.row() == row)
            .min_by_key(|(_, e)| e.seq)
            .map(|(p, _)| p.clone())
            .ok_or_else(not_added)?;
        let gone = kept.remove(&place).expect("found above");
        if kept.is_empty() {
            self.all.remove(key);
        }
        self.bytes = self.bytes.saturating_sub(gone.bytes() + PLACE_BYTES);
        Ok(())
    }
}
