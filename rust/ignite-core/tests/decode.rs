//! Decoding hand-built binary objects into columns: both footer kinds, every offset width,
//! handles, wrapped objects, nulls and schema evolution, objects that share children (copies
//! within the page's budget, a schema error past it), and hostile bytes that must end in an
//! error rather than a panic, a hang or a wrong value.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{int, object, string, Types};
use ignite_core::decode::{Batch, Column, ColumnBuilder, DecodeOptions};
use ignite_core::ignite2::decode::{push_value, Page, RowDecoder};
use ignite_core::ignite2::format::metadata::{BinaryType, FieldMeta};
use ignite_core::ignite2::protocol::{name_id, schema_id, type_code as tc};
use ignite_core::{Error, PrimKind, Result, ScalarKind};

/// A type for the tests: name, fields (name, type code), and its schemas (field names in order).
type TypeDef<'a> = (&'a str, &'a [(&'a str, u8)], &'a [&'a [&'a str]]);

fn types(defs: &[TypeDef]) -> Types {
    let mut map = HashMap::new();
    for (name, fields, schemas) in defs {
        let type_id = name_id(name);
        let fields: Vec<FieldMeta> = fields
            .iter()
            .map(|(n, code)| FieldMeta {
                name: n.to_string(),
                type_code: *code,
                field_id: name_id(n),
            })
            .collect();
        let schemas = schemas
            .iter()
            .map(|names| {
                let ids: Vec<i32> = names.iter().map(|n| name_id(n)).collect();
                (schema_id(&ids), ids)
            })
            .collect();
        map.insert(
            type_id,
            Arc::new(BinaryType {
                type_id,
                name: name.to_string(),
                fields,
                is_enum: false,
                enum_values: vec![],
                schemas,
            }),
        );
    }
    Types(map)
}

fn bytes_array(v: &[u8]) -> Vec<u8> {
    let mut b = vec![tc::BYTE_ARR];
    b.extend_from_slice(&(v.len() as i32).to_le_bytes());
    b.extend_from_slice(v);
    b
}

fn decode_all(values: &[Vec<u8>], types: &mut Types) -> Result<Column> {
    let buf: Vec<u8> = values.concat();
    let mut col = ColumnBuilder::new("val");
    let mut pos = 0;
    while pos < buf.len() {
        pos = push_value(&mut col, &buf, pos, types, 0)?;
    }
    col.finish(None)
}

fn field<'a>(col: &'a Column, name: &str) -> &'a Column {
    match col {
        Column::Struct { fields, .. } => &fields.iter().find(|(n, _)| n == name).expect("field").1,
        other => panic!("not a struct: {other:?}"),
    }
}

fn i32s(col: &Column) -> Vec<i32> {
    match col {
        Column::Scalar {
            kind: ScalarKind::Prim(PrimKind::I32),
            values,
            ..
        } => values
            .as_slice()
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        other => panic!("not an int column: {other:?}"),
    }
}

fn strings(col: &Column) -> Vec<String> {
    match col {
        Column::Strings {
            offsets,
            large: false,
            data,
            ..
        } => {
            let ends: Vec<usize> = offsets
                .as_slice()
                .chunks(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as usize)
                .collect();
            ends.windows(2)
                .map(|w| String::from_utf8(data.as_slice()[w[0]..w[1]].to_vec()).unwrap())
                .collect()
        }
        other => panic!("not a string column: {other:?}"),
    }
}

fn validity(col: &Column) -> Option<Vec<u8>> {
    match col {
        Column::Scalar { validity, .. } | Column::Strings { validity, .. } => {
            validity.as_ref().map(|v| v.as_slice().to_vec())
        }
        other => panic!("no validity: {other:?}"),
    }
}

fn person_types() -> Types {
    types(&[(
        "Person",
        &[("age", tc::INT), ("name", tc::STRING)],
        &[&["age", "name"], &["name", "age"], &["name"]],
    )])
}

