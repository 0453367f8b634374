//! A deterministic fuzz harness that runs with `cargo test`: valid pages of many value types are
//! mutated (bytes flipped, lengths and offsets overwritten with extreme values, truncated,
//! spliced) and decoded. Every input must end in `Ok` or an `Err`: no panic, no unbounded
//! allocation, no endless loop. ITERATIONS (env `FUZZ_ITERATIONS`) bounds the run.
//!
//! Object graphs that share children (handles back to objects met before, cycles among them)
//! are generated too: a counting allocator checks that decoding them, whole or mutated, takes
//! memory bounded by the decoding budget, however far their trees would expand.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::counting::{peak_above, reset_peak, Counting};
use common::{int, object_of_ids, string, wrapped, Rng, Types};
use ignite_core::decode::{Column, ColumnBuilder, DecodeOptions};
use ignite_core::ignite2::decode::{push_value, push_value_within, Budget};
use ignite_core::ignite2::format::metadata::{BinaryType, FieldMeta};
use ignite_core::ignite2::format::values::value_end;
use ignite_core::ignite2::protocol::{name_id, schema_id, type_code as tc};
use ignite_core::ignite2::write::binary_type::binary_type_of;
use ignite_core::ignite2::write::EntryEncoder;
use ignite_core::ignite2::WriteValues;
use ignite_core::{PrimKind, Result, ScalarKind, WriteColumn};

// ---- the allocation bound ----

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Inputs per mutation test: env `FUZZ_ITERATIONS`, 20000 by default.
fn iterations() -> usize {
    common::fuzz_iterations(20_000)
}

fn field(name: &str, code: u8) -> FieldMeta {
    FieldMeta {
        name: name.into(),
        type_code: code,
        field_id: name_id(name),
    }
}

fn seed_types() -> Types {
    let fields = vec![
        field("n", tc::INT),
        field("s", tc::STRING),
        field("px", tc::BYTE_ARR),
        field("inner", tc::OBJECT),
        field("list", tc::COLLECTION),
        field("map", tc::MAP),
        field("ts", tc::TIMESTAMP),
        field("dec", tc::DECIMAL),
        field("uid", tc::UUID),
        field("again", tc::OBJECT),
    ];
    let ids: Vec<i32> = fields.iter().map(|f| f.field_id).collect();
    let inner_ids = vec![name_id("n"), name_id("s")];
    let mut map = HashMap::new();
    let rec = BinaryType {
        type_id: name_id("Rec"),
        name: "Rec".into(),
        fields,
        is_enum: false,
        enum_values: vec![],
        schemas: HashMap::from([(schema_id(&ids), ids)]),
    };
    let inner = BinaryType {
        type_id: name_id("Inner"),
        name: "Inner".into(),
        fields: vec![field("n", tc::INT), field("s", tc::STRING)],
        is_enum: false,
        enum_values: vec![],
        schemas: HashMap::from([(schema_id(&inner_ids), inner_ids)]),
    };
    map.insert(rec.type_id, Arc::new(rec));
    map.insert(inner.type_id, Arc::new(inner));
    Types(map)
}

