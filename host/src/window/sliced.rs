//! The window operator's path for sliding windows kept as slices (see
//! [`super::slices`]): a record goes to its one slice, a window fires
//! merged from its slices, and a record that updates a window that
//! already fired (within the allowed lateness) makes it fire again.

use super::aggregate::{Input, Slot};
use super::operator::WindowOperator;
use super::slices::{Slicing, merge};
use super::store::Key;
use super::{TimeWindow, WindowError};

impl WindowOperator {
    /// Add a record to its slice (see [`super::slices`]); `false` if every window
    /// holding it is past its allowed lateness.
    pub(super) fn add_to_slice(
        &mut self,
        t: i64,
        key: &[u8],
        input: Input<'_>,
        values: &[f64],
    ) -> Result<bool, WindowError> {
        let s = self.slicing.expect("sliced");
        let slice = s.slice_of(t);
        if self.is_late(&s.last_window_of(slice)) {
            return Ok(false);
        }
        let agg = &self.agg;
        let slot = self
            .store
            .pane_slot(slice, key, self.pane_capacity, || agg.new_slot())?;
        agg.add(slot, input, values);
        if s.first_window_of(slice).max_timestamp() <= self.current {
            // Windows that fired already, and are within their lateness,
            // fire again with this record.
            for w in s.windows_of(slice) {
                if w.max_timestamp() > self.current {
                    break;
                }
                if !self.is_late(&w) {
                    self.refire.insert((w, key.to_vec()));
                }
            }
        }
        Ok(true)
    }

    /// The accumulator of window `w` for `key`, merged from its slices.
    pub(super) fn sliced_slot(
        &self,
        s: Slicing,
        w: TimeWindow,
        key: &[u8],
    ) -> Result<Option<Slot>, WindowError> {
        let mut merged: Option<Slot> = None;
        for slice in s.slices_of(w) {
            if let Some(slot) = self.store.pane_get(slice, key)? {
                match &mut merged {
                    Some(into) => self.agg.merge(into, slot),
                    None => merged = Some(slot),
                }
            }
        }
        Ok(merged)
    }

