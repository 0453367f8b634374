//! `ignite_fast._native`: Python bindings for `ignite-core`. This crate only converts types, maps
//! errors to the exception classes of `ignite_fast.errors`, and releases the GIL around all network
//! and decode work. This file only registers; the rooms, one job each:
//! - [`errors`]: core errors as `ignite_fast.errors` exceptions (one exhaustive table), core
//!   work run without the GIL, a panic in it raised as `IgniteError` (never `PanicException`),
//!   and `Held`, a core object a Python object keeps until closed (dropped without the GIL);
//! - [`arrays`]: numpy arrays over core column buffers, without a copy;
//! - [`primitives`]: the primitive kinds by name, with their numpy dtypes;
//! - [`columns`]: core columns as the tagged tuples of `_native.pyi`;
//! - [`args`]: Python arguments as core options, SQL arguments and write columns;
//! - [`connection_spec`]: where and how to connect, shared by the client and the file system;
//! - [`client`]: the native client and its cursors; [`open_cursor`]: a cursor held by Python,
//!   stepped without the GIL, and `cursor_class!`, which declares both generations' cursor classes;
//! - [`partition_scan`]: several partitions read at once over one connection;
//! - [`igfs`]: the file system, its readers and writers;
//! - [`ignite3`]: the Ignite 3 client and its query cursors.
//!
//! The same shared object is TensorFlow's `igfs://` plugin: it re-exports `TF_InitPlugin` from
//! `ignite-tf-fs`, so the wheel carries one `.so` that `ignite_fast.tf.register_igfs_filesystem()`
//! hands to `tf.experimental.register_filesystem_plugin` (which finds the library already loaded).

use pyo3::prelude::*;

mod args;
mod arrays;
mod client;
mod columns;
mod connection_spec;
mod errors;
mod igfs;
mod ignite3;
mod open_cursor;
mod partition_scan;
mod primitives;

// Used here so that rustc links the plugin crate in (an unused dependency is left out); the
// cdylib then exports the `#[no_mangle]` symbol (`nm -D --defined-only` lists `TF_InitPlugin`).
pub use ignite_fast_tf_fs::TF_InitPlugin;

/// The name of a binary type code (`long`, `string`, `int[]`, `object`, ...).
#[pyfunction]
fn type_code_name(code: u8) -> &'static str {
    ignite_core::ignite2::protocol::type_code_name(code)
}

/// The binary type id of a type name (Ignite's default id mapper: hash of the lower-cased name).
#[pyfunction]
fn type_id(name: &str) -> i32 {
    ignite_core::ignite2::protocol::name_id(name)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<connection_spec::ConnectionSpec>()?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<client::NativeCursor>()?;
    m.add_class::<partition_scan::NativePartitionScan>()?;
    m.add_class::<arrays::ColumnBuffer>()?;
    m.add_class::<ignite3::NativeIgnite3Client>()?;
    m.add_class::<ignite3::NativeIgnite3Cursor>()?;
    m.add_class::<igfs::NativeIgfs>()?;
    m.add_class::<igfs::NativeFileReader>()?;
    m.add_class::<igfs::NativeFileWriter>()?;
    m.add_function(wrap_pyfunction!(igfs::igfs_env, m)?)?;
    m.add_function(wrap_pyfunction!(type_id, m)?)?;
    m.add_function(wrap_pyfunction!(type_code_name, m)?)?;
    m.add_function(wrap_pyfunction!(arrays::padded_strings, m)?)?;
    m.add_function(wrap_pyfunction!(arrays::string_dtype_array, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_kind_samples, m)?)?;
    m.add_function(wrap_pyfunction!(errors::panic_sample, m)?)?;
    m.add("PRIMITIVE_DTYPES", primitives::dtype_names(m.py())?)?;
    Ok(())
}
