//! The C interface of TensorFlow's modular file systems
//! (`tensorflow/c/experimental/filesystem/filesystem_interface.h`), written out in Rust, and the
//! one TensorFlow function a plugin calls: `TF_SetStatus`, looked up in the running process.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

/// Opaque: TensorFlow's status object.
#[repr(C)]
pub struct TF_Status {
    _private: [u8; 0],
}

#[repr(C)]
pub struct TF_Filesystem {
    pub plugin_filesystem: *mut c_void,
}

#[repr(C)]
pub struct TF_RandomAccessFile {
    pub plugin_file: *mut c_void,
}

#[repr(C)]
pub struct TF_WritableFile {
    pub plugin_file: *mut c_void,
}

#[repr(C)]
pub struct TF_FileStatistics {
    pub length: i64,
    pub mtime_nsec: i64,
    pub is_directory: bool,
}

/// A slot this plugin leaves empty (TensorFlow then uses its generic implementation or reports
/// "unimplemented"); all function pointers have the same size.
pub type Unused = Option<unsafe extern "C" fn()>;

#[repr(C)]
pub struct TF_RandomAccessFileOps {
    pub cleanup: Option<unsafe extern "C" fn(*mut TF_RandomAccessFile)>,
    pub read: Option<
        unsafe extern "C" fn(
            *const TF_RandomAccessFile,
            u64,
            usize,
            *mut c_char,
            *mut TF_Status,
        ) -> i64,
    >,
}

#[repr(C)]
pub struct TF_WritableFileOps {
    pub cleanup: Option<unsafe extern "C" fn(*mut TF_WritableFile)>,
    pub append:
        Option<unsafe extern "C" fn(*const TF_WritableFile, *const c_char, usize, *mut TF_Status)>,
    pub tell: Option<unsafe extern "C" fn(*const TF_WritableFile, *mut TF_Status) -> i64>,
    pub flush: Option<unsafe extern "C" fn(*const TF_WritableFile, *mut TF_Status)>,
    pub sync: Option<unsafe extern "C" fn(*const TF_WritableFile, *mut TF_Status)>,
    pub close: Option<unsafe extern "C" fn(*const TF_WritableFile, *mut TF_Status)>,
}

#[repr(C)]
pub struct TF_ReadOnlyMemoryRegionOps {
    pub cleanup: Unused,
    pub data: Unused,
    pub length: Unused,
}

type PathOp = Option<unsafe extern "C" fn(*const TF_Filesystem, *const c_char, *mut TF_Status)>;

#[repr(C)]
pub struct TF_FilesystemOps {
    pub init: Option<unsafe extern "C" fn(*mut TF_Filesystem, *mut TF_Status)>,
    pub cleanup: Option<unsafe extern "C" fn(*mut TF_Filesystem)>,
    pub new_random_access_file: Option<
        unsafe extern "C" fn(
            *const TF_Filesystem,
            *const c_char,
            *mut TF_RandomAccessFile,
            *mut TF_Status,
        ),
    >,
    pub new_writable_file: Option<
        unsafe extern "C" fn(
            *const TF_Filesystem,
            *const c_char,
            *mut TF_WritableFile,
            *mut TF_Status,
        ),
    >,
    pub new_appendable_file: Option<
        unsafe extern "C" fn(
            *const TF_Filesystem,
            *const c_char,
            *mut TF_WritableFile,
            *mut TF_Status,
        ),
    >,
    pub new_read_only_memory_region_from_file: Unused,
    pub create_dir: PathOp,
    pub recursively_create_dir: PathOp,
    pub delete_file: PathOp,
    pub delete_dir: PathOp,
    pub delete_recursively: Option<
        unsafe extern "C" fn(
            *const TF_Filesystem,
            *const c_char,
            *mut u64,
            *mut u64,
            *mut TF_Status,
        ),
    >,
    pub rename_file: Option<
        unsafe extern "C" fn(*const TF_Filesystem, *const c_char, *const c_char, *mut TF_Status),
    >,
    pub copy_file: Unused,
    pub path_exists: PathOp,
    pub paths_exist: Unused,
    pub stat: Option<
        unsafe extern "C" fn(
            *const TF_Filesystem,
            *const c_char,
            *mut TF_FileStatistics,
            *mut TF_Status,
        ),
    >,
    pub is_directory:
        Option<unsafe extern "C" fn(*const TF_Filesystem, *const c_char, *mut TF_Status) -> bool>,
    pub get_file_size:
        Option<unsafe extern "C" fn(*const TF_Filesystem, *const c_char, *mut TF_Status) -> i64>,
    pub translate_name:
        Option<unsafe extern "C" fn(*const TF_Filesystem, *const c_char) -> *mut c_char>,
    pub get_children: Option<
        unsafe extern "C" fn(
            *const TF_Filesystem,
            *const c_char,
            *mut *mut *mut c_char,
            *mut TF_Status,
        ) -> c_int,
    >,
    pub get_matching_paths: Unused,
    pub flush_caches: Unused,
    pub start_transaction: Unused,
    pub end_transaction: Unused,
    pub add_to_transaction: Unused,
    pub get_transaction_for_path: Unused,
    pub get_or_start_transaction_for_path: Unused,
    pub decode_transaction_token: Unused,
    pub get_filesystem_configuration: Unused,
    pub set_filesystem_configuration: Unused,
    pub get_filesystem_configuration_option: Unused,
    pub set_filesystem_configuration_option: Unused,
    pub get_filesystem_configuration_keys: Unused,
}