    /// Fire the windows whose last timestamp is in `(before, time]`,
    /// each merged from its slices, into `due`.
    pub(super) fn fire_sliced(
        &mut self,
        before: i64,
        time: i64,
        due: &mut Vec<(TimeWindow, Key, Slot)>,
    ) -> Result<(), WindowError> {
        let s = self.slicing.expect("sliced");
        for w in s.due(self.store.open_panes(), before, time) {
            for slice in s.slices_of(w) {
                let n = self
                    .store
                    .extend_with_pane(slice, &mut self.scratch.entries)?;
                self.pane_capacity = self.pane_capacity.max(n);
            }
            merge(&self.agg, &mut self.scratch, |k, s| due.push((w, k, s)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budgets;
    use crate::event::Event;
    use crate::job::AggregateSpec;
    use crate::window::aggregate::Aggregation;
    use crate::window::operator::WindowOutput;
    use crate::window::{TimeMode, WindowKind};

    fn operator(size: i64, slide: i64, lateness: i64, sliced: bool) -> WindowOperator {
        let agg = |f: &str, field: Option<&str>| AggregateSpec {
            function: f.into(),
            field: field.map(Into::into),
            output: None,
        };
        let specs = [
            agg("count", None),
            agg("sum", Some("x")),
            agg("min", Some("x")),
            agg("max", Some("x")),
            agg("avg", Some("x")),
        ];
        let mut op = WindowOperator::new(
            WindowKind::Sliding { size, slide },
            TimeMode::Event,
            lateness,
            Aggregation::native(&specs),
            Budgets::unbounded(),
        );
        assert!(op.slicing.is_some());
        if !sliced {
            op.slicing = None;
        }
        op
    }

    /// Results and late records of `op` over `records` (key, ts, x) in
    /// batches of 7, the watermark trailing the highest time by `ooo`.
    fn run(mut op: WindowOperator, records: &[(u8, i64, i64)], ooo: i64) -> Vec<String> {
        let mut out = WindowOutput::default();
        let mut max = i64::MIN;
        for batch in records.chunks(7) {
            let events = batch
                .iter()
                .map(|&(k, ts, x)| {
                    max = max.max(ts);
                    Event {
                        key: Some(vec![b'a' + k]),
                        value: format!(r#"{{"x":{x}}}"#).into_bytes(),
                        timestamp: ts,
                        headers: vec![],
                    }
                })
                .collect();
            op.process_batch(events, 0, &mut out).unwrap();
            op.advance(max - ooo - 1, &mut out).unwrap();
        }
        op.advance(i64::MAX, &mut out).unwrap();
        let text = |v: &[u8]| String::from_utf8(v.to_vec()).unwrap();
        let mut lines: Vec<String> = out.results.iter().map(|e| text(&e.value)).collect();
        lines.extend(out.late.iter().map(|e| format!("late {}", text(&e.value))));
        lines
    }

    /// A sliced operator gives what one accumulator per window gives, result
    /// for result and in the same order, late records and windows that fire
    /// again within the allowed lateness included (whole numbers, so sums
    /// are exact either way).
    #[test]
    fn slices_give_what_whole_windows_give() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for (size, slide, lateness, ooo) in
            [(10, 2, 0, 3), (12, 4, 5, 2), (6, 3, 2, 8), (20, 5, 0, 0)]
        {
            let records: Vec<(u8, i64, i64)> = (0..400)
                .map(|i| {
                    let ts = i as i64 / 2 - next(25) as i64 + if next(10) == 0 { -30 } else { 0 };
                    (next(4) as u8, ts, next(100) as i64 - 20)
                })
                .collect();
            let whole = run(operator(size, slide, lateness, false), &records, ooo);
            let sliced = run(operator(size, slide, lateness, true), &records, ooo);
            assert!(
                whole.iter().any(|l| l.starts_with("late")),
                "no late record"
            );
            assert_eq!(
                sliced, whole,
                "size {size}, slide {slide}, lateness {lateness}"
            );
        }
    }

    #[test]
    fn whole_windows_restore_as_whole_windows() {
        let records: Vec<(u8, i64, i64)> =
            (0..120).map(|i| ((i % 3) as u8, i / 2, i % 7)).collect();
        let (first, second) = records.split_at(60);
        let expected = run(operator(10, 2, 3, false), &records, 2);

        let mut op = operator(10, 2, 3, false);
        let mut out = WindowOutput::default();
        let text = |e: &Event| String::from_utf8(e.value.clone()).unwrap();
        let events = |rs: &[(u8, i64, i64)]| -> Vec<Event> {
            rs.iter()
                .map(|&(k, ts, x)| Event {
                    key: Some(vec![b'a' + k]),
                    value: format!(r#"{{"x":{x}}}"#).into_bytes(),
                    timestamp: ts,
                    headers: vec![],
                })
                .collect()
        };
        op.process_batch(events(first), 0, &mut out).unwrap();
        op.advance(first.last().unwrap().1 - 3, &mut out).unwrap();
        let dir = tempfile::tempdir().unwrap();
        op.snapshot_into(dir.path()).unwrap();
        let bytes = std::fs::read(dir.path().join(crate::window::snapshot::WINDOW_FILE)).unwrap();

        let mut restored = operator(10, 2, 3, true);
        restored.restore(&bytes, &|_| true).unwrap();
        assert!(restored.slicing.is_none(), "whole windows kept whole");
        restored.process_batch(events(second), 0, &mut out).unwrap();
        restored.advance(i64::MAX, &mut out).unwrap();
        let got: Vec<String> = out.results.iter().map(text).collect();
        let mut want = expected.clone();
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, want);
    }
}
