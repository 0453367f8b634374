//! Bindings of the IGFS file system: the handle, readers and writers. Reads land straight in the
//! caller's buffer and writes are taken from it, both without the GIL.

use std::time::Duration;

use ignite_core::igfs::{
    Entry, FileReader, FileWriter, Igfs, IgfsEnv, IgfsSettings, Kind, WriteMode,
};
use ignite_core::{Error, FsErrorKind};
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::args::seconds;
use crate::connection_spec::ConnectionSpec;
use crate::errors::{detach, invalid_argument, to_py_err, Held, IntoPyResult};

/// `(path, kind, size, block_size, modified_ms)`; kind is `"file"` or `"directory"`.
type EntryTuple = (String, &'static str, u64, u32, i64);

fn entry_tuple(path: String, entry: &Entry) -> EntryTuple {
    let (kind, block_size) = match (entry.kind(), entry.file()) {
        (Kind::File, Some(f)) => ("file", f.block_size),
        _ => ("directory", 0),
    };
    (path, kind, entry.size(), block_size, entry.modified_ms)
}

/// What the `IGFS_*` environment variables say, read by the same code as the TensorFlow
/// plugin's: `{host, hosts, port, name, username, password, block_size, tls, withheld}`, `tls`
/// None or `{ca_file, cert_file, key_file, key_password, check_hostname}`. With `addresses`
/// (`host:port` strings), as it applies to a connection there: the credentials only when they
/// are the environment's own cluster's, `withheld` saying whether some were kept back (the
/// rule is `IgfsEnv::for_addresses`). A malformed variable is an `InvalidArgumentError` naming it.
#[pyfunction]
#[pyo3(signature = (addresses=None))]
pub(crate) fn igfs_env(
    py: Python<'_>,
    addresses: Option<Vec<String>>,
) -> PyResult<Bound<'_, PyDict>> {
    let all = IgfsEnv::from_env().py_err()?;
    let env = all.for_addresses(&addresses.unwrap_or_else(|| all.addresses()));
    let out = PyDict::new(py);
    out.set_item("hosts", all.hosts())?;
    out.set_item("withheld", all.has_credentials() && !env.has_credentials())?;
    out.set_item("host", &env.host)?;
    out.set_item("port", env.port)?;
    out.set_item("name", &env.name)?;
    out.set_item("username", &env.username)?;
    out.set_item("password", &env.password)?;
    out.set_item("block_size", env.block_size)?;
    let tls = match &env.tls {
        None => None,
        Some(t) => {
            let path = |p: &Option<std::path::PathBuf>| {
                p.as_ref().map(|p| p.to_string_lossy().into_owned())
            };
            let tls = PyDict::new(py);
            tls.set_item("ca_file", path(&t.ca_file))?;
            tls.set_item("cert_file", path(&t.cert_file))?;
            tls.set_item("key_file", path(&t.key_file))?;
            tls.set_item("key_password", &t.key_password)?;
            tls.set_item("check_hostname", t.verify_hostname)?;
            Some(tls)
        }
    };
    out.set_item("tls", tls)?;
    Ok(out)
}

/// A raw pointer into a Python buffer that stays alive (and pinned) for the call.
struct RawSlice(*mut u8, usize);
// SAFETY: only to move into `detach`'s closure, which runs on this thread, within the call, while
// the `PyBuffer` that the pointer comes from keeps the buffer exported (alive, not resized).
unsafe impl Send for RawSlice {}

#[pyclass(module = "ignite_fast._native", frozen)]
pub struct NativeIgfs {
    inner: Igfs,
}

