//! `weir build`: an operator project → a WebAssembly component.
//!
//! - **Rust**: a directory with `Cargo.toml` (a `cdylib` using `weir-guest`),
//!   built with `cargo build --release --target wasm32-wasip2` (with LTO,
//!   one codegen unit and no debug info: see [`GUEST_PROFILE`]);
//! - **Python**: a directory with one module (`app.py`, or the only `.py`
//!   file), built with `componentize-py` against the contract in `wit/`.
//!
//! It installs nothing: a missing toolchain is reported with the command
//! that installs it.

use crate::wasm::World;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The contract, embedded so Python builds work from an installed binary.
pub const WIT: &str = include_str!("../../wit/dataflow.wit");
/// The columnar contract (`weir:dataflow@0.2.0`), for operators over columns.
pub const WIT_COLUMNS: &str = include_str!("../../wit/v0.2/dataflow.wit");
/// The Python SDK for operators over columns (`import weir`), embedded so
/// Python builds work from an installed binary.
pub const PY_SDK: &str = include_str!("../../guest-sdk/python/weir.py");
/// The Python SDK's keyed process functions (re-exported by `weir`).
const PY_SDK_KEYED: &str = include_str!("../../guest-sdk/python/weir_keyed.py");
/// The Python SDK's shared part: config, field types, columns in and out.
const PY_SDK_COLUMNS: &str = include_str!("../../guest-sdk/python/weir_columns.py");
/// The Python SDK's batch functions (`@weir.map_batch`, `@weir.filter_batch`).
const PY_SDK_BATCH: &str = include_str!("../../guest-sdk/python/weir_batch.py");

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Not a directory we know how to build.
    #[error(
        "{path}: not an operator project (expected a Cargo.toml for Rust, or a .py module for Python)"
    )]
    UnknownProject {
        /// The directory.
        path: PathBuf,
    },
    /// A tool is not installed.
    #[error("{tool} is needed to build {path} but {problem}; install it with: {install}")]
    MissingTool {
        /// The tool.
        tool: &'static str,
        /// The project.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// The command to fix it.
        install: &'static str,
    },
    /// The build ran and failed.
    #[error("building {path} failed:\n{output}")]
    Failed {
        /// The project.
        path: PathBuf,
        /// The build tool's output (the end of it).
        output: String,
    },
    /// I/O around the build.
    #[error("building {path}: {message}")]
    Io {
        /// The project.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// The kind of operator project in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    /// A Rust crate.
    Rust,
    /// A Python module (its name).
    Python(String),
}

/// What kind of project `dir` is.
pub fn detect(dir: &Path) -> Result<Project, BuildError> {
    if dir.join("Cargo.toml").is_file() {
        return Ok(Project::Rust);
    }
    if dir.join("app.py").is_file() {
        return Ok(Project::Python("app".into()));
    }
    let py: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| BuildError::Io {
            path: dir.into(),
            message: e.to_string(),
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".py"))
                .map(String::from)
        })
        .collect();
    match py.as_slice() {
        [one] => Ok(Project::Python(one.clone())),
        _ => Err(BuildError::UnknownProject { path: dir.into() }),
    }
}

/// Build the project in `dir`; `world` is needed for Python (Rust operators
/// declare theirs with the SDK macro): a Python transform or aggregate
/// that imports the SDK (`import weir`) is built as one over columns.
/// Returns the component's path.
pub fn build(dir: &Path, world: World) -> Result<PathBuf, BuildError> {
    match detect(dir)? {
        Project::Rust => build_rust(dir),
        Project::Python(module) => {
            let world = match (world, python_sdk(dir)) {
                // A class under `@weir.aggregate` or `@weir.keyed` is what
                // its decorator says, whatever the default world asked for.
                (_, Some(PythonSdk::Aggregate)) => World::ColumnAggregate,
                (_, Some(PythonSdk::Keyed)) => World::ColumnKeyed,
                (World::Transform, Some(PythonSdk::Transform)) => World::Columns,
                (World::Aggregate, Some(PythonSdk::Transform)) => World::ColumnAggregate,
                (World::Keyed, Some(PythonSdk::Transform)) => World::ColumnKeyed,
                (other, _) => other,
            };
            build_python(dir, &module, world)
        }
    }
}

