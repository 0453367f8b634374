//! A TensorFlow modular file system plugin: `igfs://host:port/path` (or `igfs:///path`, the
//! cluster named by `IGFS_HOST`/`IGFS_PORT`) in `tf.io.gfile`, checkpoints, SavedModels and
//! summary writers. The Python extension (`rust/ignite-py`) links this crate in and re-exports
//! `TF_InitPlugin`, so `ignite_fast.tf.register_igfs_filesystem()` hands the extension's own .so to
//! `tf.experimental.register_filesystem_plugin`: one shared object is both.
//!
//! Every operation goes to the same [`ignite_core::igfs`] code as the Python API, so the two see
//! one file system with the same guarantees. Settings come from the `IGFS_*` environment
//! variables, read by [`IgfsEnv`] (documented in `ignite_fast.igfs`); their credentials go only
//! to the cluster `IGFS_HOST` names, never to another host a URL names. No panic crosses into
//! TensorFlow: each entry point catches it and reports `INTERNAL`.
//!
//! # Entry points
//! TensorFlow calls the `unsafe extern "C"` functions below. Its C interface
//! (`tensorflow/c/experimental/filesystem/filesystem_interface.h`) promises what their `unsafe`
//! blocks rest on, for the length of each call: pointer arguments are TensorFlow's and not null
//! unless said otherwise; paths are NUL-terminated strings; `status` is a live `TF_Status`; `fs`
//! is the file system whose `init` (`fs_init`) stored a `Box<Plugin>` in it, not yet cleaned up;
//! a file operation's `file` is one that `new_*_file` set up (a `Box<Mutex<..>>` in
//! `plugin_file`), cleaned up once, last; the file being set up and the out-arguments are
//! writable; `read`'s `buffer` has room for `n` bytes and `append`'s `data` holds `n` bytes.
//! Operations may run on several threads at once: what they share is behind a `Mutex`.

mod ffi;

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use ffi::*;
use ignite_core::igfs::{env, FileReader, FileWriter, Igfs, IgfsEnv, WriteMode};
use ignite_core::{Error, FsErrorKind};

/// One per registered file system instance: a handle per cluster address and settings.
struct Plugin {
    clusters: Mutex<HashMap<String, Igfs>>,
}

type OpResult<T> = Result<T, (i32, String)>;

fn tf_error(e: Error) -> (i32, String) {
    let code = match &e {
        Error::Fs { kind, .. } => match kind {
            FsErrorKind::NotFound => code::NOT_FOUND,
            FsErrorKind::AlreadyExists => code::ALREADY_EXISTS,
            FsErrorKind::NotADirectory
            | FsErrorKind::IsADirectory
            | FsErrorKind::DirectoryNotEmpty => code::FAILED_PRECONDITION,
            FsErrorKind::Conflict => code::ABORTED,
            FsErrorKind::Corrupt => code::DATA_LOSS,
        },
        Error::Connection(_) | Error::Tls(_) => code::UNAVAILABLE,
        Error::Timeout(_) => code::DEADLINE_EXCEEDED,
        Error::Authentication(_) => code::UNAUTHENTICATED,
        Error::InvalidArgument(_) => code::INVALID_ARGUMENT,
        Error::Protocol(_) | Error::Schema(_) | Error::UnsupportedType(_) => code::DATA_LOSS,
        Error::Server { .. } | Error::CacheNotFound(_) => code::INTERNAL,
    };
    (code, format!("igfs: {e}"))
}

