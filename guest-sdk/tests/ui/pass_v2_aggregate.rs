use weir_guest::v2::{Aggregate, Record, Window};

#[derive(Record)]
struct In {
    amount: f64,
}

#[derive(Record)]
struct Out {
    total: f64,
}

struct Total;

#[weir_guest::v2::aggregate]
impl Aggregate for Total {
    type In<'a> = In;
    type Acc = f64;
    type Out = Out;
    fn add(acc: &mut f64, r: In) -> Result<(), weir_guest::Error> {
        *acc += r.amount;
        Ok(())
    }
    fn merge(a: f64, b: f64) -> f64 {
        a + b
    }
    fn finish(acc: f64, _key: &[u8], _w: Window) -> Out {
        Out { total: acc }
    }
}

fn main() {}