/// What a Python project that imports the SDK defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PythonSdk {
    /// A function under `@weir.map` or `@weir.filter`.
    Transform,
    /// A class under `@weir.aggregate`.
    Aggregate,
    /// A class under `@weir.keyed(...)`.
    Keyed,
}

/// Does a module in `dir` import the Python SDK (for operators over
/// columns), and for what?
fn python_sdk(dir: &Path) -> Option<PythonSdk> {
    let entries = std::fs::read_dir(dir).ok()?;
    let texts: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    let imports = texts.iter().any(|text| {
        text.lines().any(|l| {
            let l = l.trim_start();
            l == "import weir" || l.starts_with("import weir ") || l.starts_with("from weir import")
        })
    });
    let decorated = |name: &str| {
        texts
            .iter()
            .any(|text| text.lines().any(|l| l.trim_start().starts_with(name)))
    };
    if !imports {
        None
    } else if decorated("@weir.aggregate") {
        Some(PythonSdk::Aggregate)
    } else if decorated("@weir.keyed") {
        Some(PythonSdk::Keyed)
    } else {
        Some(PythonSdk::Transform)
    }
}

/// The last 40 lines of a tool's output, without the stack backtrace
/// componentize-py prints after its error (the Python traceback and the
/// error are what say what to fix).
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split("Stack backtrace:").next().unwrap_or_default();
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The release profile weir builds Rust components with (cargo's
/// `CARGO_PROFILE_RELEASE_*` overrides, so it holds for any crate).
const GUEST_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_LTO", "true"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

fn build_rust(dir: &Path) -> Result<PathBuf, BuildError> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(out) = installed
        && out.status.success()
        && !String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == "wasm32-wasip2")
    {
        return Err(BuildError::MissingTool {
            tool: "the wasm32-wasip2 Rust target",
            path: dir.into(),
            problem: "it is not installed".into(),
            install: "rustup target add wasm32-wasip2",
        });
    }
    let mut cargo = Command::new("cargo");
    // Components are small and fast when built whole: link-time
    // optimisation across the SDK and the operator inlines the per-value
    // column accessors (4x on the columnar benchmark), and no debug info
    // keeps the component a few dozen KiB instead of megabytes. A setting
    // already in the environment wins, so a user can still choose.
    for (key, value) in GUEST_PROFILE {
        if std::env::var_os(key).is_none() {
            cargo.env(key, value);
        }
    }
    let out = cargo
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .output()
        .map_err(|e| BuildError::MissingTool {
            tool: "cargo",
            path: dir.into(),
            problem: e.to_string(),
            install: "see https://rustup.rs",
        })?;
    if !out.status.success() {
        return Err(BuildError::Failed {
            path: dir.into(),
            output: tail(&out.stderr),
        });
    }
    // The last cdylib artifact cargo reports is the component.
    let wasm = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .filter(|m| {
            m["manifest_path"].as_str().map(Path::new)
                == dir.join("Cargo.toml").canonicalize().ok().as_deref()
        })
        .filter_map(|m| {
            m["filenames"]
                .as_array()?
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
        })
        .next_back();
    wasm.ok_or_else(|| BuildError::Failed {
        path: dir.into(),
        output: "cargo built no .wasm: is the crate a `cdylib` (crate-type = [\"cdylib\"])?".into(),
    })
}

