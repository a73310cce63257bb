use weir_guest::v2::{Context, Keyed, Record};

#[derive(Record)]
struct In {
    i: i64,
}

struct Count;

#[weir_guest::v2::keyed(fast)]
impl Keyed for Count {
    type In<'a> = In;
    type Out = In;
    fn process(_: &mut Context<'_, In>, _: In) -> Result<(), weir_guest::Error> {
        Ok(())
    }
}

fn main() {}