#[test]
fn compact_and_full_footers_with_every_offset_width() {
    for compact in [true, false] {
        for offset_size in [1, 2, 4] {
            let rows: Vec<Vec<u8>> = (0..3)
                .map(|i| {
                    object(
                        "Person",
                        &[("age", int(30 + i)), ("name", string(&format!("p{i}")))],
                        compact,
                        offset_size,
                    )
                })
                .collect();
            let col = decode_all(&rows, &mut person_types()).unwrap();
            assert_eq!(
                i32s(field(&col, "age")),
                vec![30, 31, 32],
                "compact={compact} offset={offset_size}"
            );
            assert_eq!(strings(field(&col, "name")), vec!["p0", "p1", "p2"]);
        }
    }
}

#[test]
fn fields_are_found_by_schema_not_position_and_missing_ones_are_null() {
    let rows = vec![
        object("Person", &[("age", int(1)), ("name", string("a"))], true, 1),
        object("Person", &[("name", string("b")), ("age", int(2))], true, 1),
        object("Person", &[("name", string("c"))], true, 1),
        object(
            "Person",
            &[("name", string("d")), ("age", int(4))],
            false,
            4,
        ),
    ];
    let col = decode_all(&rows, &mut person_types()).unwrap();
    assert_eq!(i32s(field(&col, "age")), vec![1, 2, 0, 4]);
    assert_eq!(validity(field(&col, "age")), Some(vec![1, 1, 0, 1]));
    assert_eq!(strings(field(&col, "name")), vec!["a", "b", "c", "d"]);
    assert_eq!(validity(field(&col, "name")), None);
}

#[test]
fn null_values_and_null_objects_are_masked() {
    let rows = vec![
        object(
            "Person",
            &[("age", vec![tc::NULL]), ("name", string("x"))],
            true,
            1,
        ),
        vec![tc::NULL],
        object("Person", &[("age", int(7)), ("name", string("y"))], true, 1),
    ];
    let col = decode_all(&rows, &mut person_types()).unwrap();
    assert_eq!(validity(field(&col, "age")), Some(vec![0, 0, 1]));
    assert_eq!(validity(field(&col, "name")), Some(vec![1, 0, 1]));
    assert_eq!(col.len(), 3);
}

#[test]
fn handles_and_wrapped_objects_resolve_to_their_targets() {
    let mut t = types(&[
        (
            "Pair",
            &[("first", tc::OBJECT), ("second", tc::OBJECT)],
            &[&["first", "second"]],
        ),
        (
            "Person",
            &[("age", tc::INT), ("name", tc::STRING)],
            &[&["age", "name"]],
        ),
    ]);
    let inner = object(
        "Person",
        &[("age", int(5)), ("name", string("shared"))],
        true,
        1,
    );
    // `second` is a handle pointing back to `first` (which starts at offset 24 of the pair).
    let handle_pos = 24 + inner.len();
    let mut handle = vec![tc::HANDLE];
    handle.extend_from_slice(&((handle_pos - 24) as i32).to_le_bytes());
    let pair = object(
        "Pair",
        &[("first", inner.clone()), ("second", handle)],
        true,
        4,
    );
    // The pair again, wrapped in a type-27 envelope as keep-binary scans deliver it.
    let wrapped = common::wrapped(&pair);
    let col = decode_all(&[pair, wrapped], &mut t).unwrap();
    for side in ["first", "second"] {
        assert_eq!(i32s(field(field(&col, side), "age")), vec![5, 5]);
        assert_eq!(
            strings(field(field(&col, side), "name")),
            vec!["shared", "shared"]
        );
    }
}