/// `igfs://host:port/a/b` -> (the cluster's addresses, `/a/b`): the URL's `host:port` (a host
/// alone takes `IGFS_PORT`), or every address of the environment's cluster for `igfs:///a/b`.
fn split_uri(uri: &str, env: &IgfsEnv) -> OpResult<(Vec<String>, String)> {
    let rest = uri.strip_prefix("igfs://").ok_or_else(|| {
        (
            code::INVALID_ARGUMENT,
            format!("not an igfs:// path: {uri}"),
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addresses = if authority.is_empty() {
        env.addresses()
    } else {
        match env::split_address(authority) {
            Some((host, None)) if host.contains(':') => vec![format!("[{host}]:{}", env.port)],
            Some((host, None)) => vec![format!("{host}:{}", env.port)],
            Some(_) => vec![authority.to_string()],
            None => {
                return Err((
                    code::INVALID_ARGUMENT,
                    format!("igfs: not a host or host:port in {uri}"),
                ))
            }
        }
    };
    Ok((addresses, path.to_string()))
}

/// The cluster's addresses and the value of every `IGFS_*` variable: a handle serves one such
/// key.
fn handle_key(addresses: &[String]) -> String {
    let mut key = addresses.join(",");
    for name in env::VARIABLES {
        key.push('\0');
        key.push_str(&std::env::var(name).unwrap_or_default());
    }
    key
}

impl Plugin {
    /// The file system for `uri` and the path within it. The environment's credentials go only
    /// to its own cluster ([`IgfsEnv::for_addresses`]): a URL naming another host connects
    /// without them.
    fn resolve(&self, uri: &str) -> OpResult<(Igfs, String)> {
        let env = IgfsEnv::from_env().map_err(tf_error)?;
        let (addresses, path) = split_uri(uri, &env)?;
        let key = handle_key(&addresses);
        let mut clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fs) = clusters.get(&key) {
            return Ok((fs.clone(), path));
        }
        let config = env.connection_config(addresses.clone()).map_err(tf_error)?;
        let fs = Igfs::connect(config, env.settings())
            .map_err(|e| tf_error(env.explain(&addresses, e)))?;
        clusters.insert(key, fs.clone());
        Ok((fs, path))
    }
}

/// Runs an operation, reports its outcome in `status`, and turns a panic into `INTERNAL`.
fn run<T>(status: Status, fallback: T, op: impl FnOnce() -> OpResult<T>) -> T {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(value)) => {
            status.set(code::OK, "");
            value
        }
        Ok(Err((code, message))) => {
            status.set(code, &message);
            fallback
        }
        Err(_) => {
            status.set(code::INTERNAL, "igfs: internal error (panic) in the plugin");
            fallback
        }
    }
}

/// # Safety
/// `fs` is a file system that [`fs_init`] set up and [`fs_cleanup`] has not torn down, for `'a`.
unsafe fn plugin<'a>(fs: *const TF_Filesystem) -> &'a Plugin {
    // SAFETY: the caller's promise: `plugin_filesystem` holds the pointer of a live `Box<Plugin>`.
    unsafe { &*((*fs).plugin_filesystem as *const Plugin) }
}

/// # Safety
/// `s` is null or a NUL-terminated string, valid for the call.
unsafe fn c_str(s: *const c_char) -> OpResult<String> {
    if s.is_null() {
        return Err((code::INVALID_ARGUMENT, "null path".into()));
    }
    // SAFETY: the caller's promise; the string is copied before the call returns.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map(str::to_string)
        .map_err(|_| (code::INVALID_ARGUMENT, "path is not UTF-8".into()))
}

/// A file system operation's call: the plugin, the path and the status TensorFlow passed,
/// taken from its raw arguments once.
struct Call<'a> {
    plugin: &'a Plugin,
    uri: OpResult<String>,
    status: Status,
}

impl Call<'_> {
    /// # Safety
    /// An entry point's arguments (see "Entry points"), used within the call.
    unsafe fn new(fs: *const TF_Filesystem, uri: *const c_char, status: *mut TF_Status) -> Self {
        // SAFETY: the caller's promises.
        unsafe {
            Call {
                plugin: plugin(fs),
                uri: c_str(uri),
                status: Status::new(status),
            }
        }
    }

    /// Runs `op` on the plugin and the URI, reporting its outcome in the status.
    fn run_uri<T>(self, fallback: T, op: impl FnOnce(&Plugin, String) -> OpResult<T>) -> T {
        run(self.status, fallback, || op(self.plugin, self.uri?))
    }

    /// Runs `op` on the file system and path the URI names, reporting its outcome in the status.
    fn run<T>(self, fallback: T, op: impl FnOnce(Igfs, String) -> OpResult<T>) -> T {
        self.run_uri(fallback, |plugin, uri| {
            let (igfs, path) = plugin.resolve(&uri)?;
            op(igfs, path)
        })
    }
}

