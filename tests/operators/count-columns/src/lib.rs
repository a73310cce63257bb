//! The running count of `count-v1` / `count-v2`, over typed columns: the
//! same state (`count`, a JSON number per key), so a live swap from the
//! operators over JSON events to this one carries the counts over; its
//! rows are tagged `"v": 3`.

use weir_guest::Error;
use weir_guest::v2::{Context, Keyed, Record, ValueState};

/// A running count per key.
pub struct Count;

/// What it reads.
#[derive(Record)]
pub struct In {
    i: i64,
}

/// What it emits per record.
#[derive(Record)]
pub struct Out {
    key: String,
    i: i64,
    n: i64,
    v: i64,
}

#[weir_guest::v2::keyed]
impl Keyed for Count {
    type In<'a> = In;
    type Out = Out;

    fn process(ctx: &mut Context<'_, Out>, record: In) -> Result<(), Error> {
        let count = ValueState::<i64>::new("count");
        let n = count.get()?.unwrap_or(0) + 1;
        count.set(&n)?;
        ctx.emit(Out {
            key: String::from_utf8_lossy(ctx.key()).into_owned(),
            i: record.i,
            n,
            v: 3,
        });
        Ok(())
    }
}