/// A page body: (key, value) pairs of long keys and rich objects, keep-binary wrapped.
fn seed_page(rows: usize, compact: bool) -> Vec<u8> {
    let mut page = Vec::new();
    for i in 0..rows {
        page.push(tc::LONG);
        page.extend_from_slice(&(i as i64).to_le_bytes());
        let inner = object_of_ids(
            name_id("Inner"),
            &[
                (name_id("n"), &int(i as i32)),
                (name_id("s"), &string("in")),
            ],
            compact,
            None,
        );
        let mut list = vec![tc::COLLECTION, 2, 0, 0, 0, 0];
        list.extend(int(1));
        list.extend(int(2));
        let mut map = vec![tc::MAP, 1, 0, 0, 0, 1];
        map.extend(string("k"));
        map.extend(int(7));
        let mut ts = vec![tc::TIMESTAMP];
        ts.extend_from_slice(&1_600_000_000_000i64.to_le_bytes());
        ts.extend_from_slice(&123i32.to_le_bytes());
        let dec = vec![tc::DECIMAL, 2, 0, 0, 0, 2, 0, 0, 0, 0x84, 0xD2];
        let mut uid = vec![tc::UUID];
        uid.extend_from_slice(&[7u8; 16]);
        let mut px = Vec::new();
        WriteColumn::FixedArray {
            kind: PrimKind::I8,
            data: &[i as u8; 10],
            width: 10,
        }
        .encode(0, &mut px);
        // `again` is a handle back to `inner` (which starts right after the header).
        let inner_offset = 24 + int(0).len() + string("row").len() + px.len();
        let handle_pos =
            inner_offset + inner.len() + list.len() + map.len() + ts.len() + dec.len() + uid.len();
        let mut again = vec![tc::HANDLE];
        again.extend_from_slice(&((handle_pos - inner_offset) as i32).to_le_bytes());
        let object = object_of_ids(
            name_id("Rec"),
            &[
                (name_id("n"), &int(i as i32)),
                (name_id("s"), &string("row")),
                (name_id("px"), &px),
                (name_id("inner"), &inner),
                (name_id("list"), &list),
                (name_id("map"), &map),
                (name_id("ts"), &ts),
                (name_id("dec"), &dec),
                (name_id("uid"), &uid),
                (name_id("again"), &again),
            ],
            compact,
            None,
        );
        page.extend(wrapped(&object));
    }
    page
}

fn decode(page: &[u8], types: &mut Types) -> Result<usize> {
    decode_columns(page, types).map(|(key, _)| key.len())
}

/// Decodes (key, val) rows, at most 64, into a key and a value column.
fn decode_columns(page: &[u8], types: &mut Types) -> Result<(Column, Column)> {
    let mut key = ColumnBuilder::with_rows_hint("key", 8);
    let mut val = ColumnBuilder::with_rows_hint("val", 8);
    let mut pos = 0;
    let mut rows = 0;
    while pos < page.len() && rows < 64 {
        pos = push_value(&mut key, page, pos, types, 0)?;
        pos = push_value(&mut val, page, pos, types, 0)?;
        rows += 1;
    }
    Ok((key.finish(None)?, val.finish(None)?))
}

const EXTREMES: [i32; 8] = [0, 1, -1, 23, 24, i32::MAX, i32::MIN, 0x7fff_fff0];

fn mutate(rng: &mut Rng, page: &mut Vec<u8>) {
    match rng.below(5) {
        0 => {
            let i = rng.below(page.len());
            page[i] ^= 1 << rng.below(8);
        }
        1 if page.len() >= 4 => {
            // an extreme value over a length, an offset or a type id
            let i = rng.below(page.len() - 3);
            let v = EXTREMES[rng.below(EXTREMES.len())];
            page[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        2 => {
            let cut = rng.below(page.len());
            page.truncate(cut);
        }
        3 => {
            let i = rng.below(page.len());
            page[i] = [
                tc::HANDLE,
                tc::WRAPPED,
                tc::OBJECT,
                tc::MAP,
                tc::COLLECTION,
                tc::NULL,
                0,
                255,
            ][rng.below(8)];
        }
        _ => rng.copy_region(page),
    }
}

#[test]
fn seeds_decode_cleanly() {
    for compact in [true, false] {
        let page = seed_page(5, compact);
        assert_eq!(decode(&page, &mut seed_types()).unwrap(), 5);
    }
}

#[test]
fn mutated_pages_never_panic() {
    let iterations = iterations();
    let seeds = [seed_page(3, true), seed_page(3, false), seed_page(1, true)];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut errors) = (0usize, 0usize);
    for iteration in 0..iterations {
        let mut page = seeds[iteration % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            if page.is_empty() {
                break;
            }
            mutate(&mut rng, &mut page);
        }
        let mut types = seed_types();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let decoded = decode(&page, &mut types);
            let _ = value_end(&page, 0, 0);
            decoded
        }));
        match outcome {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!("iteration {iteration}: decoding panicked on {page:?}"),
        }
    }
    eprintln!("fuzz: {iterations} inputs, {ok} decoded, {errors} rejected with an error");
    assert!(
        errors > iterations / 10,
        "the mutations should break most inputs"
    );
}