// ---- file system operations ----

unsafe extern "C" fn fs_init(fs: *mut TF_Filesystem, status: *mut TF_Status) {
    // SAFETY: TensorFlow's status for this call.
    let status = unsafe { Status::new(status) };
    run(status, (), || {
        let plugin = Box::into_raw(Box::new(Plugin {
            clusters: Mutex::new(HashMap::new()),
        }));
        // SAFETY: `fs` is the file system TensorFlow is setting up, writable for this call.
        unsafe { (*fs).plugin_filesystem = plugin as *mut c_void };
        Ok(())
    })
}

unsafe extern "C" fn fs_cleanup(fs: *mut TF_Filesystem) {
    let _ = catch_unwind(|| {
        // SAFETY: `fs` is a file system `fs_init` set up (its plugin a `Box<Plugin>`'s pointer,
        // or null), torn down once, with no other call on it running or to come.
        unsafe {
            let raw = (*fs).plugin_filesystem as *mut Plugin;
            if !raw.is_null() {
                drop(Box::from_raw(raw));
                (*fs).plugin_filesystem = std::ptr::null_mut();
            }
        }
    });
}

unsafe extern "C" fn new_random_access_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_RandomAccessFile,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        let reader = igfs.open(&path).map_err(tf_error)?;
        let reader = Box::into_raw(Box::new(Mutex::new(reader)));
        // SAFETY: `file` is the file TensorFlow asks for, writable for this call.
        unsafe { (*file).plugin_file = reader as *mut c_void };
        Ok(())
    })
}

/// # Safety
/// An entry point's arguments (see "Entry points"), used within the call.
unsafe fn new_writer(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_WritableFile,
    status: *mut TF_Status,
    mode: WriteMode,
) {
    // SAFETY: the caller's promises.
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        // Like TensorFlow's object-store file systems (gs://, s3://), writing a file does not
        // need its directory to exist first: Keras and others rely on that.
        let writer = igfs.create(&path, mode, true).map_err(tf_error)?;
        let writer = Box::into_raw(Box::new(Mutex::new(writer)));
        // SAFETY: `file` is the file TensorFlow asks for, writable for this call.
        unsafe { (*file).plugin_file = writer as *mut c_void };
        Ok(())
    })
}

unsafe extern "C" fn new_writable_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_WritableFile,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    unsafe { new_writer(fs, uri, file, status, WriteMode::Overwrite) }
}

unsafe extern "C" fn new_appendable_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_WritableFile,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    unsafe { new_writer(fs, uri, file, status, WriteMode::Append) }
}

unsafe extern "C" fn create_dir(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        igfs.mkdir(&path, false, false).map_err(tf_error)
    })
}

unsafe extern "C" fn recursively_create_dir(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        igfs.mkdir(&path, true, true).map_err(tf_error)
    })
}

/// `gfile.Remove`: a file, or an empty directory, as the original plugins did (their suites
/// remove directories this way); a directory with entries fails with "directory not empty".
unsafe extern "C" fn delete_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| igfs.delete(&path, false).map_err(tf_error))
}

/// `DeleteDir`: an empty directory only, never a file.
unsafe extern "C" fn delete_dir(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        if igfs.stat(&path).map_err(tf_error)?.children().is_none() {
            return Err((
                code::FAILED_PRECONDITION,
                format!("igfs: '{path}' is a file, not a directory"),
            ));
        }
        igfs.delete(&path, false).map_err(tf_error)
    })
}

unsafe extern "C" fn delete_recursively(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    undeleted_files: *mut u64,
    undeleted_dirs: *mut u64,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    let (files, dirs) = call.run((0u64, 1u64), |igfs, path| {
        igfs.delete(&path, true).map_err(tf_error)?;
        Ok((0, 0))
    });
    // SAFETY: TensorFlow's out-arguments, writable for this call (null checked all the same).
    unsafe {
        if !undeleted_files.is_null() {
            *undeleted_files = files;
        }
        if !undeleted_dirs.is_null() {
            *undeleted_dirs = dirs;
        }
    }
}

