//! Window contents in a checkpoint.
//!
//! A keyed subtask's windows are written at the barrier as one compact
//! binary file (postcard): the time reached, and every open (window, key)
//! accumulator. Restoring merges one or more such files and keeps only the
//! keys a subtask owns, which is how a job is rescaled: key groups move
//! between subtasks, the accumulators with them. Whether a pane or session
//! already fired is not stored: a window fires as soon as time passes its
//! end, so it has fired exactly when `max_timestamp <= current`.

use super::TimeWindow;
use super::aggregate::{SavedSlot, Slot};
use super::operator::{Session, WindowOperator};
use crate::wasm::WasmError;
use serde::{Deserialize, Serialize};

/// `(start, end)` of a window.
type Bounds = (i64, i64);
/// A pane: its window and `(key, accumulator)`s, keys sorted.
type SavedPane = (Bounds, Vec<(Vec<u8>, SavedSlot)>);
/// A key's sessions.
type SavedSessions = (Vec<u8>, Vec<(Bounds, SavedSlot)>);

#[derive(Serialize, Deserialize)]
struct Saved {
    current: i64,
    pane_capacity: u64,
    panes: Vec<SavedPane>,
    sessions: Vec<SavedSessions>,
}

fn window((start, end): Bounds) -> TimeWindow {
    TimeWindow { start, end }
}

impl WindowOperator {
    /// The operator's state, for a checkpoint. Pending work is sent to a
    /// Wasm aggregate first, so what is saved is complete.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, WasmError> {
        self.flush()?;
        let saved = Saved {
            current: self.current,
            pane_capacity: self.pane_capacity as u64,
            panes: self
                .panes
                .iter()
                .map(|(w, pane)| {
                    let mut slots: Vec<_> =
                        pane.iter().map(|(k, s)| (k.clone(), s.save())).collect();
                    slots.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    ((w.start, w.end), slots)
                })
                .collect(),
            sessions: self
                .sessions
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.iter()
                            .map(|s| ((s.window.start, s.window.end), s.slot.save()))
                            .collect(),
                    )
                })
                .collect(),
        };
        Ok(postcard::to_stdvec(&saved).expect("window state serializes"))
    }

    /// Add the state in `bytes` (from [`WindowOperator::snapshot`]) for the
    /// keys `keep` accepts. Called once per saved subtask when rescaling.
    pub fn restore(&mut self, bytes: &[u8], keep: &dyn Fn(&[u8]) -> bool) -> Result<(), String> {
        let saved: Saved = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        self.current = self.current.max(saved.current);
        self.pane_capacity = self.pane_capacity.max(saved.pane_capacity as usize);
        for (w, slots) in saved.panes {
            let w = window(w);
            let pane = self.panes.entry(w).or_default();
            for (key, slot) in slots.into_iter().filter(|(k, _)| keep(k)) {
                pane.insert(key, Slot::load(slot));
            }
            if pane.is_empty() {
                self.panes.remove(&w);
            } else if w.max_timestamp() <= saved.current {
                self.fired_panes.insert(w);
            }
        }
        for (key, sessions) in saved.sessions.into_iter().filter(|(k, _)| keep(k)) {
            let v = self.sessions.entry(key.clone()).or_default();
            for (w, slot) in sessions {
                let w = window(w);
                self.session_index.insert((w, key.clone()));
                v.push(Session {
                    window: w,
                    slot: Slot::load(slot),
                    fired: w.max_timestamp() <= saved.current,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::job::AggregateSpec;
    use crate::window::aggregate::Aggregation;
    use crate::window::operator::WindowOutput;
    use crate::window::{TimeMode, WindowKind};

    fn op(kind: WindowKind) -> WindowOperator {
        let sum = AggregateSpec {
            function: "sum".into(),
            field: Some("n".into()),
            output: None,
        };
        WindowOperator::new(kind, TimeMode::Event, 0, Aggregation::native(&[sum]))
    }

    fn rec(key: &str, ts: i64, n: i64) -> Event {
        Event {
            key: Some(key.as_bytes().to_vec()),
            value: format!(r#"{{"n":{n}}}"#).into_bytes(),
            timestamp: ts,
            headers: vec![],
        }
    }

    /// Run the first half, snapshot, restore into fresh operators split by
    /// key, run the second half: the union of results equals one run.
    #[test]
    fn restored_and_split_operators_continue_exactly() {
        for kind in [
            WindowKind::Tumbling { size: 10 },
            WindowKind::Session { gap: 5 },
        ] {
            let first: Vec<Event> = (0..40)
                .map(|i| rec(["a", "b", "c"][i % 3], i as i64, 1))
                .collect();
            let second: Vec<Event> = (40..80)
                .map(|i| rec(["a", "b", "c"][i % 3], i as i64, 2))
                .collect();
            let mut whole = op(kind);
            let mut expected = WindowOutput::default();
            whole
                .process_batch(first.clone(), 0, &mut expected)
                .unwrap();
            whole.advance(30, &mut expected).unwrap();
            let bytes = whole.snapshot().unwrap();
            whole
                .process_batch(second.clone(), 0, &mut expected)
                .unwrap();
            whole.advance(i64::MAX, &mut expected).unwrap();

            let mut before = op(kind);
            let mut got = WindowOutput::default();
            before.process_batch(first, 0, &mut got).unwrap();
            before.advance(30, &mut got).unwrap();
            for part in [&["a"][..], &["b", "c"][..]] {
                let mut restored = op(kind);
                restored
                    .restore(&bytes, &|k| part.contains(&std::str::from_utf8(k).unwrap()))
                    .unwrap();
                let mine: Vec<Event> = second
                    .iter()
                    .filter(|e| {
                        part.contains(&std::str::from_utf8(e.key.as_deref().unwrap()).unwrap())
                    })
                    .cloned()
                    .collect();
                restored.process_batch(mine, 0, &mut got).unwrap();
                restored.advance(i64::MAX, &mut got).unwrap();
            }
            let lines = |o: &WindowOutput| {
                let mut v: Vec<Vec<u8>> = o.results.iter().map(|e| e.value.clone()).collect();
                v.sort();
                v
            };
            assert_eq!(lines(&got), lines(&expected), "{kind:?}");
        }
    }
}
