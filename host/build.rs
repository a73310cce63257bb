//! Builds the dashboard's assets into the binary: every file under
//! `dashboard/dist` (what `scripts/dashboard.sh` builds with npm from
//! `dashboard/src`) becomes an entry of `OUT_DIR/dashboard_assets.rs`,
//! served by `weir serve` at `/`. A binary built before the dashboard was
//! built serves a page that says how to build it.

use std::path::{Path, PathBuf};

fn main() {
    // Read when the script runs, not when it was compiled: one compiled
    // script may serve checkouts in other places (a shared target dir).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dashboard = Path::new(&manifest).join("../dashboard");
    let dist = dashboard.join("dist");
    // A path that does not exist would rerun this on every build: watch
    // the folder `dist` appears in, and `dist` once it is there.
    println!("cargo:rerun-if-changed={}", dashboard.display());
    if dist.is_dir() {
        println!("cargo:rerun-if-changed={}", dist.display());
    }
    let mut files = Vec::new();
    collect(&dist, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&dist)
            .expect("under dist")
            .to_string_lossy()
            .replace('\\', "/");
        out.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?}) as &[u8]),\n",
            f.canonicalize().expect("listed").display().to_string()
        ));
    }
    out.push(']');
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("dashboard_assets.rs"), out).expect("writing OUT_DIR");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}