fn build_python(dir: &Path, module: &str, world: World) -> Result<PathBuf, BuildError> {
    let io = |e: std::io::Error| BuildError::Io {
        path: dir.into(),
        message: e.to_string(),
    };
    let out_dir = dir.join("target");
    std::fs::create_dir_all(&out_dir).map_err(io)?;
    // componentize-py has no incremental build: reuse the output while it is
    // newer than every .py file and was built against this contract.
    let columns = matches!(
        world,
        World::Columns | World::ColumnAggregate | World::ColumnKeyed
    );
    let wit = if columns { WIT_COLUMNS } else { WIT };
    let contract = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(wit);
        if columns {
            h.update(PY_SDK);
            h.update(PY_SDK_KEYED);
            h.update(PY_SDK_COLUMNS);
            h.update(PY_SDK_BATCH);
        }
        hex::encode(&h.finalize()[..6])
    };
    let output = out_dir.join(format!("{module}-{}-{contract}.wasm", world.name()));
    if is_fresh(&output, dir) {
        return Ok(output);
    }
    let wit_dir = std::env::temp_dir().join(format!("weir-wit-{}-{contract}", std::process::id()));
    std::fs::create_dir_all(&wit_dir).map_err(io)?;
    std::fs::write(wit_dir.join("dataflow.wit"), wit).map_err(io)?;
    let mut command = Command::new("componentize-py");
    command
        .arg("-d")
        .arg(&wit_dir)
        .args([
            "-w",
            &format!("weir:dataflow/{}", world.name()),
            "componentize",
            "-p",
        ])
        .arg(dir);
    let main = if columns {
        // The SDK and a main module that imports the operator's module (its
        // decorator registers the function or class) and exports the SDK's
        // Transformer or Aggregator.
        let sdk = wit_dir.with_extension("sdk");
        std::fs::create_dir_all(&sdk).map_err(io)?;
        std::fs::write(sdk.join("weir.py"), PY_SDK).map_err(io)?;
        std::fs::write(sdk.join("weir_keyed.py"), PY_SDK_KEYED).map_err(io)?;
        std::fs::write(sdk.join("weir_columns.py"), PY_SDK_COLUMNS).map_err(io)?;
        std::fs::write(sdk.join("weir_batch.py"), PY_SDK_BATCH).map_err(io)?;
        std::fs::write(
            sdk.join("weir_operator_main.py"),
            format!(
                "import {module}  # noqa: F401 (registers the operator)\nfrom {}  # noqa: F401\n",
                match world {
                    World::ColumnAggregate => "weir import Aggregator",
                    World::ColumnKeyed => "weir_keyed import KeyedProcessor",
                    _ => "weir import Transformer",
                }
            ),
        )
        .map_err(io)?;
        command.arg("-p").arg(&sdk);
        "weir_operator_main"
    } else {
        module
    };
    let result = command.arg("-o").arg(&output).arg(main).output();
    let _ = std::fs::remove_dir_all(&wit_dir);
    let _ = std::fs::remove_dir_all(wit_dir.with_extension("sdk"));
    let out = result.map_err(|e| BuildError::MissingTool {
        tool: "componentize-py",
        path: dir.into(),
        problem: format!("it could not be run ({e})"),
        install: "pip install componentize-py==0.25.1",
    })?;
    if !out.status.success() {
        return Err(BuildError::Failed {
            path: dir.into(),
            output: format!("{}\n{}", tail(&out.stdout), tail(&out.stderr)),
        });
    }
    Ok(output)
}

/// Is `output` newer than every `.py` file in `dir`?
fn is_fresh(output: &Path, dir: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(output) else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .all(|p| modified(&p).is_some_and(|m| m <= built))
}

#[cfg(test)]
mod tests {
    use super::{PythonSdk, python_sdk};

    #[test]
    fn a_failed_builds_output_keeps_the_error_not_the_backtrace() {
        let out = "Traceback (most recent call last):\n  File \"main.py\", line 2\nImportError: no `x`\n\nCaused by:\n    ImportError: no `x`\n\nStack backtrace:\n   0: f\n             at python.c:1\n";
        let kept = super::tail(out.as_bytes());
        assert!(kept.ends_with("ImportError: no `x`"), "{kept}");
        assert!(!kept.contains("python.c"), "{kept}");
    }

    #[test]
    fn a_python_project_is_a_transform_an_aggregate_or_keyed_by_what_it_defines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |text: &str| {
            std::fs::write(dir.path().join("app.py"), text).expect("write");
            python_sdk(dir.path())
        };
        assert_eq!(at("from wit_world import exports\n"), None);
        assert_eq!(
            at("import weir\n\n@weir.map\ndef f(x: In) -> Out: ...\n"),
            Some(PythonSdk::Transform)
        );
        assert_eq!(
            at("import weir\n\n@weir.aggregate\nclass A: ...\n"),
            Some(PythonSdk::Aggregate)
        );
        assert_eq!(
            at("import weir\n\n@weir.keyed(emits=Out)\nclass K: ...\n"),
            Some(PythonSdk::Keyed)
        );
    }
}
