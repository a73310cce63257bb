use super::*;

fn spec(f: &str, field: Option<&str>) -> AggregateSpec {
    AggregateSpec {
        function: f.into(),
        field: field.map(Into::into),
        output: None,
    }
}

#[test]
fn builtins_compute_and_merge() {
    let agg = Aggregation::native(&[
        spec("count", None),
        spec("sum", Some("x")),
        spec("min", Some("x")),
        spec("max", Some("x")),
        spec("avg", Some("x")),
    ]);
    let ev = |x: f64| crate::event::event(format!("{{\"x\":{x}}}").into_bytes(), 0);
    let (mut a, mut b) = (agg.new_slot(), agg.new_slot());
    let mut values = Vec::new();
    let mut add = |slot: &mut Slot, x: f64| {
        let e = ev(x);
        agg.extract(&e, &mut values).unwrap();
        agg.add(slot, Input::Event(&e), &values);
    };
    add(&mut a, 1.0);
    add(&mut a, 4.0);
    add(&mut b, 2.5);
    agg.merge(&mut a, b);
    let w = TimeWindow { start: 0, end: 10 };
    let Aggregation::Native(Natives { aggs, .. }) = &agg else {
        unreachable!()
    };
    let Slot::Native(v) = &a else { unreachable!() };
    let out = String::from_utf8(native_result(aggs, b"k", w, v)).unwrap();
    assert_eq!(
        out,
        r#"{"key":"k","window_start":0,"window_end":10,"count":3,"sum_x":7.5,"min_x":1,"max_x":4,"avg_x":2.5}"#
    );
    assert!(
        agg.extract(&crate::event::event(b"{}".to_vec(), 0), &mut values)
            .is_err()
    );
}
