//! A window aggregate for session windows: the pages a user visited, in
//! event-time order, and how many clicks the session had.

use weir_guest::{Aggregate, Error, Event, Window};

/// Pages of one session.
pub struct Pages;

#[derive(serde::Deserialize)]
struct Click {
    page: String,
}

#[weir_guest::aggregate]
impl Aggregate for Pages {
    /// (event time, page) of every click so far.
    type Acc = Vec<(i64, String)>;
    type Out = serde_json::Value;

    fn add(acc: &mut Self::Acc, event: &Event) -> Result<(), Error> {
        acc.push((event.timestamp, event.json::<Click>()?.page));
        Ok(())
    }

    fn merge(mut a: Self::Acc, b: Self::Acc) -> Self::Acc {
        a.extend(b);
        a
    }

    fn finish(mut acc: Self::Acc, key: &[u8], window: Window) -> serde_json::Value {
        // Stable sort: clicks with equal times keep their arrival order.
        acc.sort_by_key(|(ts, _)| *ts);
        serde_json::json!({
            "user": String::from_utf8_lossy(key),
            "start": window.start,
            "end": window.end,
            "clicks": acc.len(),
            "pages": acc.into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
        })
    }
}