unsafe extern "C" fn rename_file(
    fs: *const TF_Filesystem,
    src: *const c_char,
    dst: *const c_char,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (call, dst) = unsafe { (Call::new(fs, src, status), c_str(dst)) };
    call.run_uri((), |plugin, src| {
        let env = IgfsEnv::from_env().map_err(tf_error)?;
        let (src_address, _) = split_uri(&src, &env)?;
        let (dst_address, dst_path) = split_uri(&dst?, &env)?;
        if src_address != dst_address {
            return Err((
                code::INVALID_ARGUMENT,
                "igfs: cannot rename across clusters".into(),
            ));
        }
        let (igfs, src_path) = plugin.resolve(&src)?;
        igfs.rename(&src_path, &dst_path).map_err(tf_error)
    })
}

unsafe extern "C" fn path_exists(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        match igfs.exists(&path).map_err(tf_error)? {
            true => Ok(()),
            false => Err((code::NOT_FOUND, format!("igfs: '{path}' does not exist"))),
        }
    })
}

unsafe extern "C" fn stat(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    stats: *mut TF_FileStatistics,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run((), |igfs, path| {
        let entry = igfs.stat(&path).map_err(tf_error)?;
        let value = TF_FileStatistics {
            length: entry.size() as i64,
            mtime_nsec: entry.modified_ms.saturating_mul(1_000_000),
            is_directory: entry.children().is_some(),
        };
        // SAFETY: `stats` is TensorFlow's out-argument, writable for this call.
        unsafe { stats.write(value) };
        Ok(())
    })
}

unsafe extern "C" fn is_directory(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) -> bool {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run(false, |igfs, path| {
        let entry = igfs.stat(&path).map_err(tf_error)?;
        match entry.children() {
            Some(_) => Ok(true),
            None => Err((
                code::FAILED_PRECONDITION,
                format!("igfs: '{path}' is not a directory"),
            )),
        }
    })
}

unsafe extern "C" fn get_file_size(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) -> i64 {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run(-1, |igfs, path| {
        let entry = igfs.stat(&path).map_err(tf_error)?;
        match entry.file() {
            Some(f) => Ok(f.size as i64),
            None => Err((
                code::FAILED_PRECONDITION,
                format!("igfs: '{path}' is a directory"),
            )),
        }
    })
}

/// TensorFlow hands every operation the translated name; keeping the whole URI (TensorFlow's
/// default keeps only the path) lets each operation know which cluster it is for.
unsafe extern "C" fn translate_name(_fs: *const TF_Filesystem, uri: *const c_char) -> *mut c_char {
    // SAFETY: TensorFlow's path argument, a NUL-terminated string valid for this call.
    let uri = unsafe { c_str(uri) };
    catch_unwind(|| malloc_c_string(uri.as_deref().unwrap_or(""))).unwrap_or(std::ptr::null_mut())
}

/// Copies a string into memory TensorFlow frees with `plugin_memory_free` (libc's `free`).
/// Out of memory aborts, as Rust's own allocations do: TensorFlow takes no null string.
fn malloc_c_string(s: &str) -> *mut c_char {
    // SAFETY: malloc has no precondition.
    let p = unsafe { libc::malloc(s.len() + 1) } as *mut c_char;
    if p.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::for_value(s.as_bytes()));
    }
    // SAFETY: `p` is a fresh allocation of `s.len() + 1` bytes, apart from `s`.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr() as *const c_char, p, s.len());
        p.add(s.len()).write(0);
    }
    p
}

unsafe extern "C" fn get_children(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    entries: *mut *mut *mut c_char,
    status: *mut TF_Status,
) -> c_int {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let call = unsafe { Call::new(fs, uri, status) };
    call.run(-1, |igfs, path| {
        let children = igfs.list(&path, false).map_err(tf_error)?;
        // SAFETY: malloc has no precondition (the size does not overflow: `children` holds
        // more bytes than that).
        let array =
            unsafe { libc::malloc(children.len().max(1) * std::mem::size_of::<*mut c_char>()) }
                as *mut *mut c_char;
        if array.is_null() {
            return Err((code::INTERNAL, "igfs: out of memory".into()));
        }
        for (i, (child, _)) in children.iter().enumerate() {
            let name = malloc_c_string(ignite_core::igfs::path::name(child));
            // SAFETY: `array` has room for `children.len()` pointers.
            unsafe { array.add(i).write(name) };
        }
        // SAFETY: `entries` is TensorFlow's out-argument, writable for this call.
        unsafe { entries.write(array) };
        Ok(children.len() as c_int)
    })
}

