//! Components written directly in WAT (`tests/operators/wat/`), turned into
//! components of a `weir:dataflow` world with `wit-component` and the
//! repository's `wit/`: guests that break the contract in ways the SDK
//! never would.

use std::path::{Path, PathBuf};

/// The component built from `tests/operators/wat/NAME.wat`, written to
/// `dir/NAME.wasm`; returns its path.
pub fn component(dir: &Path, name: &str) -> PathBuf {
    let src = crate::repo().join("tests/operators/wat");
    let text = std::fs::read_to_string(src.join(format!("{name}.wat")))
        .unwrap_or_else(|e| panic!("{name}.wat: {e}"));
    let common = std::fs::read_to_string(src.join("common.wat")).expect("common.wat");
    let world = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(";; world: "))
        .unwrap_or_else(|| panic!("{name}.wat: the first line must be `;; world: <world>`"))
        .trim()
        .to_string();
    let mut module = wat::parse_str(text.replace(";; common", &common))
        .unwrap_or_else(|e| panic!("{name}.wat: {e}"));
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve
        .push_dir(crate::repo().join("wit"))
        .expect("wit/ parses");
    let world = resolve
        .select_world(&[pkg], Some(&world))
        .unwrap_or_else(|e| panic!("{name}.wat: world `{world}`: {e}"));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed the world");
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| panic!("{name}.wat as a component: {e:#}"));
    let out = dir.join(format!("{name}.wasm"));
    std::fs::write(&out, component).expect("write the component");
    out
}
