//! Decoder throughput without a server: builds scan pages of MNIST-shaped objects (784-byte
//! pixels + int label), tabular objects (ten numeric fields) and string-heavy objects (five
//! texts), wrapped as keep-binary scans deliver them, and decodes each into columns repeatedly.
//! Run: `cargo run --release -p ignite-core --example decode_bench`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ignite_core::binary::{write_object, write_primitive_array};
use ignite_core::columns::ColumnBuilder;
use ignite_core::metadata::{BinaryType, FieldMeta, TypeResolver};
use ignite_core::protocol::{name_id, schema_id, type_code as tc};
use ignite_core::{PrimKind, Result};

struct OneType(Arc<BinaryType>);

impl TypeResolver for OneType {
    fn binary_type(&mut self, _: i32) -> Result<Arc<BinaryType>> {
        Ok(self.0.clone())
    }
    fn refresh(&mut self, id: i32) -> Result<Arc<BinaryType>> {
        self.binary_type(id)
    }
}

/// A field of a benchmark object: name, type code, and its encoded value in row i.
type FieldSpec<'a> = (&'a str, u8, &'a dyn Fn(usize) -> Vec<u8>);

/// A page of `rows` entries: long keys, values objects of `type_name` with `fields`.
fn page_of(type_name: &str, fields: &[FieldSpec], rows: usize) -> (Vec<u8>, OneType) {
    let ids: Vec<i32> = fields.iter().map(|(name, _, _)| name_id(name)).collect();
    let types = OneType(Arc::new(BinaryType {
        type_id: name_id(type_name),
        name: type_name.into(),
        fields: fields
            .iter()
            .zip(&ids)
            .map(|((name, code, _), &field_id)| FieldMeta { name: (*name).into(), type_code: *code, field_id })
            .collect(),
        is_enum: false,
        enum_values: vec![],
        schemas: HashMap::from([(schema_id(&ids), ids.clone())]),
    }));
    let mut page = Vec::new();
    for i in 0..rows {
        page.push(tc::LONG);
        page.extend_from_slice(&(i as i64).to_le_bytes());
        let values: Vec<Vec<u8>> = fields.iter().map(|(_, _, value)| value(i)).collect();
        let pairs: Vec<(i32, &[u8])> = ids.iter().copied().zip(values.iter().map(Vec::as_slice)).collect();
        let object = write_object(name_id(type_name), &pairs, true);
        page.push(tc::WRAPPED);
        page.extend_from_slice(&(object.len() as i32).to_le_bytes());
        page.extend_from_slice(&object);
        page.extend_from_slice(&0i32.to_le_bytes());
    }
    (page, types)
}

fn tagged(code: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![code];
    v.extend_from_slice(bytes);
    v
}

/// Decodes `page` into key and value columns `rounds` times and prints the rate.
fn bench(what: &str, page: &[u8], types: &mut OneType, rows: usize, rounds: usize) {
    let start = Instant::now();
    for _ in 0..rounds {
        let mut key = ColumnBuilder::with_rows_hint("key", rows);
        let mut val = ColumnBuilder::with_rows_hint("val", rows);
        let mut pos = 0;
        while pos < page.len() {
            pos = key.push_value(page, pos, types, 0).unwrap();
            pos = val.push_value(page, pos, types, 0).unwrap();
        }
        std::hint::black_box((key.finish(None), val.finish(None)));
    }
    let secs = start.elapsed().as_secs_f64();
    let total = (rounds * rows) as f64;
    println!(
        "decode {what} page: {:.0} rows/s, {:.0} MB/s of page bytes ({rows} rows x {rounds} rounds in {secs:.2}s)",
        total / secs,
        (rounds * page.len()) as f64 / secs / 1e6,
    );
}

fn main() {
    const ROWS: usize = 4096;
    let pixels = |i: usize| write_primitive_array(PrimKind::I8, &[(i % 251) as u8; 784]);
    let label = |i: usize| tagged(tc::INT, &((i % 10) as i32).to_le_bytes());
    let (page, mut types) = page_of("MnistDigit", &[("pixels", tc::BYTE_ARR, &pixels), ("label", tc::INT, &label)], ROWS);
    bench("MNIST-shaped", &page, &mut types, ROWS, 200);

    let double = |i: usize| tagged(tc::DOUBLE, &(i as f64 / 7.0).to_le_bytes());
    let long = |i: usize| tagged(tc::LONG, &((i as i64) << 20).to_le_bytes());
    let int = |i: usize| tagged(tc::INT, &(i as i32).to_le_bytes());
    let fields: [FieldSpec; 10] = [
        ("f0", tc::DOUBLE, &double), ("f1", tc::DOUBLE, &double), ("f2", tc::DOUBLE, &double),
        ("f3", tc::DOUBLE, &double), ("f4", tc::DOUBLE, &double), ("l0", tc::LONG, &long),
        ("l1", tc::LONG, &long), ("l2", tc::LONG, &long), ("i0", tc::INT, &int), ("i1", tc::INT, &int),
    ];
    let (page, mut types) = page_of("BenchRow", &fields, 65536);
    bench("tabular (ten numeric fields)", &page, &mut types, 65536, 30);

    // five texts of 10-80 characters, one of them not ASCII
    let text = |seed: usize, letter: &'static str| {
        move |i: usize| {
            let s = letter.repeat(10 + (i * 31 + seed * 17) % 70);
            let mut v = vec![tc::STRING];
            v.extend_from_slice(&(s.len() as i32).to_le_bytes());
            v.extend_from_slice(s.as_bytes());
            v
        }
    };
    let (title, author, body, tag, lang) = (text(0, "x"), text(1, "x"), text(2, "x"), text(3, "x"), text(4, "ü"));
    let fields: [FieldSpec; 5] = [
        ("title", tc::STRING, &title), ("author", tc::STRING, &author), ("body", tc::STRING, &body),
        ("tag", tc::STRING, &tag), ("lang", tc::STRING, &lang),
    ];
    let (page, mut types) = page_of("BenchDoc", &fields, 4096);
    bench("string-heavy (five texts)", &page, &mut types, 4096, 300);
}
