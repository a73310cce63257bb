use weir_guest::v2::{Context, Keyed, Record, Timer, ValueState};

#[derive(Record)]
struct In<'a> {
    user: &'a str,
    amount: f64,
}

#[derive(Record)]
struct Out {
    user: String,
    total: f64,
}

struct Total;

#[weir_guest::v2::keyed]
impl Keyed for Total {
    type In<'a> = In<'a>;
    type Out = Out;
    fn process(ctx: &mut Context<'_, Out>, r: In<'_>) -> Result<(), weir_guest::Error> {
        let total = ValueState::<f64>::new("total");
        let sum = total.get()?.unwrap_or(0.0) + r.amount;
        total.set(&sum)?;
        ctx.register_event_timer(ctx.watermark() + 1000);
        ctx.emit(Out { user: r.user.to_string(), total: sum });
        Ok(())
    }
    fn on_timer(ctx: &mut Context<'_, Out>, t: Timer) -> Result<(), weir_guest::Error> {
        ctx.emit_at(Out { user: String::new(), total: 0.0 }, t.at);
        Ok(())
    }
}

fn main() {}
