//! The boundary rules of the C ABI that are about meaning, called the way C
//! calls them (through the exported functions, with raw pointers):
//! - `*_free(NULL)` is a no-op, NULL objects read as empty;
//! - errnos pass through unchanged, and the kernel's extended-ack text is in
//!   the message;
//! - out-parameters (and `*err`) are untouched on kernel, file system and
//!   allocator failures;
//! - errors belong to their call, not to a thread;
//! - no function moves the calling thread to another namespace (a scenario
//!   across two namespaces, checked with `ip`);
//! - the version strings.
//!
//! The per-function rows (NULL in every pointer, invalid UTF-8 in every
//! string, every fallible function on a thread that must not move, every
//! getter and free on NULL) are generated from include/netns.h: see
//! tests/abi_rows.rs. A forced panic is covered by the unit test in
//! src/lib.rs. Everything that could reach the kernel runs inside a private
//! network namespace.

use std::ffi::CStr;
use std::ptr::{null, null_mut};

use netns::*;
use netns_testutil::{in_private_netns, ip, ip_extack, thread_netns_inode, TempNetnsDir};

fn message(err: *const netns_error) -> String {
    // SAFETY: netns_error_message returns a NUL-terminated string valid
    // until the error is freed (or a static "" for NULL).
    unsafe { CStr::from_ptr(netns_error_message(err)) }
        .to_string_lossy()
        .into_owned()
}

/// `call` fails with `code` and an error whose code is `code` and whose
/// message contains `needle`; called again with `err` NULL, it returns the
/// same code. Returns the message.
fn expect_failure(
    what: &str,
    code: i32,
    needle: &str,
    call: &mut dyn FnMut(*mut *mut netns_error) -> i32,
) -> String {
    let mut err: *mut netns_error = null_mut();
    let rc = call(&mut err);
    let msg = message(err);
    assert_eq!(rc, code, "{what}: rc {rc}, message {msg:?}");
    assert!(!err.is_null(), "{what}: no error object");
    assert_eq!(netns_error_code(err), code, "{what}");
    assert!(msg.contains(needle), "{what}: {msg:?} lacks {needle:?}");
    netns_error_free(err);
    assert_eq!(call(null_mut()), code, "{what} with err NULL");
    msg
}

/// `call` succeeds and leaves `*err` as it was.
fn expect_success(what: &str, call: impl FnOnce(*mut *mut netns_error) -> i32) {
    let sentinel = std::ptr::dangling_mut::<netns_error>();
    let mut err = sentinel;
    let rc = call(&mut err);
    if rc != 0 {
        // *err is a real error now (unless the function broke that rule too).
        let msg = if err == sentinel {
            "<no error object>".into()
        } else {
            message(err)
        };
        panic!("{what}: rc {rc}: {msg}");
    }
    assert_eq!(err, sentinel, "{what}: *err was written on success");
}

fn take_list(list: *mut netns_string_list) -> Vec<String> {
    let n = netns_string_list_len(list);
    let out = (0..n)
        .map(|i| {
            // SAFETY: i < len, so the string is valid until the list is freed.
            unsafe { CStr::from_ptr(netns_string_list_get(list, i)) }
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        netns_string_list_get(list, n).is_null(),
        "out of range is NULL"
    );
    netns_string_list_free(list);
    out
}

fn ipam_config(data_dir: &std::path::Path) -> std::ffi::CString {
    let json = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "boundary-net",
        "ipam": {
            "type": "host-local",
            "dataDir": data_dir,
            "ranges": [[{"subnet": "10.96.0.0/30"}]],
        },
    });
    std::ffi::CString::new(json.to_string()).unwrap()
}

/// The objects every table below works on: a handle on the thread's (private)
/// namespace, an allocator over a temporary data directory, a temporary
/// netns directory.
struct Objects {
    h: *mut netns_handle,
    ipam: *mut netns_ipam,
    netns_dir: TempNetnsDir,
    _data_dir: TempNetnsDir,
}

impl Objects {
    fn new() -> Objects {
        let mut h = null_mut();
        expect_success("netns_handle_new", |e| netns_handle_new(null(), &mut h, e));
        let data_dir = TempNetnsDir::new();
        let config = ipam_config(data_dir.path());
        let mut ipam = null_mut();
        expect_success("netns_ipam_new", |e| {
            netns_ipam_new(config.as_ptr(), &mut ipam, e)
        });
        Objects {
            h,
            ipam,
            netns_dir: TempNetnsDir::new(),
            _data_dir: data_dir,
        }
    }