#[pymethods]
impl NativeIgfs {
    #[new]
    #[pyo3(signature = (spec, name="", block_size=1_048_576, backups=0, read_ahead=4, write_pipeline=4, lease=600.0,
                        meta_cache=None, data_cache=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        spec: &ConnectionSpec,
        name: &str,
        block_size: u32,
        backups: i32,
        read_ahead: usize,
        write_pipeline: usize,
        lease: f64,
        meta_cache: Option<String>,
        data_cache: Option<String>,
    ) -> PyResult<Self> {
        let named = IgfsSettings::named(name);
        let settings = IgfsSettings {
            meta_cache: meta_cache.unwrap_or(named.meta_cache.clone()),
            data_cache: data_cache.unwrap_or(named.data_cache.clone()),
            block_size,
            backups,
            read_ahead,
            write_pipeline,
            lease: seconds(lease, "lease")?,
            ..named
        };
        spec.connect(py, |config| Igfs::connect(config, settings))
            .map(|inner| NativeIgfs { inner })
    }

    /// `(meta cache, data cache, block size)`.
    fn layout(&self) -> (String, String, u32) {
        let s = self.inner.settings();
        (s.meta_cache.clone(), s.data_cache.clone(), s.block_size)
    }

    fn stat(&self, py: Python<'_>, path: &str) -> PyResult<EntryTuple> {
        let fs = &self.inner;
        let entry = detach(py, || fs.stat(path))?;
        let normalized = ignite_core::igfs::path::normalize(path).py_err()?;
        Ok(entry_tuple(normalized, &entry))
    }

    fn exists(&self, py: Python<'_>, path: &str) -> PyResult<bool> {
        let fs = &self.inner;
        detach(py, || fs.exists(path))
    }

    #[pyo3(signature = (path, recursive=false))]
    fn list(&self, py: Python<'_>, path: &str, recursive: bool) -> PyResult<Vec<EntryTuple>> {
        let fs = &self.inner;
        let entries = detach(py, || fs.list(path, recursive))?;
        Ok(entries
            .into_iter()
            .map(|(p, e)| entry_tuple(p, &e))
            .collect())
    }

    #[pyo3(signature = (path, parents=false, exist_ok=false))]
    fn mkdir(&self, py: Python<'_>, path: &str, parents: bool, exist_ok: bool) -> PyResult<()> {
        let fs = &self.inner;
        detach(py, || fs.mkdir(path, parents, exist_ok))
    }

    #[pyo3(signature = (path, recursive=false))]
    fn delete(&self, py: Python<'_>, path: &str, recursive: bool) -> PyResult<()> {
        let fs = &self.inner;
        detach(py, || fs.delete(path, recursive))
    }

    fn rename(&self, py: Python<'_>, src: &str, dst: &str) -> PyResult<()> {
        let fs = &self.inner;
        detach(py, || fs.rename(src, dst))
    }

    fn open(&self, py: Python<'_>, path: &str) -> PyResult<NativeFileReader> {
        let fs = &self.inner;
        let reader = detach(py, || fs.open(path))?;
        Ok(NativeFileReader {
            inner: Held::new(reader),
        })
    }

    /// `mode`: `"w"` (overwrite), `"x"` (exclusive) or `"a"` (append); `parents` creates missing
    /// directories above `path`.
    #[pyo3(signature = (path, mode, parents=false))]
    fn create(
        &self,
        py: Python<'_>,
        path: &str,
        mode: &str,
        parents: bool,
    ) -> PyResult<NativeFileWriter> {
        let mode = match mode {
            "w" => WriteMode::Overwrite,
            "x" => WriteMode::Exclusive,
            "a" => WriteMode::Append,
            other => {
                return Err(invalid_argument(format!(
                    "write mode must be 'w', 'x' or 'a', got {other:?}"
                )))
            }
        };
        let fs = &self.inner;
        let writer = detach(py, || fs.create(path, mode, parents))?;
        Ok(NativeFileWriter {
            inner: Held::new(writer),
        })
    }

    /// `(trash records, abandoned writers, blocks deleted, files restored, orphan blocks)`.
    #[pyo3(signature = (older_than, orphans=false))]
    fn gc(
        &self,
        py: Python<'_>,
        older_than: f64,
        orphans: bool,
    ) -> PyResult<(usize, usize, u64, usize, u64)> {
        let older_than: Duration = seconds(older_than, "older_than")?;
        let fs = &self.inner;
        let report = detach(py, || fs.gc(older_than, orphans))?;
        Ok((
            report.trash_records,
            report.abandoned_writers,
            report.blocks_deleted,
            report.restored,
            report.orphan_blocks,
        ))
    }
}

/// What a closed file's reader or writer raises.
const FILE_CLOSED: &str = "the file is closed";

/// Every call that may touch the network releases the GIL, however few bytes it moves: a small
/// read or write can still wait on a stalled node (a block fetched, a block put, the writer's
/// sign of life for `gc`), and must not freeze the other Python threads meanwhile. Releasing and
/// taking back the GIL costs well under a microsecond.
#[pyclass(module = "ignite_fast._native")]
pub struct NativeFileReader {
    /// Dropped without the GIL: the read-ahead answers still on the way are collected then.
    inner: Held<FileReader>,
}

