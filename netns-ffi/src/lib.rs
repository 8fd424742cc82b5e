//! The stable C ABI of netns (version 2). The header `include/netns.h` is
//! generated from this crate by cbindgen; its preamble (the ownership, error
//! and threading rules) is in `cbindgen.toml`.
//!
//! Every exported function:
//! - runs inside a panic boundary: a panic becomes [`NETNS_ERR_PANIC`], never
//!   an abort or an unwind into C;
//! - checks every pointer: NULL where a value is required gives
//!   [`NETNS_ERR_NULL_POINTER`];
//! - requires UTF-8 strings ([`NETNS_ERR_INVALID_UTF8`] otherwise);
//! - returns 0 on success, an errno (1..4095) passed through unchanged, or a
//!   library code (10000 and up);
//! - on failure stores a new error in `*err` when `err` is not NULL, and
//!   leaves out-parameters untouched;
//! - never changes the namespace of the calling thread.
#![deny(missing_docs)]
#![allow(non_camel_case_types)]
// The exported functions are the C ABI: their pointer contract is the
// header's (NULL is checked, anything else must be what the library handed
// out). As in rustls-ffi they are not `unsafe fn`, which would change nothing
// for C; Rust code should use netns-core directly.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use netns_core::{Handle, LinkSpec, MacVlanMode, NetNs, NetnsDir};

// cbindgen emits items in declaration order: the v1 objects (links,
// addresses, routes), then IPAM, then what ABI version 2 added: the read
// side, link specs, neighbours, bridge VLANs, sysctls and batches. (Kept
// apart so rustfmt does not sort them.)
mod objects;

mod ipam;

mod read;

mod spec;

mod more;

mod batch;

pub use batch::*;
pub use ipam::*;
pub use more::*;
pub use objects::*;
pub use read::*;
pub use spec::*;

/// The ABI version: bumped whenever the meaning of an existing function or
/// code changes.
pub const NETNS_ABI_VERSION: u32 = 2;

/// Library code: a required pointer argument was NULL.
pub const NETNS_ERR_NULL_POINTER: i32 = 10001;
/// Library code: a string argument was not valid UTF-8.
pub const NETNS_ERR_INVALID_UTF8: i32 = 10002;
/// Library code: the library panicked (a bug); the call had no effect or a
/// partial one.
pub const NETNS_ERR_PANIC: i32 = 10003;
/// Library code: an argument's value was refused (the message says which and
/// why); used where no errno fits better.
pub const NETNS_ERR_INVALID_ARGUMENT: i32 = 10004;
/// Library code: IPAM: no free address is left in a range set.
pub const NETNS_ERR_IPAM_EXHAUSTED: i32 = 10010;
/// Library code: IPAM: a requested address is taken or outside every range.
pub const NETNS_ERR_IPAM_UNAVAILABLE: i32 = 10011;
/// Library code: IPAM: the container/interface already holds an address.
pub const NETNS_ERR_IPAM_DUPLICATE: i32 = 10012;
/// Library code: IPAM: the network configuration is invalid.
pub const NETNS_ERR_IPAM_CONFIG: i32 = 10013;
/// Library code: an unexpected failure without an errno.
pub const NETNS_ERR_INTERNAL: i32 = 10099;

/// An error: a code (see the return-value rules) and a message. Created by
/// the library, freed with [`netns_error_free`].
pub struct netns_error {
    code: i32,
    message: CString,
}

/// A list of strings, created by the library, freed with
/// [`netns_string_list_free`].
pub struct netns_string_list {
    items: Vec<CString>,
}

/// A failure inside an exported function, before it becomes a code and an
/// optional `netns_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<netns_core::Error> for Failure {
    fn from(e: netns_core::Error) -> Self {
        let code = match e.errno() {
            Some(n) if (1..=4095).contains(&n) => n,
            _ => NETNS_ERR_INTERNAL,
        };
        Failure::new(code, e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

/// Run an exported body: catch panics, turn failures into a code and, if
/// `err` is not NULL, a new `netns_error`.
pub(crate) fn boundary(err: *mut *mut netns_error, body: impl FnOnce() -> FfiResult) -> i32 {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return 0,
        Ok(Err(f)) => f,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Failure::new(NETNS_ERR_PANIC, format!("internal error (panic): {what}"))
        }
    };
    if !err.is_null() {
        let message = CString::new(failure.message.replace('\0', " ")).unwrap_or_default();
        let boxed = Box::new(netns_error {
            code: failure.code,
            message,
        });
        // SAFETY: `err` is not NULL and, per the ABI contract, points to a
        // writable `netns_error *`.
        unsafe { *err = Box::into_raw(boxed) };
    }
    failure.code
}

/// Run an infallible export (a getter, a free) inside the panic boundary:
/// a panic gives `default`.
pub(crate) fn guard<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

/// A required string argument.
pub(crate) fn req_str<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::new(
            NETNS_ERR_NULL_POINTER,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: `p` is not NULL and, per the ABI contract, points to a
    // NUL-terminated string that outlives this call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| Failure::new(NETNS_ERR_INVALID_UTF8, format!("{what} is not valid UTF-8")))
}

