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
    let w = to_wit_batch(&b, &[10, 20], &[0, 1], false).unwrap();
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

/// Packed columns (for guests that lift bytes at once): every packable
/// type of a sliced batch crosses as bytes, with no event times, and comes
/// back equal, parents and selections packed too.
#[test]
fn a_packed_batch_crosses_as_bytes_and_comes_back_equal() {
    let full = RecordBatch::try_from_iter([
        (
            "i32",
            Arc::new(arrow_array::Int32Array::from(vec![1, -2, 3, 4])) as ArrayRef,
        ),
        (
            "i64",
            Arc::new(arrow_array::Int64Array::from(vec![
                Some(1),
                None,
                Some(-3),
                Some(i64::MAX),
            ])) as ArrayRef,
        ),
        (
            "f32",
            Arc::new(arrow_array::Float32Array::from(vec![0.5, 1.5, -2.5, 3.0])) as ArrayRef,
        ),
        (
            "f64",
            Arc::new(arrow_array::Float64Array::from(vec![
                0.25,
                f64::MIN,
                2.0,
                1e300,
            ])) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(arrow_array::TimestampMillisecondArray::from(vec![
                5, 6, 7, 8,
            ])) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("bé"),
                None,
                Some("d"),
            ])) as ArrayRef,
        ),
        (
            "b",
            Arc::new(BinaryArray::from(vec![&b"x"[..], b"", b"yz", b"w"])) as ArrayRef,
        ),
    ])
    .unwrap();
    let b = full.slice(1, 3);
    let w = to_wit_batch(&b, &[10, 20, 30], &[0, 1, 2, 3, 4, 5, 6], true).unwrap();
    assert!(
        w.event_time.is_empty(),
        "no event times for a packed operator"
    );
    let wit::ColumnData::Packed(p) = &w.columns[1].data else {
        panic!("{:?}", w.columns[1].data)
    };
    assert_eq!(p.values.len(), 3 * 8);
    let wit::ColumnData::Packed(s) = &w.columns[5].data else {
        panic!()
    };
    assert_eq!(s.values, "béd".as_bytes());
    assert_eq!(
        s.offsets.as_deref(),
        Some(&[0u8, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0][..])
    );
    let packed_rows = |rows: &[u32]| rows.iter().flat_map(|r| r.to_le_bytes()).collect();
    let out = wit::OutputBatch {
        rows: 3,
        origin: wit::RowOrigin::PackedParents(packed_rows(&[0, 1, 2])),
        event_time: None,
        columns: w.columns,
    };
    let back = from_wit_output(out, &b.schema(), &b, &[10, 20, 30]).unwrap();
    assert_eq!(back.batch, b);
    assert_eq!(back.time, vec![10, 20, 30]);
    let kept = from_wit_selection(
        wit::Selection::PackedIndices(packed_rows(&[0, 2])),
        &b,
        &[1, 2, 3],
    )
    .unwrap();
    assert_eq!(kept.time, vec![1, 3]);
    // Refused: bytes that are not whole values, parents out of order.
    let bad = from_wit_selection(wit::Selection::PackedIndices(vec![0; 5]), &b, &[1, 2, 3]);
    assert!(bad.unwrap_err().to_string().contains("not four bytes each"));
    let schema = from_wit_schema(&[wit::Field {
        name: "n".into(),
        data_type: wit::DataType::Int64,
        nullable: false,
    }])
    .unwrap();
    let one = |values: Vec<u8>, origin| wit::OutputBatch {
        rows: 2,
        origin,
        event_time: None,
        columns: vec![wit::Column {
            validity: None,
            data: wit::ColumnData::Packed(wit::PackedData {
                values,
                offsets: None,
            }),
        }],
    };
    let e = from_wit_output(
        one(
            vec![0; 15],
            wit::RowOrigin::PackedParents(packed_rows(&[0, 1])),
        ),
        &schema,
        &b,
        &[1, 2, 3],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("has 15 packed bytes for 2 values of 8 bytes"),
        "{e}"
    );
    let e = from_wit_output(
        one(
            vec![0; 16],
            wit::RowOrigin::PackedParents(packed_rows(&[2, 1])),
        ),
        &schema,
        &b,
        &[1, 2, 3],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("parents are not 2 non-decreasing"),
        "{e}"
    );
}