/// The corpus: hostile inputs, kept as files (tests/corpus), replayed on every run. The one the
/// harness found (a decimal scale of i32::MAX, which once asked for a 2 GB string) is among them.
#[test]
fn corpus_inputs_end_in_errors_not_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "corpus at {}", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let mut types = seed_types();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let a = decode_one(&bytes, &mut types, DecodeOptions::default());
            let exact = DecodeOptions {
                decimal_as_string: true,
            };
            let b = decode_one(&bytes, &mut types, exact);
            let c = value_end(&bytes, 0, 0).map(|_| ());
            (a, b, c)
        }));
        let (a, b, c) = outcome.unwrap_or_else(|_| panic!("{} panicked", path.display()));
        // Decimals with extreme scales are valid values; everything else here is hostile.
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("decimal-") {
            assert!(a.is_err() && b.is_err(), "{name}: decoded as valid");
        }
        let _ = c;
    }
}

/// Decodes the value at the start of `bytes` into a column of its own, finished.
fn decode_one(bytes: &[u8], types: &mut Types, options: DecodeOptions) -> Result<()> {
    let mut column = ColumnBuilder::with_options("val", 4, options);
    push_value(&mut column, bytes, 0, types, 0)?;
    column.finish(None).map(drop)
}

/// Text of every UTF-8 width (and an empty one), NUL-padded to 12 bytes as the writer takes it.
const TEXTS: [&str; 4] = ["plain", "kätzchen", "日本", "\u{1F600}!"];
const ROWS: usize = 16;

/// Rows as put-all writes them: long keys, and objects of every column kind the writer takes
/// (primitives of each width, bools that are not 0 or 1, arrays, strings), every other one
/// wrapped as keep-binary scans deliver them. With the metadata the writer registers.
fn production_page(columns: &ProductionColumns) -> (Vec<u8>, Types) {
    let keys = WriteColumn::Scalar {
        kind: PrimKind::I64,
        data: &columns.keys,
    };
    let fields = columns.fields();
    let t = binary_type_of("Production", &fields);
    let values = WriteValues::Object {
        type_name: "Production".into(),
        fields,
    };
    let mut entries = EntryEncoder::new(&keys, &values);
    let (mut page, mut object) = (Vec::new(), Vec::new());
    for row in 0..ROWS {
        entries.encode_key(row, &mut page);
        object.clear();
        entries.encode_value(row, &mut object);
        if row % 2 == 0 {
            page.extend(wrapped(&object));
        } else {
            page.extend_from_slice(&object);
        }
    }
    (page, Types(HashMap::from([(t.type_id, Arc::new(t))])))
}

/// The columns of [`production_page`], as numpy would hold them.
struct ProductionColumns {
    keys: Vec<u8>,
    doubles: Vec<u8>,
    ints: Vec<u8>,
    shorts: Vec<u8>,
    chars: Vec<u8>,
    bools: Vec<u8>,
    pixels: Vec<u8>,
    floats: Vec<u8>,
    texts: Vec<u8>,
}

impl ProductionColumns {
    fn new() -> Self {
        let each = |f: &dyn Fn(usize) -> Vec<u8>| (0..ROWS).flat_map(f).collect::<Vec<u8>>();
        ProductionColumns {
            keys: each(&|r| (r as i64 * 1_000_003).to_le_bytes().to_vec()),
            doubles: each(&|r| (r as f64 / 7.0).to_le_bytes().to_vec()),
            ints: each(&|r| (r as i32 - 8).to_le_bytes().to_vec()),
            shorts: each(&|r| (r as i16 * -300).to_le_bytes().to_vec()),
            chars: each(&|r| (0x3B1 + r as u16).to_le_bytes().to_vec()),
            bools: each(&|r| vec![(r % 3) as u8 * 3]),
            pixels: each(&|r| vec![r as u8; 5]),
            floats: each(&|r| {
                [r as f32, -(r as f32)]
                    .iter()
                    .flat_map(|f| f.to_le_bytes())
                    .collect()
            }),
            texts: each(&|r| {
                let mut cell = TEXTS[r % TEXTS.len()].as_bytes().to_vec();
                if r == 5 {
                    cell.clear();
                }
                cell.resize(12, 0);
                cell
            }),
        }
    }