    fn dir(&self) -> std::ffi::CString {
        std::ffi::CString::new(self.netns_dir.path().to_str().unwrap()).unwrap()
    }
}

impl Drop for Objects {
    fn drop(&mut self) {
        netns_handle_free(self.h);
        netns_ipam_free(self.ipam);
    }
}

const OWN_NS: &CStr = c"/proc/thread-self/ns/net";

#[test]
fn free_null_is_a_no_op_and_null_objects_read_as_empty() {
    netns_error_free(null_mut());
    netns_string_list_free(null_mut());
    netns_handle_free(null_mut());
    netns_ipam_free(null_mut());
    assert_eq!(netns_error_code(null()), 0);
    assert_eq!(message(null()), "");
    assert_eq!(netns_string_list_len(null()), 0);
    assert!(netns_string_list_get(null(), 0).is_null());
}

#[test]
fn version_strings() {
    // SAFETY: netns_version returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(netns_version()) };
    assert_eq!(
        v.to_str().unwrap(),
        concat!("netns-ffi/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(netns_abi_version(), 2);
    assert_eq!(NETNS_ABI_VERSION, 2);
}

#[test]
fn errnos_pass_through_with_the_kernels_text() {
    in_private_netns(|| {
        let o = Objects::new();
        let h = o.h;
        expect_success("veth", |e| {
            netns_link_add_veth(h, c"bv0".as_ptr(), c"bv1".as_ptr(), null(), e)
        });

        // The kernel's EEXIST, unchanged, with strerror's text.
        let msg = expect_failure("duplicate veth", libc::EEXIST, "bv0", &mut |e| {
            netns_link_add_veth(h, c"bv0".as_ptr(), c"bv2".as_ptr(), null(), e)
        });
        let strerror = std::io::Error::from_raw_os_error(libc::EEXIST).to_string();
        let strerror = strerror.split(" (os error").next().unwrap();
        assert!(msg.contains(strerror), "{msg:?} lacks {strerror:?}");
        assert_eq!(libc::EEXIST, 17);

        // The kernel's extended ack, as iproute2 reports it for the same request.
        let msg = expect_failure("MTU 70000", libc::EINVAL, "kernel: ", &mut |e| {
            netns_link_set_mtu(h, c"bv0".as_ptr(), 70000, e)
        });
        if let Some(text) = ip_extack(["link", "set", "bv0", "mtu", "70000"]) {
            assert!(
                msg.contains(&format!("kernel: {text}")),
                "{msg:?} lacks {text:?}"
            );
        }

        // Other errnos.
        expect_failure("missing link", libc::ENODEV, "nope", &mut |e| {
            netns_link_del(h, c"nope".as_ptr(), e)
        });
        expect_failure("missing route", libc::ESRCH, "192.0.2.0/24", &mut |e| {
            netns_route_del(h, c"192.0.2.0/24".as_ptr(), null(), null(), e)
        });
        expect_failure(
            "missing namespace",
            libc::ENOENT,
            "/nonexistent",
            &mut |e| {
                let mut out = null_mut();
                netns_handle_new(c"/nonexistent/ns".as_ptr(), &mut out, e)
            },
        );
        let dir = o.dir();
        expect_success("create", |e| {
            netns_ns_create_named(dir.as_ptr(), c"b1".as_ptr(), e)
        });
        expect_failure("duplicate namespace", libc::EEXIST, "b1", &mut |e| {
            netns_ns_create_named(dir.as_ptr(), c"b1".as_ptr(), e)
        });
        expect_success("delete", |e| {
            netns_ns_delete_named(dir.as_ptr(), c"b1".as_ptr(), e)
        });
        // Values refused before anything is sent are EINVAL too.
        expect_failure("bad cidr", libc::EINVAL, "cidr", &mut |e| {
            netns_addr_add(h, c"bv0".as_ptr(), c"10.0.0.256/24".as_ptr(), e)
        });
        expect_failure("bad macvlan mode", libc::EINVAL, "sideways", &mut |e| {
            netns_link_add_macvlan(h, c"m0".as_ptr(), c"bv0".as_ptr(), c"sideways".as_ptr(), e)
        });
        expect_failure("empty argv", libc::EINVAL, "argv", &mut |e| {
            let argv = [null()];
            let mut pid = 0;
            netns_spawn(OWN_NS.as_ptr(), argv.as_ptr(), &mut pid, e)
        });
        // Library codes for IPAM.
        let ipam = o.ipam;
        let mut cidrs = null_mut();
        expect_success("allocate", |e| {
            netns_ipam_allocate(ipam, c"c1".as_ptr(), c"eth0".as_ptr(), &mut cidrs, e)
        });
        assert_eq!(take_list(cidrs), ["10.96.0.2/30"]);
        expect_failure(
            "duplicate allocation",
            NETNS_ERR_IPAM_DUPLICATE,
            "duplicate",
            &mut |e| {
                let mut out = null_mut();
                netns_ipam_allocate(ipam, c"c1".as_ptr(), c"eth0".as_ptr(), &mut out, e)
            },
        );
        expect_failure("exhausted", NETNS_ERR_IPAM_EXHAUSTED, "", &mut |e| {
            let mut out = null_mut();
            netns_ipam_allocate(ipam, c"c2".as_ptr(), c"eth0".as_ptr(), &mut out, e)
        });
        expect_success("release", |e| {
            netns_ipam_release(ipam, c"c1".as_ptr(), c"eth0".as_ptr(), e)
        });
        expect_failure("bad config", NETNS_ERR_IPAM_CONFIG, "", &mut |e| {
            let mut out = null_mut();
            netns_ipam_new(c"{\"name\":\"n\"}".as_ptr(), &mut out, e)
        });
    });
}

#[test]
fn out_parameters_are_untouched_on_failure() {
    in_private_netns(|| {
        let o = Objects::new();
        let h = o.h;
        let list_sentinel = std::ptr::dangling_mut::<netns_string_list>();

        // Failures after the out-parameter was checked: the kernel, the file
        // system or the allocator refused.
        let mut index = 0xdead_beef_u32;
        expect_failure("link_index", libc::ENODEV, "", &mut |e| {
            netns_link_index(h, c"nope".as_ptr(), &mut index, e)
        });
        assert_eq!(index, 0xdead_beef);

        let mut handle = std::ptr::dangling_mut::<netns_handle>();
        let hs = handle;
        expect_failure("handle_new", libc::ENOENT, "", &mut |e| {
            netns_handle_new(c"/nonexistent".as_ptr(), &mut handle, e)
        });
        assert_eq!(handle, hs);

        let mut pid = -12345;
        expect_failure("spawn", libc::ENOENT, "", &mut |e| {
            let argv = [c"/nonexistent/program".as_ptr(), null()];
            netns_spawn(OWN_NS.as_ptr(), argv.as_ptr(), &mut pid, e)
        });
        assert_eq!(pid, -12345);

        let mut list = list_sentinel;
        // A device named in a request that does not exist is refused before
        // anything is sent, with the errno the kernel gives a missing
        // device (ENODEV), as in the core library whichever call finds it.
        expect_failure("addr_list", libc::ENODEV, "does not exist", &mut |e| {
            netns_addr_list(h, c"nope".as_ptr(), &mut list, e)
        });
        assert_eq!(list, list_sentinel);

        // A regular file is not a netns directory.
        let file = o.netns_dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let file = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        expect_failure("ns_list", libc::ENOTDIR, "", &mut |e| {
            netns_ns_list(file.as_ptr(), &mut list, e)
        });
        assert_eq!(list, list_sentinel);
        std::fs::remove_file(o.netns_dir.path().join("file")).unwrap();

        let mut ipam = std::ptr::dangling_mut::<netns_ipam>();
        let is = ipam;
        expect_failure("ipam_new", NETNS_ERR_IPAM_CONFIG, "", &mut |e| {
            netns_ipam_new(c"{".as_ptr(), &mut ipam, e)
        });
        assert_eq!(ipam, is);

        let mut cidrs = null_mut();
        expect_success("allocate", |e| {
            netns_ipam_allocate(o.ipam, c"c".as_ptr(), c"eth0".as_ptr(), &mut cidrs, e)
        });
        netns_string_list_free(cidrs);
        expect_failure("allocate again", NETNS_ERR_IPAM_DUPLICATE, "", &mut |e| {
            netns_ipam_allocate(o.ipam, c"c".as_ptr(), c"eth0".as_ptr(), &mut list, e)
        });
        assert_eq!(list, list_sentinel);

        // Failures at the boundary (another argument is NULL).
        expect_failure("link_names", NETNS_ERR_NULL_POINTER, "h", &mut |e| {
            netns_link_names(null_mut(), &mut list, e)
        });
        assert_eq!(list, list_sentinel);
        expect_failure(
            "ipam_allocate",
            NETNS_ERR_NULL_POINTER,
            "ifname",
            &mut |e| netns_ipam_allocate(o.ipam, c"c".as_ptr(), null(), &mut list, e),
        );
        assert_eq!(list, list_sentinel);
    });
}

#[test]
fn errors_belong_to_their_call_not_to_a_thread() {
    // Two errors made on two threads, alive at once, read on a third: no
    // thread-local state, each message stays valid until its error is freed.
    // (The names are refused before any file system call.)
    let make = |name: &'static CStr| {
        std::thread::spawn(move || {
            let mut err = null_mut();
            let rc = netns_ns_create_named(null(), name.as_ptr(), &mut err);
            assert_eq!(rc, libc::EINVAL);
            err as usize
        })
        .join()
        .unwrap() as *mut netns_error
    };
    let a = make(c"first/..");
    let b = make(c"second/..");
    let (ma, mb) = (message(a), message(b));
    assert!(ma.contains("first") && !ma.contains("second"), "{ma}");
    assert!(mb.contains("second") && !mb.contains("first"), "{mb}");
    assert_eq!(netns_error_code(a), netns_error_code(b));
    netns_error_free(a);
    assert_eq!(message(b), mb);
    netns_error_free(b);
}

#[test]
fn no_function_moves_the_calling_thread() {
    in_private_netns(|| {
        let start = thread_netns_inode();
        let o = Objects::new();
        let dir = o.dir();
        let mut steps = 0;
        let mut step = |what: &str, call: &mut dyn FnMut(*mut *mut netns_error) -> i32| {
            expect_success(what, &mut *call);
            assert_eq!(
                thread_netns_inode(),
                start,
                "{what} moved the calling thread"
            );
            steps += 1;
        };
        let path = std::ffi::CString::new(o.netns_dir.path().join("t1").to_str().unwrap()).unwrap();
        step("create", &mut |e| {
            netns_ns_create_named(dir.as_ptr(), c"t1".as_ptr(), e)
        });
        let mut other = null_mut();
        step("handle on t1", &mut |e| {
            let mut out = null_mut();
            let rc = netns_handle_new(path.as_ptr(), &mut out, e);
            netns_handle_free(out);
            rc
        });
        step("handle on t1, kept", &mut |e| {
            netns_handle_new(path.as_ptr(), &raw mut other, e)
        });
        step("veth, peer in t1", &mut |e| {
            netns_link_add_veth(o.h, c"m0".as_ptr(), c"m1".as_ptr(), path.as_ptr(), e)
        });
        step("link in t1", &mut |e| {
            netns_link_set_up(other, c"m1".as_ptr(), e)
        });
        step("move m1 back", &mut |e| {
            netns_link_set_netns(other, c"m1".as_ptr(), OWN_NS.as_ptr(), e)
        });
        step("spawn in t1", &mut |e| {
            let argv = [c"true".as_ptr(), null()];
            let mut pid = 0;
            let rc = netns_spawn(path.as_ptr(), argv.as_ptr(), &mut pid, e);
            if rc == 0 {
                let mut status = 0;
                // SAFETY: pid is our child, started by netns_spawn.
                let got = unsafe { libc::waitpid(pid, &mut status, 0) };
                assert_eq!(got, pid);
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            }
            rc
        });
        netns_handle_free(other);
        step("delete", &mut |e| {
            netns_ns_delete_named(dir.as_ptr(), c"t1".as_ptr(), e)
        });
        assert_eq!(steps, 8);
        // m1 came back here: the oracle sees both ends.
        let links = ip(["-o", "link", "show"]);
        assert!(
            links.contains(" m0@m1:") && links.contains(" m1@m0:"),
            "{links}"
        );
    });
}
