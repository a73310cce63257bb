//! The macros' errors point at the user's code, with a message that says
//! what signature is expected. `TRYBUILD=overwrite` regenerates the .stderr
//! files after an intended change to a message.

#[test]
fn wrong_signatures_are_compile_errors_at_the_users_code() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