    fn fields(&self) -> Vec<(String, WriteColumn<'_>)> {
        vec![
            (
                "d".into(),
                WriteColumn::Scalar {
                    kind: PrimKind::F64,
                    data: &self.doubles,
                },
            ),
            (
                "i".into(),
                WriteColumn::Scalar {
                    kind: PrimKind::I32,
                    data: &self.ints,
                },
            ),
            (
                "s".into(),
                WriteColumn::Scalar {
                    kind: PrimKind::I16,
                    data: &self.shorts,
                },
            ),
            (
                "c".into(),
                WriteColumn::Scalar {
                    kind: PrimKind::Char,
                    data: &self.chars,
                },
            ),
            (
                "b".into(),
                WriteColumn::Scalar {
                    kind: PrimKind::Bool,
                    data: &self.bools,
                },
            ),
            (
                "px".into(),
                WriteColumn::FixedArray {
                    kind: PrimKind::I8,
                    data: &self.pixels,
                    width: 5,
                },
            ),
            (
                "v".into(),
                WriteColumn::FixedArray {
                    kind: PrimKind::F32,
                    data: &self.floats,
                    width: 2,
                },
            ),
            (
                "t".into(),
                WriteColumn::Strings {
                    data: &self.texts,
                    width: 12,
                },
            ),
        ]
    }
}

fn struct_field<'a>(column: &'a Column, name: &str) -> &'a Column {
    let Column::Struct { fields, .. } = column else {
        panic!("not a struct: {column:?}")
    };
    &fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .1
}

fn values_of(column: &Column) -> &[u8] {
    match column {
        Column::Scalar {
            values,
            validity: None,
            ..
        }
        | Column::FixedArray {
            values,
            validity: None,
            ..
        } => values.as_slice(),
        other => panic!("not a column of present values: {other:?}"),
    }
}

/// The fuzzer over the production encoder's output: objects put-all would write read back value
/// for value, then mutated pages of them end in a value or an error, never a panic.
#[test]
fn production_objects_round_trip_and_mutations_never_panic() {
    let columns = ProductionColumns::new();
    let (page, types) = production_page(&columns);
    let (keys, val) = decode_columns(&page, &mut Types(types.0.clone())).unwrap();
    assert_eq!(values_of(&keys), columns.keys.as_slice());
    for (name, data) in [
        ("d", &columns.doubles),
        ("i", &columns.ints),
        ("s", &columns.shorts),
        ("c", &columns.chars),
        ("px", &columns.pixels),
        ("v", &columns.floats),
    ] {
        assert_eq!(
            values_of(struct_field(&val, name)),
            data.as_slice(),
            "field {name}"
        );
    }
    let bools: Vec<u8> = columns.bools.iter().map(|&b| (b != 0) as u8).collect();
    assert_eq!(values_of(struct_field(&val, "b")), bools.as_slice());
    assert!(matches!(
        struct_field(&val, "b"),
        Column::Scalar {
            kind: ScalarKind::Prim(PrimKind::Bool),
            ..
        }
    ));
    let Column::Strings {
        offsets,
        large: false,
        data,
        ..
    } = struct_field(&val, "t")
    else {
        panic!("t is not a string column")
    };
    let ends: Vec<usize> = offsets
        .as_slice()
        .chunks(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect();
    let texts: Vec<&[u8]> = ends
        .windows(2)
        .map(|w| &data.as_slice()[w[0]..w[1]])
        .collect();
    let expected: Vec<&[u8]> = (0..ROWS)
        .map(|r| {
            if r == 5 {
                &b""[..]
            } else {
                TEXTS[r % TEXTS.len()].as_bytes()
            }
        })
        .collect();
    assert_eq!(texts, expected);

    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (mut ok, mut errors) = (0usize, 0usize);
    for iteration in 0..iterations() / 2 {
        let mut mutated = page.clone();
        for _ in 0..1 + rng.below(4) {
            if mutated.is_empty() {
                break;
            }
            mutate(&mut rng, &mut mutated);
        }
        let mut types = Types(types.0.clone());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decode_columns(&mutated, &mut types).map(|_| ())
        }));
        match outcome {
            Ok(Ok(())) => ok += 1,
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!("iteration {iteration}: decoding panicked on {mutated:?}"),
        }
    }
    eprintln!("fuzz (production objects): {ok} decoded, {errors} rejected with an error");
    assert!(
        errors > 0 && ok > 0,
        "the mutations should break some inputs and spare others"
    );
}

