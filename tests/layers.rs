//! The layering of docs/architecture.md, checked on the source: the ground floor
//! (`vocab`) imports nothing of the crate; the pure model, the guard and the trace
//! stand on it without importing each other; the monitor sits above them. A `use` that
//! breaks a layer fails here with the file and the line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir` (or `dir` itself if it is a file), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// (file, line, module) of every `crate::<module>` named in code (comments skipped).
fn uses(path: &Path) -> Vec<(String, usize, String)> {
    let text = std::fs::read_to_string(path).expect("read");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((path.display().to_string(), i + 1, module));
        }
    }
    out
}

fn check(layer: &str, allowed: &[&str], except: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let dir = if root.join(layer).is_dir() {
        root.join(layer)
    } else {
        root.join(format!("{layer}.rs"))
    };
    let mut bad = Vec::new();
    for path in files(&dir) {
        let name = path.display().to_string();
        if except.iter().any(|e| name.ends_with(e)) {
            continue;
        }
        for (file, line, module) in uses(&path) {
            if module != layer && !allowed.contains(&module.as_str()) {
                bad.push(format!("{file}:{line}: {layer} uses crate::{module}"));
            }
        }
    }
    bad
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let mut bad = Vec::new();
    bad.extend(check("vocab", &[], &[]));
    // The model implements the `Stack` trait; `Pair`, its two-peer test harness, writes
    // a trace like the drivers do.
    bad.extend(check("model", &["vocab", "stack"], &["model/pair.rs"]));
    bad.extend(check("trace", &["vocab"], &[]));
    // The webrtc adapter is the guard in front of the real crate's channel.
    bad.extend(check("guard", &["vocab"], &["guard/webrtc_adapter.rs"]));
    bad.extend(check("stack", &["vocab"], &[]));
    bad.extend(check("monitor", &["vocab", "model", "trace"], &[]));
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

/// The check itself can fail: a file of the model that names the trace is caught.
#[test]
fn a_use_across_layers_is_caught() {
    let dir = std::env::temp_dir().join(format!("dcsim-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("x.rs");
    std::fs::write(
        &file,
        "// crate::trace in a comment is fine\nuse crate::trace::Trace;\n",
    )
    .expect("write");
    let found: BTreeSet<String> = uses(&file).into_iter().map(|(_, _, m)| m).collect();
    assert_eq!(found, BTreeSet::from(["trace".to_string()]));
    let _ = std::fs::remove_dir_all(&dir);
}