// ---- files ----

/// # Safety
/// `file` is a file that [`new_random_access_file`] set up and [`reader_cleanup`] has not torn
/// down, for `'a`.
unsafe fn reader<'a>(file: *const TF_RandomAccessFile) -> &'a Mutex<FileReader> {
    // SAFETY: the caller's promise: `plugin_file` holds a live `Box<Mutex<FileReader>>`'s pointer.
    unsafe { &*((*file).plugin_file as *const Mutex<FileReader>) }
}

/// # Safety
/// `file` is a file that [`new_writer`] set up and [`writer_cleanup`] has not torn down, for `'a`.
unsafe fn writer<'a>(file: *const TF_WritableFile) -> &'a Mutex<FileWriter> {
    // SAFETY: the caller's promise: `plugin_file` holds a live `Box<Mutex<FileWriter>>`'s pointer.
    unsafe { &*((*file).plugin_file as *const Mutex<FileWriter>) }
}

unsafe extern "C" fn reader_cleanup(file: *mut TF_RandomAccessFile) {
    let _ = catch_unwind(|| {
        // SAFETY: `file` is a file `new_random_access_file` set up (a `Box`'s pointer in it), torn
        // down once, with no other call on it running or to come.
        unsafe {
            let raw = (*file).plugin_file as *mut Mutex<FileReader>;
            if !raw.is_null() {
                drop(Box::from_raw(raw));
            }
        }
    });
}

unsafe extern "C" fn reader_read(
    file: *const TF_RandomAccessFile,
    offset: u64,
    n: usize,
    buffer: *mut c_char,
    status: *mut TF_Status,
) -> i64 {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (status, reader) = unsafe { (Status::new(status), reader(file)) };
    let read = run(status, -1, || {
        let mut reader = reader.lock().unwrap_or_else(|p| p.into_inner());
        // The bytes the file has from `offset` on, the most `read_at` writes.
        let len = n.min(reader.size().saturating_sub(offset) as usize);
        let out = if len == 0 {
            &mut [][..]
        } else {
            // SAFETY: `buffer` has room for `n` >= `len` bytes, TensorFlow's for this call. They
            // may be uninitialised (its callers' scratch is often `new char[n]`), which a
            // `&mut [u8]` may not point at, hence zeroed first (a memset beside the copy that
            // fills them).
            unsafe {
                std::ptr::write_bytes(buffer, 0, len);
                std::slice::from_raw_parts_mut(buffer as *mut u8, len)
            }
        };
        Ok(reader.read_at(offset, out).map_err(tf_error)? as i64)
    });
    if read >= 0 && (read as usize) < n {
        // What TensorFlow expects at the end of a file, along with the bytes that were read.
        status.set(code::OUT_OF_RANGE, "Read less bytes than requested");
    }
    read
}

unsafe extern "C" fn writer_cleanup(file: *mut TF_WritableFile) {
    let _ = catch_unwind(|| {
        // SAFETY: `file` is a file `new_writer` set up (a `Box`'s pointer in it), torn down once,
        // with no other call on it running or to come.
        unsafe {
            let raw = (*file).plugin_file as *mut Mutex<FileWriter>;
            if !raw.is_null() {
                drop(Box::from_raw(raw)); // a writer never closed publishes nothing
            }
        }
    });
}

unsafe extern "C" fn writer_append(
    file: *const TF_WritableFile,
    data: *const c_char,
    n: usize,
    status: *mut TF_Status,
) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (status, writer) = unsafe { (Status::new(status), writer(file)) };
    run(status, (), || {
        let bytes = if n == 0 {
            &[][..]
        } else {
            // SAFETY: `data` holds `n` bytes, TensorFlow's for this call.
            unsafe { std::slice::from_raw_parts(data as *const u8, n) }
        };
        writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(bytes)
            .map_err(tf_error)
    })
}

