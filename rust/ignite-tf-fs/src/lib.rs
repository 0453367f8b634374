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
    fn resolve(&self, uri: *const c_char) -> OpResult<(Igfs, String)> {
        let uri = c_str(uri)?;
        let env = IgfsEnv::from_env().map_err(tf_error)?;
        let (addresses, path) = split_uri(&uri, &env)?;
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
fn run<T>(status: *mut TF_Status, fallback: T, op: impl FnOnce() -> OpResult<T>) -> T {
    match catch_unwind(AssertUnwindSafe(op)) {
        Ok(Ok(value)) => {
            set_status(status, code::OK, "");
            value
        }
        Ok(Err((code, message))) => {
            set_status(status, code, &message);
            fallback
        }
        Err(_) => {
            set_status(
                status,
                code::INTERNAL,
                "igfs: internal error (panic) in the plugin",
            );
            fallback
        }
    }
}

unsafe fn plugin<'a>(fs: *const TF_Filesystem) -> &'a Plugin {
    &*((*fs).plugin_filesystem as *const Plugin)
}

fn c_str(s: *const c_char) -> OpResult<String> {
    if s.is_null() {
        return Err((code::INVALID_ARGUMENT, "null path".into()));
    }
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map(str::to_string)
        .map_err(|_| (code::INVALID_ARGUMENT, "path is not UTF-8".into()))
}

// ---- file system operations ----

unsafe extern "C" fn fs_init(fs: *mut TF_Filesystem, status: *mut TF_Status) {
    run(status, (), || {
        let plugin = Box::new(Plugin {
            clusters: Mutex::new(HashMap::new()),
        });
        (*fs).plugin_filesystem = Box::into_raw(plugin) as *mut c_void;
        Ok(())
    })
}

unsafe extern "C" fn fs_cleanup(fs: *mut TF_Filesystem) {
    let _ = catch_unwind(|| {
        let raw = (*fs).plugin_filesystem as *mut Plugin;
        if !raw.is_null() {
            drop(Box::from_raw(raw));
            (*fs).plugin_filesystem = std::ptr::null_mut();
        }
    });
}

unsafe extern "C" fn new_random_access_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_RandomAccessFile,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        let reader = igfs.open(&path).map_err(tf_error)?;
        (*file).plugin_file = Box::into_raw(Box::new(Mutex::new(reader))) as *mut c_void;
        Ok(())
    })
}

unsafe fn new_writer(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_WritableFile,
    status: *mut TF_Status,
    mode: WriteMode,
) {
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        // Like TensorFlow's object-store file systems (gs://, s3://), writing a file does not
        // need its directory to exist first: Keras and others rely on that.
        let writer = igfs.create(&path, mode, true).map_err(tf_error)?;
        (*file).plugin_file = Box::into_raw(Box::new(Mutex::new(writer))) as *mut c_void;
        Ok(())
    })
}

unsafe extern "C" fn new_writable_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_WritableFile,
    status: *mut TF_Status,
) {
    new_writer(fs, uri, file, status, WriteMode::Overwrite)
}

unsafe extern "C" fn new_appendable_file(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    file: *mut TF_WritableFile,
    status: *mut TF_Status,
) {
    new_writer(fs, uri, file, status, WriteMode::Append)
}

unsafe extern "C" fn create_dir(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        igfs.mkdir(&path, false, false).map_err(tf_error)
    })
}

unsafe extern "C" fn recursively_create_dir(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
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
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        igfs.delete(&path, false).map_err(tf_error)
    })
}

/// `DeleteDir`: an empty directory only, never a file.
unsafe extern "C" fn delete_dir(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
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
    let (files, dirs) = run(status, (0u64, 1u64), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        igfs.delete(&path, true).map_err(tf_error)?;
        Ok((0, 0))
    });
    if !undeleted_files.is_null() {
        *undeleted_files = files;
    }
    if !undeleted_dirs.is_null() {
        *undeleted_dirs = dirs;
    }
}

unsafe extern "C" fn rename_file(
    fs: *const TF_Filesystem,
    src: *const c_char,
    dst: *const c_char,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let env = IgfsEnv::from_env().map_err(tf_error)?;
        let (src_address, _) = split_uri(&c_str(src)?, &env)?;
        let (dst_address, dst_path) = split_uri(&c_str(dst)?, &env)?;
        if src_address != dst_address {
            return Err((
                code::INVALID_ARGUMENT,
                "igfs: cannot rename across clusters".into(),
            ));
        }
        let (igfs, src_path) = plugin(fs).resolve(src)?;
        igfs.rename(&src_path, &dst_path).map_err(tf_error)
    })
}

unsafe extern "C" fn path_exists(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
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
    run(status, (), || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        let entry = igfs.stat(&path).map_err(tf_error)?;
        *stats = TF_FileStatistics {
            length: entry.size() as i64,
            mtime_nsec: entry.modified_ms.saturating_mul(1_000_000),
            is_directory: entry.children().is_some(),
        };
        Ok(())
    })
}

