//! A window aggregate over typed columns that reads a list column: per
//! key and window, how many tags its records held and which ones (sorted,
//! each once). tests/e2e/lists.rs holds it to the test's own count.

use weir_guest::Error;
use weir_guest::v2::{Aggregate, Record, Window};

/// What it reads of a record: its list of tags.
#[derive(Record)]
struct Tagged {
    tags: Vec<String>,
}

/// One result, after the window's `key`, `window_start` and `window_end`.
#[derive(Record)]
struct Tags {
    count: i64,
    distinct: Vec<String>,
}

struct CountTags;

#[weir_guest::v2::aggregate]
impl Aggregate for CountTags {
    type In<'a> = Tagged;
    /// Every tag seen, in arrival order.
    type Acc = Vec<String>;
    type Out = Tags;

    fn add(acc: &mut Vec<String>, t: Tagged) -> Result<(), Error> {
        acc.extend(t.tags);
        Ok(())
    }

    fn merge(mut a: Vec<String>, b: Vec<String>) -> Vec<String> {
        a.extend(b);
        a
    }

    fn finish(mut acc: Vec<String>, _key: &[u8], _window: Window) -> Tags {
        let count = acc.len() as i64;
        acc.sort();
        acc.dedup();
        Tags {
            count,
            distinct: acc,
        }
    }
}