#[pymethods]
impl NativeFileReader {
    #[getter]
    fn size(&self) -> u64 {
        self.inner.get().map_or(0, |r| r.size())
    }

    /// Up to `n` bytes from `offset` as a new `bytes` object, read straight into it.
    fn read_bytes<'py>(
        &mut self,
        py: Python<'py>,
        offset: u64,
        n: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let reader = self.inner.or_closed(FILE_CLOSED)?;
        let n = n.min(reader.size().saturating_sub(offset) as usize);
        PyBytes::new_with(py, n, |out| {
            let read = detach(py, || reader.read_at(offset, out))?;
            if read < n {
                return Err(to_py_err(Error::fs(
                    FsErrorKind::Corrupt,
                    format!("'{}' ended after {read} of {n} bytes", reader.path()),
                )));
            }
            Ok(())
        })
    }

    /// Reads into a writable buffer from `offset`; returns the bytes read.
    fn read_into(&mut self, py: Python<'_>, offset: u64, buffer: PyBuffer<u8>) -> PyResult<usize> {
        if buffer.readonly() || !buffer.is_c_contiguous() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "read_into needs a writable, contiguous buffer",
            ));
        }
        let reader = self.inner.or_closed(FILE_CLOSED)?;
        // The bytes the file has from `offset` on, the most `read_at` writes: the rest of the
        // buffer is left as it is.
        let n = buffer
            .len_bytes()
            .min(reader.size().saturating_sub(offset) as usize);
        let target = RawSlice(buffer.buf_ptr() as *mut u8, n);
        detach(py, move || {
            let target = target;
            // SAFETY: `buffer` keeps the Python buffer exported until this call returns: the
            // writable, contiguous `buffer.len_bytes()` >= `target.1` bytes at `target.0` stay put.
            // They may be uninitialised (numpy.empty), which a `&mut [u8]` may not point at, hence
            // zeroed first (a memset beside the copy that fills them). A Python thread that uses
            // the same buffer during the call races with it, as with CPython's own `readinto`.
            let out = unsafe {
                std::ptr::write_bytes(target.0, 0, target.1);
                std::slice::from_raw_parts_mut(target.0, target.1)
            };
            reader.read_at(offset, out)
        })
    }
}

#[pyclass(module = "ignite_fast._native")]
pub struct NativeFileWriter {
    /// Garbage-collected without `close`: the writer aborts (see `FileWriter`'s drop), talking to
    /// the cluster without the GIL.
    inner: Held<FileWriter>,
}

#[pymethods]
impl NativeFileWriter {
    fn write(&mut self, py: Python<'_>, data: PyBuffer<u8>) -> PyResult<usize> {
        if !data.is_c_contiguous() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "write needs a contiguous buffer",
            ));
        }
        let source = RawSlice(data.buf_ptr() as *mut u8, data.len_bytes());
        let n = data.len_bytes();
        let writer = self.inner.or_closed(FILE_CLOSED)?;
        detach(py, move || {
            let source = source;
            // SAFETY: `data` keeps the Python buffer exported until this call returns: the
            // contiguous `source.1` bytes at `source.0` stay put, and are only read. A Python
            // thread that writes the same buffer during the call races with it, as with CPython's
            // own `write`.
            let bytes = unsafe { std::slice::from_raw_parts(source.0 as *const u8, source.1) };
            writer.write(bytes)
        })?;
        Ok(n)
    }

    fn tell(&mut self) -> PyResult<u64> {
        Ok(self.inner.or_closed(FILE_CLOSED)?.tell())
    }

    fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        let writer = self.inner.or_closed(FILE_CLOSED)?;
        detach(py, || writer.flush())
    }

    fn sync(&mut self, py: Python<'_>) -> PyResult<()> {
        let writer = self.inner.or_closed(FILE_CLOSED)?;
        detach(py, || writer.sync())
    }

    /// Publishes the file. Closing twice is harmless.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(mut writer) = self.inner.take() else {
            return Ok(());
        };
        // The writer is dropped inside, without the GIL, too.
        detach(py, move || writer.close())
    }

    /// Drops what was written since the last publish.
    fn abort(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(mut writer) = self.inner.take() {
            crate::errors::detach_guarded(py, move || writer.abort())?;
        }
        Ok(())
    }
}
