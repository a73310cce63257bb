//! A session window's result as the session report names it: the
//! window's `key`, `window_start` and `window_end` become `user`, `start`
//! and `end`; the clicks and the list of pages go on as they are.

use weir_guest::v2::Record;

/// A row of the session window's results.
#[derive(Record)]
struct Window<'a> {
    key: &'a str,
    window_start: i64,
    window_end: i64,
    clicks: i64,
    pages: Vec<String>,
}

/// The report's row.
#[derive(Record)]
struct Session<'a> {
    user: &'a str,
    start: i64,
    end: i64,
    clicks: i64,
    pages: Vec<String>,
}

#[weir_guest::v2::map]
fn rename(w: Window) -> Session {
    Session {
        user: w.key,
        start: w.window_start,
        end: w.window_end,
        clicks: w.clicks,
        pages: w.pages,
    }
}