/// An optional string argument (NULL means absent).
pub(crate) fn opt_str<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        req_str(p, what).map(Some)
    }
}

/// A required out-parameter.
pub(crate) fn out_ptr<'a, T>(p: *mut T, what: &str) -> FfiResult<&'a mut T> {
    if p.is_null() {
        return Err(Failure::new(
            NETNS_ERR_NULL_POINTER,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: `p` is not NULL and, per the ABI contract, points to writable
    // memory for a `T` that outlives this call.
    Ok(unsafe { &mut *p })
}

/// A required object argument.
pub(crate) fn obj<'a, T>(p: *const T, what: &str) -> FfiResult<&'a T> {
    if p.is_null() {
        return Err(Failure::new(
            NETNS_ERR_NULL_POINTER,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: `p` is not NULL and, per the ABI contract, was returned by this
    // library and not yet freed.
    Ok(unsafe { &*p })
}

/// A required object argument the call may change.
pub(crate) fn obj_mut<'a, T>(p: *mut T, what: &str) -> FfiResult<&'a mut T> {
    if p.is_null() {
        return Err(Failure::new(
            NETNS_ERR_NULL_POINTER,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: `p` is not NULL and, per the ABI contract, was returned by this
    // library, not yet freed, and not used by another thread during the call.
    Ok(unsafe { &mut *p })
}

pub(crate) fn string_list(items: Vec<String>) -> *mut netns_string_list {
    let items = items
        .into_iter()
        .map(|s| CString::new(s.replace('\0', " ")).unwrap_or_default())
        .collect();
    Box::into_raw(Box::new(netns_string_list { items }))
}

fn netns_dir(dir: *const c_char) -> FfiResult<NetnsDir> {
    Ok(match opt_str(dir, "netns_dir")? {
        Some(d) => NetnsDir::new(d),
        None => NetnsDir::default(),
    })
}

/// Open the namespace at `path`; a path inside the default netns directory
/// keeps its name (so `netns_spawn` binds /etc/netns/NAME like
/// `ip netns exec NAME`).
pub(crate) fn open_ns(path: &str) -> FfiResult<NetNs> {
    let p = Path::new(path);
    if p.parent() == Some(Path::new(netns_core::ns::DEFAULT_NETNS_DIR)) {
        if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            return Ok(NetnsDir::default().open(name)?);
        }
    }
    Ok(NetNs::open(p)?)
}

/// The library's version: `"netns-ffi/<version>"`, NUL-terminated, static.
#[no_mangle]
pub extern "C" fn netns_version() -> *const c_char {
    static VERSION: &str = concat!("netns-ffi/", env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The ABI version: 2 (version 1's functions keep their names and meaning).
#[no_mangle]
pub extern "C" fn netns_abi_version() -> u32 {
    NETNS_ABI_VERSION
}

/// The code of an error (as returned by the call that made it); 0 if `err`
/// is NULL.
#[no_mangle]
pub extern "C" fn netns_error_code(err: *const netns_error) -> i32 {
    catch_unwind(|| obj(err, "err").map(|e| e.code).unwrap_or(0)).unwrap_or(NETNS_ERR_PANIC)
}

/// The message of an error, valid until `netns_error_free(err)`; "" if `err`
/// is NULL.
#[no_mangle]
pub extern "C" fn netns_error_message(err: *const netns_error) -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    catch_unwind(|| match obj(err, "err") {
        Ok(e) => e.message.as_ptr(),
        Err(_) => EMPTY.as_ptr().cast(),
    })
    .unwrap_or(EMPTY.as_ptr().cast())
}

/// Free an error. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_error_free(err: *mut netns_error) {
    crate::read::free_box(err)
}

/// The number of strings in a list; 0 if `list` is NULL.
#[no_mangle]
pub extern "C" fn netns_string_list_len(list: *const netns_string_list) -> usize {
    guard(0, || obj(list, "list").map(|l| l.items.len()).unwrap_or(0))
}

/// String `i` of a list, valid until the list is freed; NULL if `list` is
/// NULL or `i` is out of range.
#[no_mangle]
pub extern "C" fn netns_string_list_get(list: *const netns_string_list, i: usize) -> *const c_char {
    guard(std::ptr::null(), || match obj(list, "list") {
        Ok(l) => l.items.get(i).map_or(std::ptr::null(), |s| s.as_ptr()),
        Err(_) => std::ptr::null(),
    })
}

/// Free a string list. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_string_list_free(list: *mut netns_string_list) {
    crate::read::free_box(list)
}

/// Free a string the library returned as `char *` (a CNI result, a sysctl
/// value). NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_string_free(s: *mut c_char) {
    if !s.is_null() {
        guard((), || {
            // SAFETY: `s` was made by CString::into_raw in this library and,
            // per the ABI contract, is freed once.
            drop(unsafe { CString::from_raw(s) });
        });
    }
}

/// Create the named namespace `name` in `netns_dir` (NULL: /run/netns), like
/// `ip netns add NAME`.
#[no_mangle]
pub extern "C" fn netns_ns_create_named(
    netns_dir: *const c_char,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let dir = self::netns_dir(netns_dir)?;
        dir.create(req_str(name, "name")?)?;
        Ok(())
    })
}

/// Delete the named namespace `name` from `netns_dir` (NULL: /run/netns),
/// like `ip netns del NAME`.
#[no_mangle]
pub extern "C" fn netns_ns_delete_named(
    netns_dir: *const c_char,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let dir = self::netns_dir(netns_dir)?;
        dir.delete(req_str(name, "name")?)?;
        Ok(())
    })
}

/// The names in `netns_dir` (NULL: /run/netns), sorted, like `ip netns list`.
/// On success `*out` is a new list.
#[no_mangle]
pub extern "C" fn netns_ns_list(
    netns_dir: *const c_char,
    out: *mut *mut netns_string_list,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let dir = self::netns_dir(netns_dir)?;
        let out = out_ptr(out, "out")?;
        let names = dir.list()?;
        *out = string_list(names);
        Ok(())
    })
}

/// Start `argv[0]` with arguments `argv` (NULL-terminated) inside the
/// namespace at `netns_path`, with `ip netns exec` semantics (own mount
/// namespace, /sys remounted, /etc/netns/NAME bound for a namespace under
/// /run/netns). On success `*out_pid` is the child's pid: the caller must
/// reap it (waitpid). The calling thread's namespaces do not change.
#[no_mangle]
pub extern "C" fn netns_spawn(
    netns_path: *const c_char,
    argv: *const *const c_char,
    out_pid: *mut i32,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let ns = open_ns(req_str(netns_path, "netns_path")?)?;
        if argv.is_null() {
            return Err(Failure::new(NETNS_ERR_NULL_POINTER, "argv is NULL"));
        }
        let mut args = Vec::new();
        for i in 0.. {
            // SAFETY: `argv` is a NULL-terminated array per the ABI contract;
            // we stop at the first NULL.
            let p = unsafe { *argv.add(i) };
            if p.is_null() {
                break;
            }
            args.push(req_str(p, "argv[i]")?);
        }
        let Some((program, rest)) = args.split_first() else {
            return Err(Failure::new(libc::EINVAL, "argv is empty"));
        };
        let out = out_ptr(out_pid, "out_pid")?;
        let child = ns.spawn(std::process::Command::new(program).args(rest))?;
        *out = i32::try_from(child.id()).unwrap_or(i32::MAX);
        // The caller reaps the child; dropping `Child` neither waits nor kills.
        drop(child);
        Ok(())
    })
}

