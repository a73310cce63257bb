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

/// Over a changelog, a row whose sign is -1 takes back what one with the
/// same values added: MIN and MAX fall back to what is left (an
/// independent model: the multiset of the values added and not taken
/// back), counts and sums subtract, and the slot survives a checkpoint.
#[test]
fn over_a_changelog_rows_are_taken_back() {
    let agg = Aggregation::native(&[
        spec("count", None),
        spec("sum", Some("x")),
        spec("min", Some("x")),
        spec("max", Some("x")),
        spec("avg", Some("x")),
        spec(SIGN, Some("s")),
    ]);
    let mut slot = agg.new_slot();
    assert!(matches!(slot, Slot::Retract(_)));
    let mut values = Vec::new();
    let mut model: Vec<f64> = Vec::new();
    // Adds and takes back in an order where the extremes leave first.
    let changes = [
        (3.0, 1.0),
        (9.0, 1.0),
        (1.0, 1.0),
        (9.0, 1.0),
        (1.0, -1.0),
        (9.0, -1.0),
        (5.0, 1.0),
        (9.0, -1.0),
        (-2.5, 1.0),
        (3.0, -1.0),
    ];
    for (x, sign) in changes {
        let e = crate::event::event(format!("{{\"x\":{x},\"s\":{sign}}}").into_bytes(), 0);
        agg.extract(&e, &mut values).unwrap();
        agg.add(&mut slot, Input::Numbers, &values);
        if sign > 0.0 {
            model.push(x);
        } else {
            let at = model.iter().position(|&y| y == x).unwrap();
            model.remove(at);
        }
        let Aggregation::Native(Natives { aggs, .. }) = &agg else {
            unreachable!()
        };
        let got: Vec<f64> = aggs
            .iter()
            .map(|NativeSpec(a)| a.value(slot.numbers()))
            .collect();
        let sum: f64 = model.iter().sum();
        let n = model.len() as f64;
        let min = model.iter().copied().fold(f64::INFINITY, f64::min);
        let max = model.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(got, [n, sum, min, max, sum / n], "after {x} × {sign}");
    }
    // Saved and loaded: the values left, with their counts.
    let again = Slot::load(slot.save());
    assert!(agg.same_results(&slot, &again));
    let mut left = again.clone();
    let e = crate::event::event(br#"{"x":-2.5,"s":-1}"#.to_vec(), 0);
    agg.extract(&e, &mut values).unwrap();
    agg.add(&mut left, Input::Numbers, &values);
    assert_eq!(left.numbers()[2], 5.0, "the min after -2.5 leaves");
    assert!(slot.heap_bytes() > 8 * slot.numbers().len() as u64);
    // A record without its sign is rejected, saying so.
    let e = crate::event::event(br#"{"x":1}"#.to_vec(), 0);
    let err = agg.extract(&e, &mut values).unwrap_err();
    assert_eq!(err.field, "s");
    assert!(
        agg.missing(5).contains("the row's sign"),
        "{}",
        agg.missing(5)
    );
    // A sign that is neither 1 nor -1 is refused, saying what it is.
    for (text, bad) in [
        ("1", false),
        ("-1", false),
        ("2", true),
        ("0", true),
        ("-0.5", true),
    ] {
        let e = crate::event::event(format!(r#"{{"x":1,"s":{text}}}"#).into_bytes(), 0);
        agg.extract(&e, &mut values).unwrap();
        match agg.bad_sign(&values) {
            Some(why) => assert!(
                bad && why.contains("`s`") && why.contains("taken back (-1)"),
                "{why}"
            ),
            None => assert!(!bad, "sign {text} was taken"),
        }
    }
}
