//! The decoder's source seam: column builders filled from plain typed values, as a reader of
//! another wire format (Ignite 3's BinaryTuple rows: fixed column types, nulls from a bitmap)
//! would fill them, give exactly the columns that decoding the same rows from Ignite 2 pages
//! gives. The Ignite 2 pages are written by the production encoders.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::Types;
use ignite_core::decode::{Batch, ColumnBuilder, DecodeOptions, FieldDecl, StructType, ValueKind};
use ignite_core::ignite2::decode::{Page, RowDecoder};
use ignite_core::ignite2::format::decimal::read_decimal;
use ignite_core::ignite2::format::metadata::FieldMeta;
use ignite_core::ignite2::protocol::type_code as tc;
use ignite_core::ignite2::wire::Reader;
use ignite_core::ignite2::write::binary_type::binary_type_of;
use ignite_core::ignite2::write::EntryEncoder;
use ignite_core::ignite2::WriteValues;
use ignite_core::{PrimKind, ScalarKind, WriteColumn};

const ROWS: usize = 5;

/// A page (`int count | values | bool more`) of `rows` rows of `columns` values each, which
/// `encode_row` appends.
fn page(rows: usize, columns: usize, mut encode_row: impl FnMut(usize, &mut Vec<u8>)) -> Page {
    let mut bytes = (rows as i32).to_le_bytes().to_vec();
    for row in 0..rows {
        encode_row(row, &mut bytes);
    }
    bytes.push(0); // no more pages
    let mut page = Page {
        bytes,
        ..Page::default()
    };
    page.start(0, columns).unwrap();
    page
}

/// Decodes every row of `page` the Ignite 2 way.
fn decode_ignite2(decoder: &RowDecoder, mut page: Page, types: &mut Types) -> Batch {
    let mut builders = decoder.builders(ROWS);
    let rows = decoder
        .decode_rows(&mut page, usize::MAX, &mut builders, types)
        .unwrap();
    page.check_consumed().unwrap();
    decoder.finish(builders, rows).unwrap()
}

fn batch(names: &[&str], builders: Vec<ColumnBuilder>, len: usize) -> Batch {
    Batch {
        columns: names
            .iter()
            .map(|n| n.to_string())
            .zip(builders.into_iter().map(|b| b.finish(None).unwrap()))
            .collect(),
        len,
    }
}

fn padded(text: &str, width: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(width, 0);
    bytes
}

// Row values of the flat table below.
fn id(row: usize) -> i64 {
    (row as i64) << 33
}
fn score(row: usize) -> Option<f64> {
    (row != 2).then_some(row as f64 / 3.0)
}
fn name(row: usize) -> Option<&'static str> {
    ["ada", "", "kätzchen", "x", "bob"]
        .get(row)
        .copied()
        .filter(|_| row != 3)
}
fn pixels(row: usize) -> [u8; 3] {
    [row as u8, 7, 255]
}
fn uid(row: usize) -> [u8; 16] {
    [row as u8 + 1; 16]
}
fn timestamp_nanos(row: usize) -> i64 {
    1_600_000_000_000 * 1_000_000 + row as i64 * 1_000_001
}
/// A decimal's body (scale, length, big-endian magnitude, sign in the top bit): 12.34 * (row + 1).
fn decimal_body(row: usize) -> Vec<u8> {
    let unscaled = 1234u16 * (row as u16 + 1);
    let mut body = 2i32.to_le_bytes().to_vec();
    body.extend_from_slice(&2i32.to_le_bytes());
    body.extend_from_slice(&unscaled.to_be_bytes());
    body
}

