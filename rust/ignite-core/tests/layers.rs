//! The crate's layer rule, checked on its sources: each room uses only the rooms below it (the
//! list in `lib.rs`), so that imports point one way. Above all, the column builders in `decode/`
//! know no wire format: only `decode/ignite2/` may use `format`, `protocol` and `net`, and
//! `decode/ignite3/` (Ignite 3's rows) none of them. Also the
//! habit that every module starts with a `//!` header saying its job.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The rooms each room may use (its own is always allowed).
const ALLOWED: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("kinds", &[]),
    ("decimal", &[]),
    ("calendar", &[]),
    ("error", &["protocol"]),
    ("net", &["error", "protocol"]),
    ("format", &["error", "protocol", "kinds", "decimal", "net"]),
    ("decode", &["error", "kinds"]),
    (
        "decode::ignite3",
        &["error", "kinds", "decimal", "calendar", "decode"],
    ),
    (
        "decode::ignite2",
        &["error", "protocol", "kinds", "net", "format", "decode"],
    ),
    (
        "read",
        &[
            "error",
            "protocol",
            "kinds",
            "decimal",
            "net",
            "format",
            "decode",
            "decode::ignite2",
        ],
    ),
    ("write", &["error", "protocol", "kinds", "net", "format"]),
    ("cluster", &["error", "protocol", "net"]),
    // Ignite 3's wire protocol: its own framing and messages on the same sockets and TLS.
    (
        "ignite3",
        &[
            "error",
            "kinds",
            "decimal",
            "calendar",
            "net",
            "decode",
            "decode::ignite3",
            "write",
        ],
    ),
    ("kv", &["error", "protocol", "net", "format", "read"]),
    (
        "igfs",
        &["error", "protocol", "kinds", "net", "cluster", "kv"],
    ),
    (
        "client",
        &[
            "error", "protocol", "kinds", "net", "format", "decode", "read", "write", "cluster",
        ],
    ),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The room of a source file: its first folder or file name (`decode/ignite2` is a room of its own).
fn room_of(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.len() > 2 && parts[0] == "decode" && (parts[1] == "ignite2" || parts[1] == "ignite3") {
        return format!("decode::{}", parts[1]);
    }
    parts[0].clone()
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The rooms a file names through `crate::` paths; names re-exported at the crate root resolve
/// through `facade` (name -> room).
fn rooms_used(source: &str, facade: &HashMap<String, String>) -> Vec<String> {
    let mut used = Vec::new();
    let mut add = |path: &str| {
        let first = identifier(path);
        let room = if first == "decode" && path.starts_with("decode::ignite2") {
            "decode::ignite2".to_string()
        } else if first == "decode" && path.starts_with("decode::ignite3") {
            "decode::ignite3".to_string()
        } else {
            facade
                .get(first)
                .cloned()
                .unwrap_or_else(|| first.to_string())
        };
        used.push(room);
    };
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').expect("a closed use group")];
            group
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .for_each(&mut add);
        } else {
            add(rest);
        }
    }
    used
}

/// `pub use room::path::{A, B};` lines of lib.rs: each name's room.
fn facade(lib: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub use ")) {
        let room = identifier(line).to_string();
        let items = line
            .rsplit("::")
            .next()
            .unwrap()
            .trim_end_matches(';')
            .trim_matches(|c| c == '{' || c == '}');
        for item in items.split(',') {
            let name = item.split(" as ").last().unwrap().trim();
            names.insert(name.to_string(), room.clone());
        }
    }
    names
}

#[test]
fn rooms_use_only_the_rooms_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let facade = facade(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let allowed: HashMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let room = room_of(relative);
        if room == "lib" {
            continue;
        }
        let may = allowed
            .get(room.as_str())
            .unwrap_or_else(|| panic!("{} is in no room the layer rule knows", relative.display()));
        for used in rooms_used(&fs::read_to_string(file).unwrap(), &facade) {
            if used != room && !may.contains(&used.as_str()) {
                wrong.push(format!("{} ({room}) uses {used}", relative.display()));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against the layer rule:\n{}",
        wrong.join("\n")
    );
    assert!(files.len() > 30, "found only {} sources", files.len());
}

#[test]
fn the_rule_sees_what_it_checks() {
    let facade =
        facade("pub use net::connection::ConnectionConfig;\npub use decode::{AlignedBuf, Batch};");
    let used = rooms_used("use crate::{ConnectionConfig, error::Error};\nuse crate::decode::ignite2::x;\n[`crate::Batch`]", &facade);
    assert_eq!(used, vec!["net", "error", "decode::ignite2", "decode"]);
}

#[test]
fn every_module_starts_with_a_header() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a //! header: {missing:?}"
    );
}