unsafe extern "C" fn writer_tell(file: *const TF_WritableFile, status: *mut TF_Status) -> i64 {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (status, writer) = unsafe { (Status::new(status), writer(file)) };
    run(status, -1, || {
        Ok(writer.lock().unwrap_or_else(|p| p.into_inner()).tell() as i64)
    })
}

unsafe extern "C" fn writer_flush(file: *const TF_WritableFile, status: *mut TF_Status) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (status, writer) = unsafe { (Status::new(status), writer(file)) };
    run(status, (), || {
        writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flush()
            .map_err(tf_error)
    })
}

/// TensorFlow syncs a summary writer's event file at every flush; publishing then lets
/// TensorBoard follow a run while it is being written.
unsafe extern "C" fn writer_sync(file: *const TF_WritableFile, status: *mut TF_Status) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (status, writer) = unsafe { (Status::new(status), writer(file)) };
    run(status, (), || {
        writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sync()
            .map_err(tf_error)
    })
}

unsafe extern "C" fn writer_close(file: *const TF_WritableFile, status: *mut TF_Status) {
    // SAFETY: TensorFlow's arguments (see "Entry points").
    let (status, writer) = unsafe { (Status::new(status), writer(file)) };
    run(status, (), || {
        writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .close()
            .map_err(tf_error)
    })
}

// ---- registration ----

unsafe extern "C" fn allocate(size: usize) -> *mut c_void {
    // SAFETY: malloc has no precondition.
    unsafe { libc::malloc(size) }
}

unsafe extern "C" fn free(ptr: *mut c_void) {
    // SAFETY: TensorFlow frees through this, once, only memory the plugin allocated with malloc or
    // calloc (`allocate`, `malloc_c_string`, `calloc_one`, `get_children`'s array).
    unsafe { libc::free(ptr) }
}

/// Zeroed memory for one `T`, which TensorFlow takes over and frees with `plugin_memory_free`.
/// Out of memory aborts, as Rust's own allocations do.
fn calloc_one<T>() -> *mut T {
    // SAFETY: calloc has no precondition.
    let p = unsafe { libc::calloc(1, std::mem::size_of::<T>()) } as *mut T;
    if p.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<T>());
    }
    p
}