#[repr(C)]
pub struct TF_FilesystemPluginOps {
    pub scheme: *mut c_char,
    pub filesystem_ops_abi: c_int,
    pub filesystem_ops_api: c_int,
    pub filesystem_ops_size: usize,
    pub filesystem_ops: *mut TF_FilesystemOps,
    pub random_access_file_ops_abi: c_int,
    pub random_access_file_ops_api: c_int,
    pub random_access_file_ops_size: usize,
    pub random_access_file_ops: *mut TF_RandomAccessFileOps,
    pub writable_file_ops_abi: c_int,
    pub writable_file_ops_api: c_int,
    pub writable_file_ops_size: usize,
    pub writable_file_ops: *mut TF_WritableFileOps,
    pub read_only_memory_region_ops_abi: c_int,
    pub read_only_memory_region_ops_api: c_int,
    pub read_only_memory_region_ops_size: usize,
    pub read_only_memory_region_ops: *mut TF_ReadOnlyMemoryRegionOps,
}

#[repr(C)]
pub struct TF_FilesystemPluginInfo {
    pub num_schemes: usize,
    pub ops: *mut TF_FilesystemPluginOps,
    pub plugin_memory_allocate: Option<unsafe extern "C" fn(usize) -> *mut c_void>,
    pub plugin_memory_free: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// TensorFlow's status codes (absl's canonical codes).
pub mod code {
    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const ABORTED: i32 = 10;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;
    pub const UNAUTHENTICATED: i32 = 16;
}

type SetStatus = unsafe extern "C" fn(*mut TF_Status, c_int, *const c_char);

static SET_STATUS: OnceLock<Option<SetStatus>> = OnceLock::new();

/// Finds `TF_SetStatus` in the TensorFlow library this process has loaded. The plugin does not
/// link against TensorFlow, so it builds without it and works with any 2.x that loads it.
pub fn resolve_set_status() -> bool {
    SET_STATUS
        .get_or_init(|| {
            // SAFETY: dlsym and dlopen get NUL-terminated names; RTLD_NOLOAD only looks among the
            // libraries already loaded. A symbol found is TensorFlow's
            // `void TF_SetStatus(TF_Status*, TF_Code, const char*)` (TF_Code a C enum, an int),
            // whose address POSIX lets dlsym return as a data pointer.
            unsafe {
                let mut symbol = libc::dlsym(libc::RTLD_DEFAULT, c"TF_SetStatus".as_ptr());
                if symbol.is_null() {
                    for library in [
                        c"libtensorflow_framework.so.2",
                        c"libtensorflow_framework.so",
                        c"libtensorflow.so.2",
                    ] {
                        let handle =
                            libc::dlopen(library.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
                        if !handle.is_null() {
                            symbol = libc::dlsym(handle, c"TF_SetStatus".as_ptr());
                            if !symbol.is_null() {
                                break;
                            }
                        }
                    }
                }
                (!symbol.is_null()).then(|| std::mem::transmute::<*mut c_void, SetStatus>(symbol))
            }
        })
        .is_some()
}

/// The status object TensorFlow hands an entry point, to report the call's outcome in.
#[derive(Clone, Copy)]
pub struct Status(*mut TF_Status);

impl Status {
    /// # Safety
    /// `status` is null or a `TF_Status` that stays valid while the value is used: an entry
    /// point's argument, used within that call.
    pub unsafe fn new(status: *mut TF_Status) -> Self {
        Status(status)
    }

    /// Sets the code and message (nothing when the status is null, or `TF_SetStatus` unknown).
    pub fn set(self, code: i32, message: &str) {
        if self.0.is_null() {
            return;
        }
        if let Some(Some(set)) = SET_STATUS.get() {
            let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
            // SAFETY: `self.0` is a live status (the promise of `Status::new`), `set` is
            // TensorFlow's `TF_SetStatus` (`resolve_set_status`), and `message` a NUL-terminated
            // string, which it copies.
            unsafe { set(self.0, code, message.as_ptr()) }
        }
    }
}