#[test]
fn typed_values_fill_the_same_columns_as_an_ignite2_page() {
    let names = [
        "id", "score", "name", "flag", "pixels", "uid", "ts", "price", "nothing",
    ];
    let ids: Vec<u8> = (0..ROWS).flat_map(|r| id(r).to_le_bytes()).collect();
    let px: Vec<u8> = (0..ROWS).flat_map(pixels).collect();
    let scores: Vec<u8> = (0..ROWS)
        .flat_map(|r| score(r).unwrap_or(0.0).to_le_bytes())
        .collect();
    // NUL-padded to 9 bytes (numpy S9), as the writer takes strings
    let texts: Vec<u8> = (0..ROWS)
        .flat_map(|r| padded(name(r).unwrap_or(""), 9))
        .collect();
    let id_column = WriteColumn::Scalar {
        kind: PrimKind::I64,
        data: &ids,
    };
    let score_column = WriteColumn::Scalar {
        kind: PrimKind::F64,
        data: &scores,
    };
    let name_column = WriteColumn::Strings {
        data: &texts,
        width: 9,
    };
    let pixel_column = WriteColumn::FixedArray {
        kind: PrimKind::I8,
        data: &px,
        width: 3,
    };

    // Ignite 2: an SQL fields page, one value per column, written by the writer's value encoder.
    let encode_row = |row: usize, out: &mut Vec<u8>| {
        id_column.encode(row, out);
        match score(row) {
            Some(_) => score_column.encode(row, out),
            None => out.push(tc::NULL),
        }
        match name(row) {
            Some(_) => name_column.encode(row, out),
            None => out.push(tc::NULL),
        }
        out.extend_from_slice(&[tc::BOOL, (row % 2) as u8 * 9]);
        pixel_column.encode(row, out);
        out.push(tc::UUID);
        let u = uid(row);
        out.extend_from_slice(&i64::from_be_bytes(u[..8].try_into().unwrap()).to_le_bytes());
        out.extend_from_slice(&i64::from_be_bytes(u[8..].try_into().unwrap()).to_le_bytes());
        out.push(tc::TIMESTAMP);
        let nanos = timestamp_nanos(row);
        out.extend_from_slice(&(nanos / 1_000_000).to_le_bytes());
        out.extend_from_slice(&((nanos % 1_000_000) as i32).to_le_bytes());
        out.push(tc::DECIMAL);
        out.extend_from_slice(&decimal_body(row));
        out.push(tc::NULL);
    };

    for decimal_as_string in [false, true] {
        let options = DecodeOptions { decimal_as_string };
        let decoder =
            RowDecoder::for_columns(names.iter().map(|n| n.to_string()).collect(), options);
        let expected = decode_ignite2(
            &decoder,
            page(ROWS, names.len(), encode_row),
            &mut Types(HashMap::new()),
        );

        // The same rows as plain typed values, no Ignite 2 bytes.
        let mut builders: Vec<ColumnBuilder> = names
            .iter()
            .map(|n| ColumnBuilder::with_options(*n, ROWS, options))
            .collect();
        for row in 0..ROWS {
            let [c_id, c_score, c_name, c_flag, c_pixels, c_uid, c_ts, c_price, c_nothing] =
                &mut builders[..]
            else {
                unreachable!()
            };
            c_id.push_scalar(ScalarKind::Prim(PrimKind::I64), &id(row).to_le_bytes())
                .unwrap();
            match score(row) {
                Some(v) => c_score
                    .push_scalar(ScalarKind::Prim(PrimKind::F64), &v.to_le_bytes())
                    .unwrap(),
                None => c_score.push_null(),
            }
            match name(row) {
                Some(v) => c_name.push_string(v.as_bytes()).unwrap(),
                None => c_name.push_null(),
            }
            c_flag
                .push_scalar(ScalarKind::Prim(PrimKind::Bool), &[(row % 2) as u8])
                .unwrap();
            c_pixels
                .push_prim_array(PrimKind::I8, &pixels(row))
                .unwrap();
            c_uid.push_scalar(ScalarKind::Uuid, &uid(row)).unwrap();
            c_ts.push_scalar(ScalarKind::Timestamp, &timestamp_nanos(row).to_le_bytes())
                .unwrap();
            let body = decimal_body(row);
            let decimal = read_decimal(&mut Reader::new(&body)).unwrap();
            if decimal_as_string {
                c_price
                    .push_decimal_string(&decimal.to_decimal_string())
                    .unwrap();
            } else {
                c_price
                    .push_scalar(ScalarKind::Decimal, &decimal.to_f64().to_le_bytes())
                    .unwrap();
            }
            c_nothing.push_null();
        }
        let typed = batch(&names, builders, ROWS);
        for ((name, typed), (_, expected)) in typed.columns.iter().zip(&expected.columns) {
            assert_eq!(
                typed, expected,
                "column {name}, decimal_as_string={decimal_as_string}"
            );
        }
        assert_eq!(typed, expected);
    }
}

