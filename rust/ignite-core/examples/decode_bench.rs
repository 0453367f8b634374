//! Decoder throughput without a server: builds a scan page of MNIST-shaped objects (784-byte
//! pixels + int label, wrapped as keep-binary scans deliver them) and decodes it into columns
//! repeatedly. Run: `cargo run --release -p ignite-core --example decode_bench`.

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

fn main() {
    const ROWS: usize = 4096;
    let (pixels_id, label_id) = (name_id("pixels"), name_id("label"));
    let ids = vec![pixels_id, label_id];
    let mut types = OneType(Arc::new(BinaryType {
        type_id: name_id("MnistDigit"),
        name: "MnistDigit".into(),
        fields: vec![
            FieldMeta { name: "pixels".into(), type_code: tc::BYTE_ARR, field_id: pixels_id },
            FieldMeta { name: "label".into(), type_code: tc::INT, field_id: label_id },
        ],
        is_enum: false,
        enum_values: vec![],
        schemas: HashMap::from([(schema_id(&ids), ids)]),
    }));
    let mut page = Vec::new();
    for i in 0..ROWS {
        page.push(tc::LONG);
        page.extend_from_slice(&(i as i64).to_le_bytes());
        let pixels = write_primitive_array(PrimKind::I8, &[(i % 251) as u8; 784]);
        let mut label = vec![tc::INT];
        label.extend_from_slice(&((i % 10) as i32).to_le_bytes());
        let object = write_object(name_id("MnistDigit"), &[(pixels_id, &pixels), (label_id, &label)], true);
        page.push(tc::WRAPPED);
        page.extend_from_slice(&(object.len() as i32).to_le_bytes());
        page.extend_from_slice(&object);
        page.extend_from_slice(&0i32.to_le_bytes());
    }
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        let mut key = ColumnBuilder::with_rows_hint("key", ROWS);
        let mut val = ColumnBuilder::with_rows_hint("val", ROWS);
        let mut pos = 0;
        while pos < page.len() {
            pos = key.push_value(&page, pos, &mut types, 0).unwrap();
            pos = val.push_value(&page, pos, &mut types, 0).unwrap();
        }
        std::hint::black_box((key.finish(None), val.finish(None)));
    }
    let secs = start.elapsed().as_secs_f64();
    let rows = (rounds * ROWS) as f64;
    println!(
        "decode MNIST-shaped page: {:.0} rows/s, {:.0} MB/s of page bytes ({} rows x {} rounds in {:.2}s)",
        rows / secs,
        (rounds * page.len()) as f64 / secs / 1e6,
        ROWS,
        rounds,
        secs
    );
}
