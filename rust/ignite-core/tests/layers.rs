//! The crate's layer rule, checked on its sources: each room uses only the rooms below it (the
//! list in `lib.rs`), so that imports point one way. The shared rooms (`error`, `kinds`,
//! `decimal`, `calendar`, `bytes`, `net`, `decode`) know no protocol; above them `ignite2/` and `ignite3/`
//! each have rooms of their own (Ignite 2's `format` below its `decode` below its `read`, ...),
//! and the column builders in `decode/` know no wire format. The generation rule: the two
//! generations never name each other, the shared rooms name neither, and `igfs` only Ignite 2
//! ([`generations_never_name_each_other`]). Also the habit that every module starts with a `//!`
//! header saying its job.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The rooms that know no protocol: every generation's room may use them.
const SHARED: &[&str] = &[
    "error", "kinds", "decimal", "calendar", "bytes", "net", "decode",
];

/// The rooms each room may use (its own is always allowed; a generation's rooms also the
/// [`SHARED`] ones). A generation's room is `ignite2::<folder or file>`, or the generation itself
/// for what has no room of its own there.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("kinds", &["error", "calendar"]),
    ("decimal", &[]),
    ("calendar", &[]),
    ("bytes", &["error"]),
    ("net", &["error"]),
    ("decode", &["error", "kinds"]),
    // Ignite 2, from its codes up to what the bindings use.
    ("ignite2::protocol", &[]),
    ("ignite2::wire", &["ignite2::protocol"]),
    (
        "ignite2::connection",
        &["ignite2::protocol", "ignite2::wire"],
    ),
    ("ignite2::format", &["ignite2::protocol", "ignite2::wire"]),
    (
        "ignite2::decode",
        &["ignite2::protocol", "ignite2::wire", "ignite2::format"],
    ),
    (
        "ignite2::read",
        &[
            "ignite2::protocol",
            "ignite2::wire",
            "ignite2::connection",
            "ignite2::format",
            "ignite2::decode",
        ],
    ),
    (
        "ignite2::write",
        &[
            "ignite2::protocol",
            "ignite2::wire",
            "ignite2::connection",
            "ignite2::format",
        ],
    ),
    (
        "ignite2::cluster",
        &["ignite2::protocol", "ignite2::wire", "ignite2::connection"],
    ),
    (
        "ignite2::kv",
        &[
            "ignite2::protocol",
            "ignite2::wire",
            "ignite2::connection",
            "ignite2::format",
            "ignite2::read",
        ],
    ),
    (
        "ignite2::client",
        &[
            "ignite2::protocol",
            "ignite2::connection",
            "ignite2::format",
            "ignite2::read",
            "ignite2::write",
            "ignite2::cluster",
        ],
    ),
    // Ignite 3: its codes, column types, tuples and MessagePack below the rest (connection, SQL,
    // cluster, writes), so that rows are read without a connection.
    ("ignite2", &[]),
    ("ignite3::codes", &[]),
    ("ignite3::sql_type", &["ignite3::codes"]),
    ("ignite3::tuple", &["ignite3::sql_type"]),
    ("ignite3::msgpack", &[]),
    (
        "ignite3",
        &[
            "ignite3::codes",
            "ignite3::sql_type",
            "ignite3::tuple",
            "ignite3::msgpack",
        ],
    ),
    // A file system on Ignite 2's caches.
    (
        "igfs",
        &[
            "ignite2::protocol",
            "ignite2::wire",
            "ignite2::connection",
            "ignite2::cluster",
            "ignite2::kv",
        ],
    ),
];

/// The rooms of the two generations, in a path's first segment.
const GENERATIONS: &[&str] = &["ignite2", "ignite3"];

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

/// The room a path names: its first segment, and for a generation its second too when that is a
/// room of its own (`ignite2::read::cursor` is in `ignite2::read`, `ignite3::sql` in `ignite3`).
fn room_of_segments(parts: &[&str]) -> String {
    if parts.len() > 1 && GENERATIONS.contains(&parts[0]) {
        let sub = format!("{}::{}", parts[0], parts[1]);
        if ALLOWED.iter().any(|(room, _)| *room == sub) {
            return sub;
        }
    }
    parts[0].to_string()
}

/// The room of a source file, from its path below `src`.
fn room_of(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    room_of_segments(&parts)
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
        let room = match facade.get(first) {
            Some(room) => room.clone(),
            None => {
                let parts: Vec<&str> = path.split("::").map(identifier).collect();
                room_of_segments(&parts)
            }
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
            let shared = SHARED.contains(&used.as_str()) && !SHARED.contains(&room.as_str());
            if used != room && !shared && !may.contains(&used.as_str()) {
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

/// The generations a source names through a path (`crate::ignite3::...`, `super::ignite2`,
/// `super::super::ignite3::...`, `ignite_core::ignite2`), doc links included.
fn generations_named(source: &str) -> Vec<&'static str> {
    let mut named = Vec::new();
    for generation in GENERATIONS {
        let segment = format!("::{generation}");
        for (at, _) in source.match_indices(&segment) {
            let after = &source[at + segment.len()..];
            if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue; // a longer name, e.g. `::ignite2x`
            }
            let before = &source[..at];
            let head = before
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("");
            let root = head.split("::").next().unwrap_or("");
            if matches!(root, "crate" | "super" | "ignite_core") {
                named.push(*generation);
            }
        }
    }
    named.sort();
    named.dedup();
    named
}

/// The generations the files of `room` may name: their own, and for `igfs` Ignite 2's.
fn generations_allowed(room: &str) -> &'static [&'static str] {
    match room.split("::").next().unwrap() {
        "ignite2" | "igfs" => &["ignite2"],
        "ignite3" => &["ignite3"],
        _ => &[],
    }
}

#[test]
fn generations_never_name_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let room = room_of(relative);
        if room == "lib" {
            continue;
        }
        for generation in generations_named(&fs::read_to_string(file).unwrap()) {
            if !generations_allowed(&room).contains(&generation) {
                wrong.push(format!(
                    "{} ({room}) names {generation}",
                    relative.display()
                ));
            }
        }
    }
    // The crate root exports shared names only: each generation's types by their module.
    let facade = facade(&fs::read_to_string(src.join("lib.rs")).unwrap());
    for (name, room) in &facade {
        if GENERATIONS.contains(&room.as_str()) {
            wrong.push(format!("lib.rs exports {name} of {room} at the crate root"));
        }
    }
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "against the generation rule:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_rule_sees_what_it_checks() {
    let facade =
        facade("pub use net::stream::ConnectionConfig;\npub use decode::{AlignedBuf, Batch};");
    let used = rooms_used(
        "use crate::{ConnectionConfig, error::Error};\nuse crate::ignite2::decode::x;\n[`crate::Batch`] crate::ignite3::sql::f crate::ignite3::tuple::reader::push_tuple",
        &facade,
    );
    assert_eq!(
        used,
        vec![
            "net",
            "error",
            "ignite2::decode",
            "decode",
            "ignite3",
            "ignite3::tuple"
        ]
    );
    assert_eq!(
        generations_named("use super::super::ignite3::codes;\n[`crate::ignite2::read`] ignite_core::ignite3 foo::ignite2 x_ignite3 crate::ignite2x"),
        vec!["ignite2", "ignite3"]
    );
    assert!(generations_named("use crate::net::stream::Stream; // ignite3's frames").is_empty());
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
