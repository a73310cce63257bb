//! The session summary of `operator/` over typed columns: a window
//! aggregate that reads each click's `ts` and `page` from their columns
//! and answers with the session's clicks and the pages visited, in
//! event-time order — `pages` is a list column (`Vec<String>`), written
//! as one buffer of text for all the sessions of a call.

use weir_guest::Error;
use weir_guest::v2::{Aggregate, Record, Window};

/// What it reads of a click.
#[derive(Record)]
struct Click<'a> {
    ts: i64,
    page: &'a str,
}

/// One session, after the window's `key`, `window_start` and `window_end`.
#[derive(Record)]
struct Pages {
    clicks: i64,
    pages: Vec<String>,
}

struct SessionPages;

#[weir_guest::v2::aggregate]
impl Aggregate for SessionPages {
    type In<'a> = Click<'a>;
    /// (event time, page) of every click so far.
    type Acc = Vec<(i64, String)>;
    type Out = Pages;

    fn add(acc: &mut Self::Acc, click: Click<'_>) -> Result<(), Error> {
        acc.push((click.ts, click.page.to_string()));
        Ok(())
    }

    fn merge(mut a: Self::Acc, b: Self::Acc) -> Self::Acc {
        a.extend(b);
        a
    }

    fn finish(mut acc: Self::Acc, _key: &[u8], _window: Window) -> Pages {
        // Stable sort: clicks with equal times keep their arrival order.
        acc.sort_by_key(|(ts, _)| *ts);
        Pages {
            clicks: acc.len() as i64,
            pages: acc.into_iter().map(|(_, page)| page).collect(),
        }
    }
}