/// The entry point TensorFlow calls when it loads the plugin.
///
/// # Safety
/// Called by TensorFlow with a valid `TF_FilesystemPluginInfo`.
#[no_mangle]
pub unsafe extern "C" fn TF_InitPlugin(info: *mut TF_FilesystemPluginInfo) {
    let _ = catch_unwind(|| {
        // SAFETY: the function's contract: `info` is TensorFlow's, writable for this call.
        let info = unsafe { &mut *info };
        info.plugin_memory_allocate = Some(allocate);
        info.plugin_memory_free = Some(free);
        if !resolve_set_status() {
            eprintln!("ignite_fast igfs plugin: TF_SetStatus not found in this process; igfs:// is not registered");
            info.num_schemes = 0;
            info.ops = std::ptr::null_mut();
            return;
        }
        let filesystem_ops = calloc_one::<TF_FilesystemOps>();
        let random_access_file_ops = calloc_one::<TF_RandomAccessFileOps>();
        let writable_file_ops = calloc_one::<TF_WritableFileOps>();
        let ops = calloc_one::<TF_FilesystemPluginOps>();
        // SAFETY: each pointer is a fresh allocation of its type's size from calloc (not null,
        // aligned for any of these structs of pointers and integers), which TensorFlow takes over.
        unsafe {
            filesystem_ops.write(TF_FilesystemOps {
                init: Some(fs_init),
                cleanup: Some(fs_cleanup),
                new_random_access_file: Some(new_random_access_file),
                new_writable_file: Some(new_writable_file),
                new_appendable_file: Some(new_appendable_file),
                new_read_only_memory_region_from_file: None,
                create_dir: Some(create_dir),
                recursively_create_dir: Some(recursively_create_dir),
                delete_file: Some(delete_file),
                delete_dir: Some(delete_dir),
                delete_recursively: Some(delete_recursively),
                rename_file: Some(rename_file),
                copy_file: None,
                path_exists: Some(path_exists),
                paths_exist: None,
                stat: Some(stat),
                is_directory: Some(is_directory),
                get_file_size: Some(get_file_size),
                translate_name: Some(translate_name),
                get_children: Some(get_children),
                get_matching_paths: None,
                flush_caches: None,
                start_transaction: None,
                end_transaction: None,
                add_to_transaction: None,
                get_transaction_for_path: None,
                get_or_start_transaction_for_path: None,
                decode_transaction_token: None,
                get_filesystem_configuration: None,
                set_filesystem_configuration: None,
                get_filesystem_configuration_option: None,
                set_filesystem_configuration_option: None,
                get_filesystem_configuration_keys: None,
            });
            random_access_file_ops.write(TF_RandomAccessFileOps {
                cleanup: Some(reader_cleanup),
                read: Some(reader_read),
            });
            writable_file_ops.write(TF_WritableFileOps {
                cleanup: Some(writer_cleanup),
                append: Some(writer_append),
                tell: Some(writer_tell),
                flush: Some(writer_flush),
                sync: Some(writer_sync),
                close: Some(writer_close),
            });
            ops.write(TF_FilesystemPluginOps {
                scheme: malloc_c_string("igfs"),
                filesystem_ops_abi: 0,
                filesystem_ops_api: 0,
                filesystem_ops_size: std::mem::size_of::<TF_FilesystemOps>(),
                filesystem_ops,
                random_access_file_ops_abi: 0,
                random_access_file_ops_api: 0,
                random_access_file_ops_size: std::mem::size_of::<TF_RandomAccessFileOps>(),
                random_access_file_ops,
                writable_file_ops_abi: 0,
                writable_file_ops_api: 0,
                writable_file_ops_size: std::mem::size_of::<TF_WritableFileOps>(),
                writable_file_ops,
                read_only_memory_region_ops_abi: 0,
                read_only_memory_region_ops_api: 0,
                read_only_memory_region_ops_size: std::mem::size_of::<TF_ReadOnlyMemoryRegionOps>(),
                read_only_memory_region_ops: std::ptr::null_mut(),
            });
        }
        info.num_schemes = 1;
        info.ops = ops;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_uris() {
        let env = IgfsEnv::from_lookup(|name| (name == "IGFS_PORT").then(|| "10850".to_string()))
            .unwrap();
        let split = |uri| split_uri(uri, &env).unwrap();
        let one = |address: &str, path: &str| (vec![address.to_string()], path.to_string());
        assert_eq!(split("igfs://h:1/a/b"), one("h:1", "/a/b"));
        assert_eq!(split("igfs://h:1"), one("h:1", "/"));
        assert_eq!(split("igfs://h/a"), one("h:10850", "/a"));
        assert_eq!(split("igfs://[::1]/a"), one("[::1]:10850", "/a"));
        assert_eq!(split("igfs://[::1]:7/a"), one("[::1]:7", "/a"));
        assert_eq!(split("igfs:///a/"), one("127.0.0.1:10850", "/a/"));
        assert!(split_uri("gs://x/y", &env).is_err());
        assert!(split_uri("igfs://h:port/y", &env).is_err());
        let listed =
            IgfsEnv::from_lookup(|name| (name == "IGFS_HOST").then(|| "a,b:2".to_string()))
                .unwrap();
        assert_eq!(
            split_uri("igfs:///x", &listed).unwrap().0,
            ["a:10800", "b:2"]
        );
    }

    #[test]
    fn struct_sizes_match_the_c_header() {
        // 33 function pointers in TF_FilesystemOps, 2 and 6 in the file ops (64-bit).
        assert_eq!(std::mem::size_of::<TF_FilesystemOps>(), 33 * 8);
        assert_eq!(std::mem::size_of::<TF_RandomAccessFileOps>(), 2 * 8);
        assert_eq!(std::mem::size_of::<TF_WritableFileOps>(), 6 * 8);
        assert_eq!(std::mem::size_of::<TF_FilesystemPluginOps>(), 8 + 4 * 24);
    }
}