// ---- object graphs that share children ----

/// `Node { id, left, right, kids, label }`: two object fields, a list of nodes, a string.
fn node_types() -> Types {
    let fields = vec![
        field("id", tc::INT),
        field("left", tc::OBJECT),
        field("right", tc::OBJECT),
        field("kids", tc::COLLECTION),
        field("label", tc::STRING),
    ];
    let ids: Vec<i32> = fields.iter().map(|f| f.field_id).collect();
    let node = BinaryType {
        type_id: name_id("Node"),
        name: "Node".into(),
        fields,
        is_enum: false,
        enum_values: vec![],
        schemas: HashMap::from([(schema_id(&ids), ids)]),
    };
    Types(HashMap::from([(node.type_id, Arc::new(node))]))
}

/// A node as the generator built it: its bytes, and where the objects and strings in it start
/// (offsets from its start; the node itself at 0), for later references to point back at.
struct Built {
    bytes: Vec<u8>,
    objects: Vec<usize>,
    strings: Vec<usize>,
    /// The nodes written in place in this one (the largest shared children).
    children: Vec<usize>,
}

/// The value of one reference: null, a new node written in place, or a handle back to an
/// object met before in the enclosing node (the enclosing node itself, sometimes: a cycle).
/// `at` is where it lands, from the enclosing node's start.
fn reference(rng: &mut Rng, levels: u32, at: usize, met: &mut Built, out: &mut Vec<u8>) {
    // about one new node in three references: the graph stays small on the wire
    let choice = rng.below(12);
    if choice < 4 && levels > 0 {
        let child = node_graph(rng, levels - 1);
        met.objects.extend(child.objects.iter().map(|o| at + o));
        met.strings.extend(child.strings.iter().map(|s| at + s));
        met.children.push(at);
        out.extend(child.bytes);
    } else if choice < 6 || (met.objects.len() == 1 && rng.below(256) != 0) {
        out.push(tc::NULL);
    } else {
        // a handle to an object met before, often a child written in place here (what doubles
        // the tree at each level), rarely the node itself (a cycle)
        let earlier = if !met.children.is_empty() && rng.below(2) == 0 {
            &met.children
        } else {
            &met.objects[usize::from(met.objects.len() > 1 && rng.below(256) != 0)..]
        };
        let target = earlier[rng.below(earlier.len())];
        out.push(tc::HANDLE);
        out.extend_from_slice(&((at - target) as i32).to_le_bytes());
    }
}