unsafe extern "C" fn is_directory(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    status: *mut TF_Status,
) -> bool {
    run(status, false, || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
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
    run(status, -1, || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
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
    catch_unwind(|| match c_str(uri) {
        Ok(uri) => malloc_c_string(&uri),
        Err(_) => malloc_c_string(""),
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Copies a string into memory TensorFlow frees with `plugin_memory_free` (libc's `free`).
unsafe fn malloc_c_string(s: &str) -> *mut c_char {
    let p = libc::malloc(s.len() + 1) as *mut c_char;
    if !p.is_null() {
        std::ptr::copy_nonoverlapping(s.as_ptr() as *const c_char, p, s.len());
        *p.add(s.len()) = 0;
    }
    p
}

unsafe extern "C" fn get_children(
    fs: *const TF_Filesystem,
    uri: *const c_char,
    entries: *mut *mut *mut c_char,
    status: *mut TF_Status,
) -> c_int {
    run(status, -1, || {
        let (igfs, path) = plugin(fs).resolve(uri)?;
        let children = igfs.list(&path, false).map_err(tf_error)?;
        let array = libc::malloc(children.len().max(1) * std::mem::size_of::<*mut c_char>())
            as *mut *mut c_char;
        if array.is_null() {
            return Err((code::INTERNAL, "igfs: out of memory".into()));
        }
        for (i, (child, _)) in children.iter().enumerate() {
            *array.add(i) = malloc_c_string(ignite_core::igfs::path::name(child));
        }
        *entries = array;
        Ok(children.len() as c_int)
    })
}

// ---- files ----

unsafe fn reader<'a>(file: *const TF_RandomAccessFile) -> &'a Mutex<FileReader> {
    &*((*file).plugin_file as *const Mutex<FileReader>)
}

unsafe fn writer<'a>(file: *const TF_WritableFile) -> &'a Mutex<FileWriter> {
    &*((*file).plugin_file as *const Mutex<FileWriter>)
}

unsafe extern "C" fn reader_cleanup(file: *mut TF_RandomAccessFile) {
    let _ = catch_unwind(|| {
        let raw = (*file).plugin_file as *mut Mutex<FileReader>;
        if !raw.is_null() {
            drop(Box::from_raw(raw));
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
    let read = run(status, -1, || {
        let out = if n == 0 {
            &mut [][..]
        } else {
            std::slice::from_raw_parts_mut(buffer as *mut u8, n)
        };
        let mut reader = reader(file).lock().unwrap_or_else(|p| p.into_inner());
        Ok(reader.read_at(offset, out).map_err(tf_error)? as i64)
    });
    if read >= 0 && (read as usize) < n {
        // What TensorFlow expects at the end of a file, along with the bytes that were read.
        set_status(status, code::OUT_OF_RANGE, "Read less bytes than requested");
    }
    read
}

unsafe extern "C" fn writer_cleanup(file: *mut TF_WritableFile) {
    let _ = catch_unwind(|| {
        let raw = (*file).plugin_file as *mut Mutex<FileWriter>;
        if !raw.is_null() {
            drop(Box::from_raw(raw)); // a writer never closed publishes nothing
        }
    });
}

unsafe extern "C" fn writer_append(
    file: *const TF_WritableFile,
    data: *const c_char,
    n: usize,
    status: *mut TF_Status,
) {
    run(status, (), || {
        let bytes = if n == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(data as *const u8, n)
        };
        writer(file)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(bytes)
            .map_err(tf_error)
    })
}

unsafe extern "C" fn writer_tell(file: *const TF_WritableFile, status: *mut TF_Status) -> i64 {
    run(status, -1, || {
        Ok(writer(file)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tell() as i64)
    })
}

unsafe extern "C" fn writer_flush(file: *const TF_WritableFile, status: *mut TF_Status) {
    run(status, (), || {
        writer(file)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flush()
            .map_err(tf_error)
    })
}

/// TensorFlow syncs a summary writer's event file at every flush; publishing then lets
/// TensorBoard follow a run while it is being written.
unsafe extern "C" fn writer_sync(file: *const TF_WritableFile, status: *mut TF_Status) {
    run(status, (), || {
        writer(file)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sync()
            .map_err(tf_error)
    })
}

unsafe extern "C" fn writer_close(file: *const TF_WritableFile, status: *mut TF_Status) {
    run(status, (), || {
        writer(file)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .close()
            .map_err(tf_error)
    })
}

// ---- registration ----

unsafe extern "C" fn allocate(size: usize) -> *mut c_void {
    libc::malloc(size)
}

unsafe extern "C" fn free(ptr: *mut c_void) {
    libc::free(ptr)
}

/// `calloc` for one `T`, which TensorFlow takes over and frees with `plugin_memory_free`.
unsafe fn calloc_one<T>() -> *mut T {
    libc::calloc(1, std::mem::size_of::<T>()) as *mut T
}

/// The entry point TensorFlow calls when it loads the plugin.
///
/// # Safety
/// Called by TensorFlow with a valid `TF_FilesystemPluginInfo`.
#[no_mangle]
pub unsafe extern "C" fn TF_InitPlugin(info: *mut TF_FilesystemPluginInfo) {
    let _ = catch_unwind(|| {
        (*info).plugin_memory_allocate = Some(allocate);
        (*info).plugin_memory_free = Some(free);
        if !resolve_set_status() {
            eprintln!("ignite_fast igfs plugin: TF_SetStatus not found in this process; igfs:// is not registered");
            (*info).num_schemes = 0;
            (*info).ops = std::ptr::null_mut();
            return;
        }
        let filesystem_ops = calloc_one::<TF_FilesystemOps>();
        let random_access_file_ops = calloc_one::<TF_RandomAccessFileOps>();
        let writable_file_ops = calloc_one::<TF_WritableFileOps>();
        let ops = calloc_one::<TF_FilesystemPluginOps>();
        *filesystem_ops = TF_FilesystemOps {
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
        };
        *random_access_file_ops = TF_RandomAccessFileOps {
            cleanup: Some(reader_cleanup),
            read: Some(reader_read),
        };
        *writable_file_ops = TF_WritableFileOps {
            cleanup: Some(writer_cleanup),
            append: Some(writer_append),
            tell: Some(writer_tell),
            flush: Some(writer_flush),
            sync: Some(writer_sync),
            close: Some(writer_close),
        };
        *ops = TF_FilesystemPluginOps {
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
        };
        (*info).num_schemes = 1;
        (*info).ops = ops;
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