/// A netlink handle bound to one namespace. It may be shared between threads
/// (`const netns_handle *`): calls on it from several threads at once are
/// safe and are serialised on its socket. Free with [`netns_handle_free`],
/// once, after the last call on it has returned.
pub struct netns_handle {
    pub(crate) h: Handle,
    /// The namespace itself (held open), for what is not a netlink request
    /// (sysctls, creating links in it from another handle).
    pub(crate) ns: NetNs,
}

/// Open a handle on the namespace at `netns_path` (NULL: the calling
/// thread's). The socket is opened inside the namespace by a helper thread;
/// the calling thread never moves.
#[no_mangle]
pub extern "C" fn netns_handle_new(
    netns_path: *const c_char,
    out: *mut *mut netns_handle,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let path = opt_str(netns_path, "netns_path")?;
        let out = out_ptr(out, "out")?;
        let ns = match path {
            Some(p) => open_ns(p)?,
            None => NetNs::current()?,
        };
        let h = ns.handle()?;
        *out = Box::into_raw(Box::new(netns_handle { h, ns }));
        Ok(())
    })
}

/// Free a handle. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_handle_free(h: *mut netns_handle) {
    crate::read::free_box(h)
}

pub(crate) fn parse_macvlan_mode(mode: &str) -> FfiResult<MacVlanMode> {
    mode.parse::<MacVlanMode>()
        .map_err(|e| Failure::new(libc::EINVAL, e.to_string()))
}

pub(crate) fn spec_for<'a>(name: &str, kind: netns_core::LinkKind<'a>) -> LinkSpec<'a> {
    LinkSpec::new(name, kind)
}

#[cfg(test)]
netns_testutil::host_only!("unit test of the panic boundary, no kernel involved");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_turns_a_panic_into_a_code_and_message() {
        let mut err: *mut netns_error = std::ptr::null_mut();
        let rc = boundary(&mut err, || panic!("forced"));
        assert_eq!(rc, NETNS_ERR_PANIC);
        assert_eq!(netns_error_code(err), NETNS_ERR_PANIC);
        // SAFETY: the message pointer is valid until the error is freed.
        let msg = unsafe { CStr::from_ptr(netns_error_message(err)) }
            .to_str()
            .unwrap();
        assert!(msg.contains("forced"), "{msg}");
        netns_error_free(err);
        // With a NULL err the code still comes back.
        assert_eq!(
            boundary(std::ptr::null_mut(), || panic!("again")),
            NETNS_ERR_PANIC
        );
    }
}
