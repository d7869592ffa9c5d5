//! The dependency rule of `pipeline/` (README, "Architecture"): each layer
//! uses only the layers below it, and the front ends only the service.
//! Checked on the source, path by path, so a shortcut fails here first.

use std::fs;
use std::path::{Path, PathBuf};

/// The layer of a top-level module of the `intake` library (or a name the
/// library root re-exports).
fn layer_of(module: &str) -> Option<&'static str> {
    Some(match module {
        "clock" | "config" | "digest" => "leaf",
        "store" => "store",
        "check" | "Checker" | "CheckRequest" => "check",
        "runtime" => "runtime",
        "service" | "Intake" => "service",
        "api" => "api",
        _ => return None,
    })
}

/// What each layer may use besides itself.
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "leaf" => &[],
        "store" => &["leaf"],
        "check" => &["leaf"],
        "runtime" => &["leaf", "check", "store"],
        "service" => &["leaf", "check", "store", "runtime"],
        "api" => &["leaf", "service"],
        "cli" => &["leaf", "service", "api"],
        _ => &[],
    }
}

/// The layer a source file belongs to, from its path under `pipeline/`.
fn file_layer(relative: &Path) -> Option<&'static str> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let module = first.strip_suffix(".rs").unwrap_or(first);
    match module {
        "cli" => Some("cli"),
        "lib" | "main" => None,
        other => layer_of(other),
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("pipeline/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named right after `prefix` (`crate::store::X` → `store`;
/// `crate::{clock, store::X}` → `clock`, `store`), with the byte offset of each.
fn named_after<'a>(text: &'a str, prefix: &str) -> Vec<(usize, &'a str)> {
    let ident_end = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(prefix) {
        let at = from + found;
        from = at + prefix.len();
        // `intake::` but not `intake_models::` or `my_intake::`.
        if text[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let after = &text[from..];
        if let Some(group) = after.strip_prefix('{') {
            // The first name of each top-level item of the group.
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        let name = &group[i..];
                        names.push((from + 1 + i, &name[..ident_end(name)]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            names.push((at, &after[..ident_end(after)]));
        }
    }
    names
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipeline");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 20, "pipeline/ sources found: {}", files.len());
    let mut broken = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under pipeline/");
        let Some(layer) = file_layer(relative) else {
            continue;
        };
        // The binary's own modules are `crate::` there; the library is `intake::`.
        let prefix = if layer == "cli" {
            "intake::"
        } else {
            "crate::"
        };
        // Comments name other layers freely; code may not.
        let code: String = fs::read_to_string(file)
            .expect("source is readable")
            .lines()
            .map(|line| match line.trim_start().starts_with("//") {
                true => "\n".to_string(),
                false => format!("{line}\n"),
            })
            .collect();
        for (offset, module) in named_after(&code, prefix) {
            let Some(used) = layer_of(module) else {
                continue;
            };
            if used != layer && !allowed(layer).contains(&used) {
                let line = code[..offset].matches('\n').count();
                let text = code.lines().nth(line).unwrap_or("").trim();
                broken.push(format!(
                    "pipeline/{}:{}: {layer} uses {used} ({text})",
                    relative.display(),
                    line + 1,
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the dependency rule (README, Architecture) is broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn a_path_names_the_module_after_its_prefix_only() {
    let code = "use intake_models::X; use crate::store::{Store}; intake::service::Intake;\n\
                use crate::{clock::Clock,\n    runtime::{a, b}, Intake};";
    let names = |prefix| -> Vec<&str> {
        named_after(code, prefix)
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    };
    assert_eq!(names("crate::"), ["store", "clock", "runtime", "Intake"]);
    assert_eq!(names("intake::"), ["service"]);
    assert_eq!(file_layer(Path::new("store/sled.rs")), Some("store"));
    assert_eq!(file_layer(Path::new("digest.rs")), Some("leaf"));
    assert_eq!(file_layer(Path::new("main.rs")), None);
}
