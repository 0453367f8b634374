//! Decoder throughput without a server: builds scan pages of MNIST-shaped objects (784-byte
//! pixels + int label), tabular objects (ten numeric fields) and string-heavy objects (five
//! texts), encoded by the writer's own entry encoder and wrapped as keep-binary scans deliver
//! them, and decodes each into columns repeatedly.
//! Run: `cargo run --release -p ignite-core --example decode_bench [MNIST|tabular|string]` (an
//! argument runs only the pages whose name contains it).

use std::sync::Arc;
use std::time::Instant;

use ignite_core::decode::ColumnBuilder;
use ignite_core::ignite2::decode::push_value;
use ignite_core::ignite2::format::metadata::{BinaryType, TypeResolver};
use ignite_core::ignite2::protocol::type_code as tc;
use ignite_core::ignite2::write::binary_type::binary_type_of;
use ignite_core::ignite2::write::EntryEncoder;
use ignite_core::ignite2::WriteValues;
use ignite_core::{PrimKind, Result, WriteColumn};

struct OneType(Arc<BinaryType>);

impl TypeResolver for OneType {
    fn binary_type(&mut self, _: i32) -> Result<Arc<BinaryType>> {
        Ok(self.0.clone())
    }
    fn refresh(&mut self, id: i32) -> Result<Arc<BinaryType>> {
        self.binary_type(id)
    }
}

/// A page of `rows` entries as put-all writes them: long keys, and values objects of `type_name`
/// made of the columns `fields`, each wrapped (type code 27) as keep-binary scans deliver them.
/// Also the type's metadata, as registered by the writer.
fn page_of(type_name: &str, fields: &[(&str, WriteColumn)], rows: usize) -> (Vec<u8>, OneType) {
    let key_bytes: Vec<u8> = (0..rows as i64).flat_map(i64::to_le_bytes).collect();
    let keys = WriteColumn::Scalar {
        kind: PrimKind::I64,
        data: &key_bytes,
    };
    let fields: Vec<(String, WriteColumn)> = fields
        .iter()
        .map(|(name, column)| (name.to_string(), *column))
        .collect();
    let types = OneType(Arc::new(binary_type_of(type_name, &fields)));
    let values = WriteValues::Object {
        type_name: type_name.into(),
        fields,
    };
    let mut entries = EntryEncoder::new(&keys, &values);
    let (mut page, mut object) = (Vec::new(), Vec::new());
    for row in 0..rows {
        entries.encode_key(row, &mut page);
        object.clear();
        entries.encode_value(row, &mut object);
        page.push(tc::WRAPPED);
        page.extend_from_slice(&(object.len() as i32).to_le_bytes());
        page.extend_from_slice(&object);
        page.extend_from_slice(&0i32.to_le_bytes());
    }
    (page, types)
}

/// A column of one primitive per row: `value(row)`'s little-endian bytes.
fn scalars<const N: usize>(rows: usize, value: impl Fn(usize) -> [u8; N]) -> Vec<u8> {
    (0..rows).flat_map(value).collect()
}

/// Strings padded with NULs to the longest (numpy `S<width>`): the bytes and the width.
fn padded(texts: &[String]) -> (Vec<u8>, usize) {
    let width = texts.iter().map(String::len).max().unwrap_or(1);
    let mut data = Vec::with_capacity(width * texts.len());
    for t in texts {
        data.extend_from_slice(t.as_bytes());
        data.resize(data.len() + width - t.len(), 0);
    }
    (data, width)
}

/// Decodes `page` into key and value columns `rounds` times and prints the rate.
fn bench(what: &str, page: &[u8], types: &mut OneType, rows: usize, rounds: usize) {
    if std::env::args()
        .nth(1)
        .is_some_and(|only| !what.contains(&only))
    {
        return;
    }
    let start = Instant::now();
    for _ in 0..rounds {
        let mut key = ColumnBuilder::with_rows_hint("key", rows);
        let mut val = ColumnBuilder::with_rows_hint("val", rows);
        let mut pos = 0;
        while pos < page.len() {
            pos = push_value(&mut key, page, pos, types, 0).unwrap();
            pos = push_value(&mut val, page, pos, types, 0).unwrap();
        }
        std::hint::black_box((key.finish(None).unwrap(), val.finish(None).unwrap()));
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
    let pixels: Vec<u8> = (0..ROWS).flat_map(|i| [(i % 251) as u8; 784]).collect();
    let labels = scalars(ROWS, |i| ((i % 10) as i32).to_le_bytes());
    let (page, mut types) = page_of(
        "MnistDigit",
        &[
            (
                "pixels",
                WriteColumn::FixedArray {
                    kind: PrimKind::I8,
                    data: &pixels,
                    width: 784,
                },
            ),
            (
                "label",
                WriteColumn::Scalar {
                    kind: PrimKind::I32,
                    data: &labels,
                },
            ),
        ],
        ROWS,
    );
    bench("MNIST-shaped", &page, &mut types, ROWS, 200);

    const TABLE_ROWS: usize = 65536;
    let doubles = scalars(TABLE_ROWS, |i| (i as f64 / 7.0).to_le_bytes());
    let longs = scalars(TABLE_ROWS, |i| ((i as i64) << 20).to_le_bytes());
    let ints = scalars(TABLE_ROWS, |i| (i as i32).to_le_bytes());
    let double = WriteColumn::Scalar {
        kind: PrimKind::F64,
        data: &doubles,
    };
    let long = WriteColumn::Scalar {
        kind: PrimKind::I64,
        data: &longs,
    };
    let int = WriteColumn::Scalar {
        kind: PrimKind::I32,
        data: &ints,
    };
    let fields = [
        ("f0", double),
        ("f1", double),
        ("f2", double),
        ("f3", double),
        ("f4", double),
        ("l0", long),
        ("l1", long),
        ("l2", long),
        ("i0", int),
        ("i1", int),
    ];
    let (page, mut types) = page_of("BenchRow", &fields, TABLE_ROWS);
    bench(
        "tabular (ten numeric fields)",
        &page,
        &mut types,
        TABLE_ROWS,
        30,
    );

    // five texts of 10-80 characters, one of them not ASCII
    let text = |seed: usize, letter: &str| {
        padded(
            &(0..ROWS)
                .map(|i| letter.repeat(10 + (i * 31 + seed * 17) % 70))
                .collect::<Vec<_>>(),
        )
    };
    let texts = [
        text(0, "x"),
        text(1, "x"),
        text(2, "x"),
        text(3, "x"),
        text(4, "ü"),
    ];
    let names = ["title", "author", "body", "tag", "lang"];
    let fields: Vec<(&str, WriteColumn)> = names
        .iter()
        .zip(&texts)
        .map(|(name, (data, width))| {
            (
                *name,
                WriteColumn::Strings {
                    data,
                    width: *width,
                },
            )
        })
        .collect();
    let (page, mut types) = page_of("BenchDoc", &fields, ROWS);
    bench("string-heavy (five texts)", &page, &mut types, ROWS, 300);
}
