use super::*;

fn spec(pk: &[&str]) -> PostgresSinkSpec {
    PostgresSinkSpec {
        url: "postgresql://weir:secret@db.example:6543/shop".into(),
        user: None,
        password: None,
        table: "public.Totals".into(),
        columns: vec!["user".into(), "window_start".into(), "total".into()],
        primary_key: pk.iter().map(|s| s.to_string()).collect(),
        batch_rows: 1000,
        changelog: false,
    }
}

#[test]
fn a_table_without_a_key_is_inserted_into() {
    assert_eq!(
        batch_statement(&spec(&[])),
        "INSERT INTO \"public\".\"Totals\" (\"user\", \"window_start\", \"total\") \
         SELECT \"user\", \"window_start\", \"total\" FROM \
         json_populate_recordset(NULL::\"public\".\"Totals\", $1::text::json)"
    );
}

#[test]
fn a_table_with_a_key_is_upserted_with_the_last_row_per_key() {
    let s = batch_statement(&spec(&["user", "window_start"]));
    assert!(
        s.contains("DISTINCT ON (\"user\", \"window_start\")"),
        "{s}"
    );
    assert!(
        s.contains("ORDER BY \"user\", \"window_start\", ordinality DESC"),
        "{s}"
    );
    assert!(
        s.ends_with(
            "ON CONFLICT (\"user\", \"window_start\") DO UPDATE SET \"total\" = EXCLUDED.\"total\""
        ),
        "{s}"
    );
    let all = batch_statement(&spec(&["user", "window_start", "total"]));
    assert!(all.ends_with("DO NOTHING"), "{all}");
}

#[test]
fn the_address_in_errors_leaves_the_password_out() {
    let a = address("jdbc:postgresql://weir:secret@db.example:6543/shop");
    assert_eq!(a, "db.example:6543/shop");
    assert_eq!(address("postgresql://localhost/x"), "localhost:5432/x");
}