#[test]
fn primitive_arrays_are_two_dimensional_when_uniform() {
    let mut t = types(&[("Img", &[("px", tc::BYTE_ARR)], &[&["px"]])]);
    let fixed: Vec<Vec<u8>> = (0..4)
        .map(|i| object("Img", &[("px", bytes_array(&[i; 3]))], true, 1))
        .collect();
    match field(&decode_all(&fixed, &mut t).unwrap(), "px") {
        Column::FixedArray {
            width, len, values, ..
        } => {
            assert_eq!((*width, *len), (3, 4));
            assert_eq!(values.as_slice(), &[0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        }
        other => panic!("{other:?}"),
    }
    let ragged: Vec<Vec<u8>> = (0..3)
        .map(|i| object("Img", &[("px", bytes_array(&vec![9; i]))], true, 1))
        .collect();
    match field(&decode_all(&ragged, &mut t).unwrap(), "px") {
        Column::VarArray { offsets, len, .. } => {
            assert_eq!(*len, 3);
            let offs: Vec<i64> = (0..4).map(|i| offsets.i64_at(i)).collect();
            assert_eq!(offs, vec![0, 0, 1, 3]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_types_in_one_column_is_a_schema_error() {
    let err = decode_all(&[int(1), string("x")], &mut person_types()).unwrap_err();
    assert!(
        matches!(err, Error::Schema(ref m) if m.contains("both int and string")),
        "{err}"
    );
}

fn expect_protocol_error(bytes: Vec<u8>, mut t: Types) {
    match decode_all(&[bytes], &mut t) {
        Err(Error::Protocol(_)) => {}
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn hostile_bytes_end_in_protocol_errors() {
    let good = object("Person", &[("age", int(1)), ("name", string("a"))], true, 1);
    // Every truncation of a valid object.
    for cut in 1..good.len() {
        let mut t = person_types();
        let buf = &good[..cut];
        let mut col = ColumnBuilder::new("val");
        assert!(
            push_value(&mut col, buf, 0, &mut t, 0).is_err(),
            "truncated at {cut}"
        );
    }
    // Total length larger than the data.
    let mut long = good.clone();
    long[12..16].copy_from_slice(&1000i32.to_le_bytes());
    expect_protocol_error(long, person_types());
    // A field offset pointing into the header.
    let mut into_header = good.clone();
    let footer_at = good.len() - 2;
    into_header[footer_at] = 3;
    expect_protocol_error(into_header, person_types());
    // A field offset pointing into the footer.
    let mut into_footer = good.clone();
    into_footer[footer_at] = (good.len() - 1) as u8;
    expect_protocol_error(into_footer, person_types());
    // Schema offset outside the object.
    let mut bad_schema = good.clone();
    bad_schema[20..24].copy_from_slice(&(-5i32).to_le_bytes());
    expect_protocol_error(bad_schema, person_types());
    // Negative string length.
    let mut neg = vec![tc::STRING];
    neg.extend_from_slice(&(-1i32).to_le_bytes());
    expect_protocol_error(neg, person_types());
    // A huge array length must not allocate.
    let mut huge = vec![tc::LONG_ARR];
    huge.extend_from_slice(&i32::MAX.to_le_bytes());
    expect_protocol_error(huge, person_types());
    // A handle pointing at itself, and one pointing before the buffer.
    expect_protocol_error(vec![tc::HANDLE, 0, 0, 0, 0], person_types());
    expect_protocol_error(vec![tc::HANDLE, 9, 0, 0, 0], person_types());
    // Invalid UTF-8 in a string.
    expect_protocol_error(vec![tc::STRING, 2, 0, 0, 0, 0xff, 0xfe], person_types());
    // A wrapped object whose inner offset lies outside it.
    let mut wrapped = vec![tc::WRAPPED, 1, 0, 0, 0, tc::NULL];
    wrapped.extend_from_slice(&7i32.to_le_bytes());
    expect_protocol_error(wrapped, person_types());
}

#[test]
fn text_fields_that_are_not_utf8_are_protocol_errors_wherever_they_lie() {
    let name = |bytes: &[u8]| {
        let mut b = vec![tc::STRING];
        b.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
        b.extend_from_slice(bytes);
        b
    };
    let person =
        |bytes: &[u8]| object("Person", &[("age", int(1)), ("name", name(bytes))], true, 1);
    let good = "ü".repeat(60);
    for bad_row in [0, 1, 250, 399] {
        for bad in [&b"\xFF"[..], b"a\xC3", b"\xBCb", b"\xE2\x82"] {
            let mut rows: Vec<(i64, Vec<u8>)> =
                (0..400).map(|k| (k, person(good.as_bytes()))).collect();
            rows[bad_row].1 = person(bad);
            match decode_page(&rows, &mut person_types()) {
                Err(Error::Protocol(m)) => assert!(m.contains("column 'val.name'"), "{m}"),
                other => panic!("row {bad_row} {bad:?}: expected a protocol error, got {other:?}"),
            }
        }
    }
    // A character split over two rows' strings is two bad strings, though their bytes join.
    let mut rows: Vec<(i64, Vec<u8>)> = (0..4).map(|k| (k, person(b"ok"))).collect();
    rows[1].1 = person(b"a\xC3");
    rows[2].1 = person(b"\xBCb");
    assert!(matches!(
        decode_page(&rows, &mut person_types()),
        Err(Error::Protocol(_))
    ));
    rows[2].1 = person(good.as_bytes());
    let batch = decode_page(&rows[2..], &mut person_types()).unwrap();
    assert_eq!(
        strings(field(val_of(&batch), "name")),
        [good.as_str(), "ok"]
    );
}

#[test]
fn unknown_type_codes_are_errors_not_guesses() {
    let mut t = person_types();
    let mut col = ColumnBuilder::new("val");
    let err = push_value(&mut col, &[200, 0, 0, 0], 0, &mut t, 0).unwrap_err();
    assert!(matches!(err, Error::UnsupportedType(_)), "{err}");
}

#[test]
fn handle_chains_and_deep_nesting_are_bounded() {
    // A chain of handles each pointing to the previous one, ending at an int: fine when short,
    // an error (not a stack overflow) when longer than the nesting limit.
    for (n, ok) in [(10usize, true), (500, false)] {
        let mut buf = int(42);
        for _ in 0..n {
            // Each handle points 5 bytes back: at the previous handle (or the int).
            buf.push(tc::HANDLE);
            buf.extend_from_slice(&5i32.to_le_bytes());
        }
        let mut t = person_types();
        let mut col = ColumnBuilder::new("val");
        let last = buf.len() - 5;
        let result = push_value(&mut col, &buf, last, &mut t, 0);
        assert_eq!(result.is_ok(), ok, "chain of {n}");
    }
}

fn tagged(code: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![code];
    v.extend_from_slice(bytes);
    v
}

fn scalar_bytes(col: &Column) -> Vec<u8> {
    match col {
        Column::Scalar { values, .. } => values.as_slice().to_vec(),
        other => panic!("not a scalar column: {other:?}"),
    }
}

#[test]
fn numeric_fields_of_every_width_keep_their_bytes_and_a_late_conflict_is_an_error() {
    // Object fields of a known primitive kind take the decoder's short path after the first
    // row; values of every width, nulls and bools between them must come out exactly.
    let row_types = || {
        types(&[(
            "Row",
            &[
                ("s", tc::SHORT),
                ("i", tc::INT),
                ("l", tc::LONG),
                ("d", tc::DOUBLE),
                ("b", tc::BOOL),
            ],
            &[&["s", "i", "l", "d", "b"]],
        )])
    };
    let row = |k: i64| {
        let s = if k == 2 {
            vec![tc::NULL]
        } else {
            tagged(tc::SHORT, &(-3 * k as i16).to_le_bytes())
        };
        object(
            "Row",
            &[
                ("s", s),
                ("i", int(k as i32 * 1_000_003)),
                ("l", tagged(tc::LONG, &(k << 40).to_le_bytes())),
                ("d", tagged(tc::DOUBLE, &(k as f64 / 3.0).to_le_bytes())),
                ("b", tagged(tc::BOOL, &[if k % 2 == 0 { 0 } else { 7 }])),
            ],
            true,
            1,
        )
    };
    let rows: Vec<Vec<u8>> = (0..5).map(row).collect();
    let col = decode_all(&rows, &mut row_types()).unwrap();
    let expect = |f: &dyn Fn(i64) -> Vec<u8>| (0..5).flat_map(f).collect::<Vec<u8>>();
    assert_eq!(
        scalar_bytes(field(&col, "s")),
        expect(&|k| if k == 2 {
            vec![0, 0]
        } else {
            (-3 * k as i16).to_le_bytes().to_vec()
        })
    );
    assert_eq!(validity(field(&col, "s")), Some(vec![1, 1, 0, 1, 1]));
    assert_eq!(
        i32s(field(&col, "i")),
        (0..5).map(|k| k * 1_000_003).collect::<Vec<i32>>()
    );
    assert_eq!(
        scalar_bytes(field(&col, "l")),
        expect(&|k| (k << 40).to_le_bytes().to_vec())
    );
    assert_eq!(
        scalar_bytes(field(&col, "d")),
        expect(&|k| (k as f64 / 3.0).to_le_bytes().to_vec())
    );
    assert_eq!(scalar_bytes(field(&col, "b")), vec![0, 1, 0, 1, 0]); // any non-zero byte is true

    // A long where the int field held ints: a conflict, not a misread.
    let mut late = rows.clone();
    late.push(object(
        "Row",
        &[
            ("s", tagged(tc::SHORT, &1i16.to_le_bytes())),
            ("i", tagged(tc::LONG, &5i64.to_le_bytes())),
            ("l", tagged(tc::LONG, &1i64.to_le_bytes())),
            ("d", tagged(tc::DOUBLE, &1f64.to_le_bytes())),
            ("b", tagged(tc::BOOL, &[1])),
        ],
        true,
        1,
    ));
    assert!(decode_all(&late, &mut row_types()).is_err());
}

// ---- objects that share children ----

/// `Node { id, left, right }`, and `Node { id, kids }` (a list) as a second schema.
fn node_types() -> Types {
    types(&[(
        "Node",
        &[
            ("id", tc::INT),
            ("left", tc::OBJECT),
            ("right", tc::OBJECT),
            ("kids", tc::COLLECTION),
        ],
        &[&["id", "left", "right"], &["id", "kids"]],
    )])
}

fn handle_back(back: usize) -> Vec<u8> {
    let mut h = vec![tc::HANDLE];
    h.extend_from_slice(&(back as i32).to_le_bytes());
    h
}

fn node(id: i32, left: Vec<u8>, right: Vec<u8>) -> Vec<u8> {
    object(
        "Node",
        &[("id", int(id)), ("left", left), ("right", right)],
        true,
        4,
    )
}

/// An ArrayList (collection kind 1) of encoded elements.
fn list_of(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut l = vec![tc::COLLECTION];
    l.extend_from_slice(&(elements.len() as i32).to_le_bytes());
    l.push(1);
    l.extend(elements.concat());
    l
}

/// Node `levels` has both children the same node `levels - 1` (the right one a handle back to
/// the left one), down to a leaf: as Java writes `n.left = n.right = child`. 2^levels leaves as
/// a tree. `in_list`: a list of four references instead (4^levels leaves).
fn shared_levels(levels: i32, in_list: bool) -> Vec<u8> {
    let mut n = node(0, vec![tc::NULL], vec![tc::NULL]);
    for id in 1..=levels {
        let len = n.len(); // each handle points back over the child and the handles before it
        n = if in_list {
            let kids = list_of(&[
                n,
                handle_back(len),
                handle_back(len + 5),
                handle_back(len + 10),
            ]);
            object("Node", &[("id", int(id)), ("kids", kids)], true, 4)
        } else {
            node(id, n, handle_back(len))
        };
    }
    n
}

/// Decodes a scan page of (key, val) rows as a cursor does, one budget for the page.
fn decode_page(rows: &[(i64, Vec<u8>)], types: &mut Types) -> Result<Batch> {
    let mut bytes = (rows.len() as i32).to_le_bytes().to_vec();
    for (key, val) in rows {
        bytes.push(tc::LONG);
        bytes.extend_from_slice(&key.to_le_bytes());
        bytes.extend(common::wrapped(val));
    }
    bytes.push(0); // no more pages
    let decoder = RowDecoder {
        column_names: vec!["key".into(), "val".into()],
        decode: DecodeOptions::default(),
        fields: None,
        value_type: None,
        union_types: false,
        source: "cache 'graphs'".into(),
    };
    let mut page = Page {
        bytes,
        ..Page::default()
    };
    page.start(0, 2)?;
    let mut builders = decoder.builders(rows.len());
    let n = decoder.decode_rows(&mut page, rows.len(), &mut builders, types)?;
    page.check_consumed()?;
    decoder.finish(builders, n)
}

fn val_of(batch: &Batch) -> &Column {
    &batch.columns.iter().find(|(n, _)| n == "val").unwrap().1
}

fn list_child(col: &Column) -> &Column {
    match col {
        Column::List { child, .. } => child,
        other => panic!("not a list: {other:?}"),
    }
}

/// The ids of each row's list of nodes.
fn list_ids(col: &Column) -> Vec<Vec<i32>> {
    let Column::List { offsets, child, .. } = col else {
        panic!("not a list: {col:?}");
    };
    let offsets: Vec<usize> = offsets
        .as_slice()
        .chunks(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect();
    let ids = i32s(field(child, "id"));
    offsets
        .windows(2)
        .map(|w| ids[w[0]..w[1]].to_vec())
        .collect()
}

#[test]
fn a_few_shared_children_decode_as_copies() {
    // root { left: a, right: b { left: -> a, right: c }, kids: [-> a, -> c, -> b] }, where -> is
    // a handle: each reference reads as a copy of its target. Positions are relative to the
    // root's `left` field (a), which the id's 5 bytes precede.
    let a = node(2, vec![tc::NULL], vec![tc::NULL]);
    let c = node(4, vec![tc::NULL], vec![tc::NULL]);
    let a_at = 0;
    let b_at = a.len();
    let b_left_at = b_at + 24 + 5; // b's header and id
    let b = node(3, handle_back(b_left_at - a_at), c);
    let c_at = b_left_at + 5;
    let first_kid_at = b_at + b.len() + 6; // the list's code, count and kind
    let kids = list_of(&[
        handle_back(first_kid_at - a_at),
        handle_back(first_kid_at + 5 - c_at),
        handle_back(first_kid_at + 10 - b_at),
    ]);
    let root = object(
        "Node",
        &[("id", int(1)), ("left", a), ("right", b), ("kids", kids)],
        true,
        4,
    );
    let mut t = types(&[(
        "Node",
        &[
            ("id", tc::INT),
            ("left", tc::OBJECT),
            ("right", tc::OBJECT),
            ("kids", tc::COLLECTION),
        ],
        &[&["id", "left", "right", "kids"], &["id", "left", "right"]],
    )]);
    let batch = decode_page(&[(7, root)], &mut t).unwrap();
    let val = val_of(&batch);
    assert_eq!(i32s(field(val, "id")), vec![1]);
    assert_eq!(i32s(field(field(val, "left"), "id")), vec![2]);
    let right = field(val, "right");
    assert_eq!(i32s(field(right, "id")), vec![3]);
    assert_eq!(i32s(field(field(right, "left"), "id")), vec![2]);
    assert_eq!(i32s(field(field(right, "right"), "id")), vec![4]);
    assert_eq!(list_ids(field(val, "kids")), vec![vec![2, 4, 3]]);
    // the copy of b in the list keeps b's own children
    let kids = list_child(field(val, "kids"));
    assert_eq!(i32s(field(field(kids, "left"), "id"))[2], 2);
    assert_eq!(i32s(field(field(kids, "right"), "id"))[2], 4);
}

#[test]
fn moderately_shared_levels_decode_whole() {
    // 2^8 leaves (4^4 in lists) from a few hundred bytes: within the budget, every copy there.
    for (in_list, levels) in [(false, 8), (true, 4)] {
        let value = shared_levels(levels, in_list);
        let batch = decode_page(&[(1, value)], &mut node_types()).unwrap();
        let mut col = val_of(&batch);
        for level in (0..=levels).rev() {
            if in_list {
                // one list column per depth, holding every copy at that depth
                let ids = i32s(field(col, "id"));
                assert_eq!(ids.len(), 1 << (2 * (levels - level)));
                assert!(ids.iter().all(|&id| id == level));
                if level > 0 {
                    col = list_child(field(col, "kids"));
                }
            } else {
                // a struct column per path: one row per root
                assert_eq!(i32s(field(col, "id")), vec![level]);
                if level > 0 {
                    for side in ["left", "right"] {
                        assert_eq!(i32s(field(field(col, side), "id")), vec![level - 1]);
                    }
                    col = field(col, "left");
                }
            }
        }
    }
}

fn assert_budget_error(result: Result<Batch>) {
    match result {
        Err(Error::Schema(m)) => {
            assert!(
                m.starts_with("cache 'graphs': objects that share children"),
                "{m}"
            );
            assert!(m.contains("decoding limit of"), "{m}");
        }
        other => panic!("expected the budget's schema error, got {other:?}"),
    }
}

#[test]
fn exponentially_shared_children_are_a_schema_error_naming_the_cache_and_the_limit() {
    // Thirty levels of two fields (15 of four list elements): about 1.5 KB, 2^30 leaves as a
    // tree. Before the budget this grew to tens of gigabytes; now it stops at the page's limit.
    for (in_list, levels) in [(false, 30), (true, 15)] {
        let value = shared_levels(levels, in_list);
        assert!(value.len() < 2000, "{} bytes", value.len());
        assert_budget_error(decode_page(&[(1, value)], &mut node_types()));
    }
    // The budget is the page's: rows that each fit add up. A row here is a 4 KB text and a list
    // of 100 handles to it: some 400,000 units, adding 16 a byte of its 4.6 KB to the limit.
    let text = string(&"x".repeat(4096));
    let copies: Vec<Vec<u8>> = (0..100)
        .map(|j| handle_back(text.len() + 6 + 5 * j))
        .collect();
    let doc = object(
        "Doc",
        &[("text", text), ("copies", list_of(&copies))],
        true,
        4,
    );
    let doc_types = || {
        types(&[(
            "Doc",
            &[("text", tc::STRING), ("copies", tc::COLLECTION)],
            &[&["text", "copies"]],
        )])
    };
    let rows: Vec<(i64, Vec<u8>)> = (0..60).map(|k| (k, doc.clone())).collect();
    let batch = decode_page(&rows[..1], &mut doc_types()).unwrap();
    let copies = list_child(field(val_of(&batch), "copies"));
    assert_eq!(strings(copies), vec!["x".repeat(4096); 100]);
    assert_budget_error(decode_page(&rows, &mut doc_types()));
}

#[test]
fn footer_entries_aliasing_one_child_are_bounded_too() {
    // No handles: both footer entries of each level point at the same inline child.
    let mut n = node(0, vec![tc::NULL], vec![tc::NULL]);
    for id in 1..=30 {
        n = node(id, n, vec![tc::NULL]);
        // compact footer of 4-byte offsets (id, left, right): right's offset := left's
        let footer = i32::from_le_bytes(n[20..24].try_into().unwrap()) as usize;
        let left_offset: [u8; 4] = n[footer + 4..footer + 8].try_into().unwrap();
        n[footer + 8..footer + 12].copy_from_slice(&left_offset);
    }
    assert_budget_error(decode_page(&[(1, n)], &mut node_types()));
}
