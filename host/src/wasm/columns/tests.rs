//! Arrow columns to the contract's and back: round trips and refusals.

use super::*;
use arrow_array::cast::AsArray;

fn input() -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(arrow_array::Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec!["a", "bc", "d"])) as ArrayRef,
        ),
    ])
    .unwrap()
}

#[test]
fn a_sliced_batch_crosses_rebased_and_comes_back_equal() {
    let b = input().slice(1, 2);
    let w = to_wit_batch(&b, &[10, 20], &[0, 1]).unwrap();
    let wit::ColumnData::Utf8(s) = &w.columns[1].data else {
        panic!()
    };
    assert_eq!(s.offsets, vec![0, 2, 3]);
    assert_eq!(s.data, b"bcd");
    assert_eq!(w.columns[0].validity.as_deref(), Some(&[0b10u8][..]));
    let out = wit::OutputBatch {
        rows: 2,
        origin: wit::RowOrigin::Same,
        event_time: None,
        columns: w.columns,
    };
    let back = from_wit_output(out, &b.schema(), &b, &[10, 20]).unwrap();
    assert_eq!(back.batch, b);
    assert_eq!(back.time, vec![10, 20]);
    assert_eq!(back.parents, None);
}

#[test]
fn a_guests_broken_columns_are_refused_with_what_is_wrong() {
    let b = input();
    let schema = from_wit_schema(&[wit::Field {
        name: "s".into(),
        data_type: wit::DataType::Utf8,
        nullable: false,
    }])
    .unwrap();
    let out = |data: wit::ColumnData, origin| wit::OutputBatch {
        rows: 2,
        origin,
        event_time: None,
        columns: vec![wit::Column {
            validity: None,
            data,
        }],
    };
    let parents = || wit::RowOrigin::Parents(vec![0, 2]);
    for (o, says) in [
        (
            out(
                wit::ColumnData::Utf8(wit::VarData {
                    offsets: vec![0, 9, 1],
                    data: b"x".to_vec(),
                }),
                parents(),
            ),
            "offsets",
        ),
        (
            out(wit::ColumnData::Int64(vec![1, 2]), parents()),
            "does not hold",
        ),
        (
            out(
                wit::ColumnData::Utf8(wit::VarData {
                    offsets: vec![0, 1, 2],
                    data: vec![0xff, 0xfe],
                }),
                parents(),
            ),
            "utf",
        ),
        (
            out(
                wit::ColumnData::Input(1),
                wit::RowOrigin::Parents(vec![2, 0]),
            ),
            "non-decreasing",
        ),
        (out(wit::ColumnData::Input(7), parents()), "input column 7"),
        (out(wit::ColumnData::Nulls, parents()), "not nullable"),
    ] {
        let e = from_wit_output(o, &schema, &b, &[1, 2, 3])
            .unwrap_err()
            .to_string();
        assert!(e.to_lowercase().contains(says), "`{says}` not in: {e}");
    }
    let ok = from_wit_output(
        out(wit::ColumnData::Input(1), parents()),
        &schema,
        &b,
        &[1, 2, 3],
    )
    .unwrap();
    assert_eq!(ok.batch.column(0).as_string::<i32>().value(1), "d");
    assert_eq!(ok.time, vec![1, 3]);
    assert_eq!(ok.parents, Some(vec![0, 2]));
    assert!(!ok.selected);
}

#[test]
fn a_selection_keeps_its_rows_and_their_times() {
    let b = input();
    let kept = from_wit_selection(wit::Selection::Bitmap(vec![0b101]), &b, &[7, 8, 9]).unwrap();
    assert_eq!(kept.batch.num_rows(), 2);
    assert_eq!(kept.time, vec![7, 9]);
    assert_eq!(kept.parents, Some(vec![0, 2]));
    assert!(kept.selected);
    assert!(from_wit_selection(wit::Selection::Indices(vec![2, 1]), &b, &[7, 8, 9]).is_err());
}