/// A node of up to `levels` levels of new nodes below it, whose references point back at what
/// it met before: a random graph of shared children, small on the wire, whose tree may be
/// anything from its own size to exponentially larger (or endless, through a cycle).
fn node_graph(rng: &mut Rng, levels: u32) -> Built {
    let mut met = Built {
        bytes: Vec::new(),
        objects: vec![0],
        strings: Vec::new(),
        children: Vec::new(),
    };
    let mut values: Vec<Vec<u8>> = vec![int(rng.below(1000) as i32)];
    let mut at = 24 + values[0].len(); // fields follow the 24-byte header
    for _ in 0..2 {
        let mut v = Vec::new();
        reference(rng, levels, at, &mut met, &mut v);
        at += v.len();
        values.push(v);
    }
    let mut kids = vec![tc::COLLECTION];
    let n = rng.below(4);
    kids.extend_from_slice(&(n as i32).to_le_bytes());
    kids.push(1); // ArrayList
    at += kids.len();
    for _ in 0..n {
        let start = kids.len();
        reference(rng, levels, at, &mut met, &mut kids);
        at += kids.len() - start;
    }
    values.push(kids);
    // the label: new text, or a handle to text met before (a long text copied many times)
    values.push(if met.strings.is_empty() || rng.below(2) == 0 {
        met.strings.push(at);
        string(&"label".repeat(1 + rng.below(40)))
    } else {
        let target = met.strings[rng.below(met.strings.len())];
        let mut h = vec![tc::HANDLE];
        h.extend_from_slice(&((at - target) as i32).to_le_bytes());
        h
    });
    let ids: Vec<i32> = ["id", "left", "right", "kids", "label"]
        .iter()
        .map(|n| name_id(n))
        .collect();
    let fields: Vec<(i32, &[u8])> = ids
        .iter()
        .copied()
        .zip(values.iter().map(|v| &v[..]))
        .collect();
    met.bytes = object_of_ids(name_id("Node"), &fields, rng.below(2) == 0, None);
    met
}

/// A page of (long key, wrapped node graph) rows.
fn graph_page(rng: &mut Rng) -> Vec<u8> {
    let mut page = Vec::new();
    for key in 0..1 + rng.below(3) {
        page.push(tc::LONG);
        page.extend_from_slice(&(key as i64).to_le_bytes());
        let levels = 1 + rng.below(16) as u32;
        page.extend(wrapped(&node_graph(rng, levels).bytes));
    }
    page
}

/// The budget each generated page gets: smaller than a real page's, so that many inputs reach
/// it quickly; memory must stay within a fixed multiple of it.
const GRAPH_UNITS: u64 = 1 << 18;
/// Bytes of memory a unit of budget may take at most (under 4 are measured).
const BYTES_PER_UNIT: usize = 8;

/// Decodes a page's rows within one budget, as a cursor does.
fn decode_within(page: &[u8], types: &mut Types, budget: &mut Budget) -> Result<()> {
    let mut key = ColumnBuilder::with_rows_hint("key", 4);
    let mut val = ColumnBuilder::with_rows_hint("val", 4);
    let mut pos = 0;
    while pos < page.len() {
        pos = push_value_within(&mut key, page, pos, types, 0, budget)?;
        pos = push_value_within(&mut val, page, pos, types, 0, budget)?;
    }
    std::hint::black_box((key.finish(None)?, val.finish(None)?));
    Ok(())
}

#[test]
fn shared_children_decode_within_bounded_memory_whole_or_mutated() {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let (mut ok, mut over_budget, mut other_errors) = (0usize, 0usize, 0usize);
    let (mut largest_page, mut largest_peak) = (0, 0);
    for iteration in 0..(iterations() / 40).max(50) {
        let mut page = graph_page(&mut rng);
        if iteration % 3 == 2 {
            mutate(&mut rng, &mut page);
        }
        largest_page = largest_page.max(page.len());
        let mut types = node_types();
        let mut budget = Budget::with_limit(GRAPH_UNITS, page.len());
        let base = reset_peak();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decode_within(&page, &mut types, &mut budget)
        }));
        let peak = peak_above(base);
        largest_peak = largest_peak.max(peak);
        match outcome {
            Ok(Ok(())) => ok += 1,
            Ok(Err(_)) if budget.is_exceeded() => over_budget += 1,
            Ok(Err(_)) => other_errors += 1,
            Err(_) => panic!("iteration {iteration}: decoding panicked on {page:?}"),
        }
        assert!(
            peak <= GRAPH_UNITS as usize * BYTES_PER_UNIT,
            "iteration {iteration}: a {}-byte page took {peak} bytes to decode",
            page.len()
        );
    }
    eprintln!(
        "fuzz (shared children): {ok} decoded, {over_budget} over the budget, {other_errors} \
         other errors; pages up to {largest_page} bytes, at most {largest_peak} bytes live"
    );
    assert!(
        ok > 0 && over_budget > 0,
        "the graphs should both fit and expand past the budget"
    );
}