#[test]
fn typed_values_fill_the_same_struct_column_as_ignite2_objects() {
    // Ignite 2: (key, val) rows, the values objects put-all writes, one field always null.
    let keys: Vec<u8> = (0..ROWS as i64).flat_map(i64::to_le_bytes).collect();
    let ages: Vec<u8> = (0..ROWS as i32)
        .flat_map(|a| (a + 20).to_le_bytes())
        .collect();
    let labels: Vec<u8> = (0..ROWS).flat_map(|r| padded(&r.to_string(), 2)).collect();
    let age_column = WriteColumn::Scalar {
        kind: PrimKind::I32,
        data: &ages,
    };
    let key_column = WriteColumn::Scalar {
        kind: PrimKind::I64,
        data: &keys,
    };
    let fields = vec![
        ("age".to_string(), age_column),
        (
            "label".to_string(),
            WriteColumn::Strings {
                data: &labels,
                width: 2,
            },
        ),
    ];
    let person = binary_type_of("Person", &fields);
    let mut person_with_note = person.clone();
    person_with_note.fields.push(FieldMeta {
        name: "note".into(),
        type_code: tc::LONG,
        field_id: 99,
    });
    let values = WriteValues::Object {
        type_name: "Person".into(),
        fields,
    };
    let mut entries = EntryEncoder::new(&key_column, &values);
    let ignite2_page = page(ROWS, 2, |row, out| {
        if row == 3 {
            key_column.encode(row, out);
            out.push(tc::NULL); // a null object
        } else {
            entries.encode_key(row, out);
            entries.encode_value(row, out);
        }
    });
    let decoder = scan_rows();
    let mut types = Types(HashMap::from([(
        person.type_id,
        Arc::new(person_with_note),
    )]));
    let expected = decode_ignite2(&decoder, ignite2_page, &mut types);

    // The same rows through the struct builder, from typed values and a type described by hand.
    let mut key = ColumnBuilder::with_rows_hint("key", ROWS);
    let mut val = ColumnBuilder::with_rows_hint("val", ROWS);
    let describe = || StructType {
        name: "Person".into(),
        fields: vec![
            FieldDecl {
                id: 1,
                name: "age".into(),
                declared: Some(ValueKind::Scalar(ScalarKind::Prim(PrimKind::I32))),
            },
            FieldDecl {
                id: 2,
                name: "label".into(),
                declared: Some(ValueKind::Text),
            },
            FieldDecl {
                id: 3,
                name: "note".into(),
                declared: Some(ValueKind::Scalar(ScalarKind::Prim(PrimKind::I64))),
            },
        ],
    };
    for row in 0..ROWS {
        key.push_scalar(ScalarKind::Prim(PrimKind::I64), &(row as i64).to_le_bytes())
            .unwrap();
        if row == 3 {
            val.push_null();
            continue;
        }
        val.push_struct(|s| {
            let person = match s.type_index(7) {
                Some(index) => index,
                None => s.add_type(7, || Ok(describe()))?,
            };
            // rows come as (age, label): their columns, found once
            let shape = match s.shape((7, 0)) {
                Some(shape) => shape,
                None => {
                    let columns = vec![s.field_column(1).unwrap(), s.field_column(2).unwrap()];
                    s.add_shape((7, 0), columns)
                }
            };
            let (columns_of_values, columns) = s.begin_row(person, shape);
            let (age, label) = (columns_of_values[0], columns_of_values[1]);
            columns[age].push_scalar(
                ScalarKind::Prim(PrimKind::I32),
                &(row as i32 + 20).to_le_bytes(),
            )?;
            columns[label].push_string(row.to_string().as_bytes())?;
            s.end_row();
            Ok(())
        })
        .unwrap();
    }
    assert_eq!(batch(&["key", "val"], vec![key, val], ROWS), expected);
}

/// A scan's rows: (key, val), every field decoded.
fn scan_rows() -> RowDecoder {
    RowDecoder {
        column_names: vec!["key".into(), "val".into()],
        decode: DecodeOptions::default(),
        fields: None,
        value_type: None,
        union_types: false,
        source: "cache 'seam'".into(),
    }
}
