//! The boundary rules of the C ABI, called the way C calls them (through the
//! exported functions, with raw pointers):
//! - NULL for every required pointer parameter of every function gives
//!   NETNS_ERR_NULL_POINTER, with a message naming the parameter;
//! - invalid UTF-8 in every string parameter gives NETNS_ERR_INVALID_UTF8;
//! - `*_free(NULL)` is a no-op, NULL objects read as empty;
//! - errnos pass through unchanged, and the kernel's extended-ack text is in
//!   the message;
//! - out-parameters (and `*err`) are untouched unless the function says so;
//! - `err` may be NULL;
//! - no function moves the calling thread to another namespace;
//! - the version strings.
//!
//! A forced panic is covered by the unit test in src/lib.rs. Everything that
//! could reach the kernel runs inside a private network namespace.

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use netns::*;
use netns_testutil::{in_private_netns, ip, ip_extack, thread_netns_inode, TempNetnsDir};

type Call<'a> = Box<dyn FnMut(*mut *mut netns_error) -> i32 + 'a>;

/// One row of a boundary table: the function, the parameter under test, and
/// the function's arguments before `err`.
macro_rules! case {
    ($f:ident, $param:literal, ($($arg:expr),* $(,)?)) => {
        (stringify!($f), $param, Box::new(|e| $f($($arg,)* e)) as Call)
    };
}

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
fn null_for_every_required_pointer_is_a_library_code() {
    in_private_netns(|| {
        let o = Objects::new();
        let (h, ipam) = (o.h, o.ipam);
        let dir = o.dir();
        let d = dir.as_ptr();
        let n = c"x".as_ptr();
        let true_argv = [c"true".as_ptr(), null()];
        let argv = true_argv.as_ptr();
        let mut list = null_mut();
        let mut pid = 0;
        let mut idx = 0;
        let mut iout: *mut netns_ipam = null_mut();
        let lp = &raw mut list;
        let (pp, xp, ip_) = (&raw mut pid, &raw mut idx, &raw mut iout);
        let cfg = ipam_config(o.netns_dir.path());
        let cidr = c"10.0.0.1/24".as_ptr();
        let mut cases: Vec<(&str, &str, Call)> = vec![
            case!(netns_ns_create_named, "name", (d, null())),
            case!(netns_ns_delete_named, "name", (d, null())),
            case!(netns_ns_list, "out", (d, null_mut())),
            case!(netns_spawn, "netns_path", (null(), argv, pp)),
            case!(netns_spawn, "argv", (OWN_NS.as_ptr(), null(), pp)),
            case!(netns_spawn, "out_pid", (OWN_NS.as_ptr(), argv, null_mut())),
            case!(netns_handle_new, "out", (null(), null_mut())),
            case!(netns_link_add_veth, "h", (null_mut(), n, n, null())),
            case!(netns_link_add_veth, "name", (h, null(), n, null())),
            case!(netns_link_add_veth, "peer_name", (h, n, null(), null())),
            case!(netns_link_add_bridge, "h", (null_mut(), n)),
            case!(netns_link_add_bridge, "name", (h, null())),
            case!(
                netns_link_add_macvlan,
                "h",
                (null_mut(), n, n, c"bridge".as_ptr())
            ),
            case!(
                netns_link_add_macvlan,
                "name",
                (h, null(), n, c"bridge".as_ptr())
            ),
            case!(
                netns_link_add_macvlan,
                "parent",
                (h, n, null(), c"bridge".as_ptr())
            ),
            case!(netns_link_add_macvlan, "mode", (h, n, n, null())),
            case!(netns_link_add_vlan, "h", (null_mut(), n, n, 5)),
            case!(netns_link_add_vlan, "name", (h, null(), n, 5)),
            case!(netns_link_add_vlan, "parent", (h, n, null(), 5)),
            case!(netns_link_add_vxlan, "h", (null_mut(), n, 42, null(), 0)),
            case!(netns_link_add_vxlan, "name", (h, null(), 42, null(), 0)),
            case!(netns_link_del, "h", (null_mut(), n)),
            case!(netns_link_del, "name", (h, null())),
            case!(netns_link_index, "h", (null_mut(), n, xp)),
            case!(netns_link_index, "name", (h, null(), xp)),
            case!(
                netns_link_index,
                "out_index",
                (h, c"lo".as_ptr(), null_mut())
            ),
            case!(netns_link_set_up, "h", (null_mut(), n)),
            case!(netns_link_set_up, "name", (h, null())),
            case!(netns_link_set_down, "h", (null_mut(), n)),
            case!(netns_link_set_down, "name", (h, null())),
            case!(netns_link_set_mtu, "h", (null_mut(), n, 1400)),
            case!(netns_link_set_mtu, "name", (h, null(), 1400)),
            case!(netns_link_set_name, "h", (null_mut(), n, n)),
            case!(netns_link_set_name, "name", (h, null(), n)),
            case!(netns_link_set_name, "new_name", (h, n, null())),
            case!(netns_link_set_controller, "h", (null_mut(), n, n)),
            case!(netns_link_set_controller, "name", (h, null(), n)),
            case!(netns_link_set_netns, "h", (null_mut(), n, OWN_NS.as_ptr())),
            case!(netns_link_set_netns, "name", (h, null(), OWN_NS.as_ptr())),
            case!(netns_link_set_netns, "netns_path", (h, n, null())),
            case!(netns_link_names, "h", (null_mut(), lp)),
            case!(netns_link_names, "out", (h, null_mut())),
            case!(netns_addr_add, "h", (null_mut(), n, cidr)),
            case!(netns_addr_add, "ifname", (h, null(), cidr)),
            case!(netns_addr_add, "cidr", (h, n, null())),
            case!(netns_addr_del, "h", (null_mut(), n, cidr)),
            case!(netns_addr_del, "ifname", (h, null(), cidr)),
            case!(netns_addr_del, "cidr", (h, n, null())),
            case!(netns_addr_list, "h", (null_mut(), null(), lp)),
            case!(netns_addr_list, "out_cidrs", (h, null(), null_mut())),
            case!(
                netns_route_add,
                "h",
                (null_mut(), c"default".as_ptr(), null(), n, 0)
            ),
            case!(netns_route_add, "dst", (h, null(), null(), n, 0)),
            case!(
                netns_route_replace,
                "h",
                (null_mut(), c"default".as_ptr(), null(), n, 0)
            ),
            case!(netns_route_replace, "dst", (h, null(), null(), n, 0)),
            case!(
                netns_route_del,
                "h",
                (null_mut(), c"default".as_ptr(), null(), n)
            ),
            case!(netns_route_del, "dst", (h, null(), null(), n)),
            case!(netns_ipam_new, "config_json", (null(), ip_)),
            case!(netns_ipam_new, "out", (cfg.as_ptr(), null_mut())),
            case!(netns_ipam_allocate, "ipam", (null_mut(), n, n, lp)),
            case!(netns_ipam_allocate, "container_id", (ipam, null(), n, lp)),
            case!(netns_ipam_allocate, "ifname", (ipam, n, null(), lp)),
            case!(netns_ipam_allocate, "out_cidrs", (ipam, n, n, null_mut())),
            case!(netns_ipam_release, "ipam", (null_mut(), n, n)),
            case!(netns_ipam_release, "container_id", (ipam, null(), n)),
            case!(netns_ipam_release, "ifname", (ipam, n, null())),
        ];
        for (func, param, call) in &mut cases {
            expect_failure(
                &format!("{func}({param} = NULL)"),
                NETNS_ERR_NULL_POINTER,
                &format!("{param} is NULL"),
                call.as_mut(),
            );
        }
        drop(cases);
        // Nothing was written through the valid out-parameters, nothing was
        // created, no process was started.
        assert!(list.is_null() && iout.is_null());
        assert_eq!((pid, idx), (0, 0));
        let mut names = null_mut();
        expect_success("netns_link_names", |e| netns_link_names(h, &mut names, e));
        assert_eq!(take_list(names), ["lo"]);
        let mut names = null_mut();
        expect_success("netns_ns_list", |e| netns_ns_list(d, &mut names, e));
        assert!(take_list(names).is_empty());
    });
}

#[test]
fn invalid_utf8_in_every_string_is_a_library_code() {
    in_private_netns(|| {
        let o = Objects::new();
        let (h, ipam) = (o.h, o.ipam);
        let dir = o.dir();
        let d = dir.as_ptr();
        let n = c"x".as_ptr();
        let bad: *const c_char = c"bad\xff\xfe".as_ptr();
        let mut list = null_mut();
        let mut pid = 0;
        let mut idx = 0;
        let mut hout: *mut netns_handle = null_mut();
        let mut iout: *mut netns_ipam = null_mut();
        let lp = &raw mut list;
        let (pp, xp, hp, ip_) = (&raw mut pid, &raw mut idx, &raw mut hout, &raw mut iout);
        let argv0 = [bad, null()];
        let argv1 = [c"true".as_ptr(), bad, null()];
        let (a0, a1) = (argv0.as_ptr(), argv1.as_ptr());
        let own = OWN_NS.as_ptr();
        let cidr = c"10.0.0.1/24".as_ptr();
        let dflt = c"default".as_ptr();
        let mut cases: Vec<(&str, &str, Call)> = vec![
            case!(netns_ns_create_named, "netns_dir", (bad, n)),
            case!(netns_ns_create_named, "name", (d, bad)),
            case!(netns_ns_delete_named, "netns_dir", (bad, n)),
            case!(netns_ns_delete_named, "name", (d, bad)),
            case!(netns_ns_list, "netns_dir", (bad, lp)),
            case!(netns_spawn, "netns_path", (bad, a1, pp)),
            case!(netns_spawn, "argv[i]", (own, a0, pp)),
            case!(netns_spawn, "argv[i]", (own, a1, pp)),
            case!(netns_handle_new, "netns_path", (bad, hp)),
            case!(netns_link_add_veth, "name", (h, bad, n, null())),
            case!(netns_link_add_veth, "peer_name", (h, n, bad, null())),
            case!(netns_link_add_veth, "peer_netns_path", (h, n, n, bad)),
            case!(netns_link_add_bridge, "name", (h, bad)),
            case!(
                netns_link_add_macvlan,
                "name",
                (h, bad, n, c"bridge".as_ptr())
            ),
            case!(
                netns_link_add_macvlan,
                "parent",
                (h, n, bad, c"bridge".as_ptr())
            ),
            case!(netns_link_add_macvlan, "mode", (h, n, n, bad)),
            case!(netns_link_add_vlan, "name", (h, bad, n, 5)),
            case!(netns_link_add_vlan, "parent", (h, n, bad, 5)),
            case!(netns_link_add_vxlan, "name", (h, bad, 42, null(), 0)),
            case!(netns_link_add_vxlan, "parent", (h, n, 42, bad, 0)),
            case!(netns_link_del, "name", (h, bad)),
            case!(netns_link_index, "name", (h, bad, xp)),
            case!(netns_link_set_up, "name", (h, bad)),
            case!(netns_link_set_down, "name", (h, bad)),
            case!(netns_link_set_mtu, "name", (h, bad, 1400)),
            case!(netns_link_set_name, "name", (h, bad, n)),
            case!(netns_link_set_name, "new_name", (h, n, bad)),
            case!(netns_link_set_controller, "name", (h, bad, n)),
            case!(netns_link_set_controller, "controller", (h, n, bad)),
            case!(netns_link_set_netns, "name", (h, bad, own)),
            case!(netns_link_set_netns, "netns_path", (h, n, bad)),
            case!(netns_addr_add, "ifname", (h, bad, cidr)),
            case!(netns_addr_add, "cidr", (h, n, bad)),
            case!(netns_addr_del, "ifname", (h, bad, cidr)),
            case!(netns_addr_del, "cidr", (h, n, bad)),
            case!(netns_addr_list, "ifname", (h, bad, lp)),
            case!(netns_route_add, "dst", (h, bad, null(), n, 0)),
            case!(netns_route_add, "gateway", (h, dflt, bad, n, 0)),
            case!(netns_route_add, "ifname", (h, dflt, null(), bad, 0)),
            case!(netns_route_replace, "dst", (h, bad, null(), n, 0)),
            case!(netns_route_replace, "gateway", (h, dflt, bad, n, 0)),
            case!(netns_route_replace, "ifname", (h, dflt, null(), bad, 0)),
            case!(netns_route_del, "dst", (h, bad, null(), n)),
            case!(netns_route_del, "gateway", (h, dflt, bad, n)),
            case!(netns_route_del, "ifname", (h, dflt, null(), bad)),
            case!(netns_ipam_new, "config_json", (bad, ip_)),
            case!(netns_ipam_allocate, "container_id", (ipam, bad, n, lp)),
            case!(netns_ipam_allocate, "ifname", (ipam, n, bad, lp)),
            case!(netns_ipam_release, "container_id", (ipam, bad, n)),
            case!(netns_ipam_release, "ifname", (ipam, n, bad)),
        ];
        for (func, param, call) in &mut cases {
            expect_failure(
                &format!("{func}({param} invalid UTF-8)"),
                NETNS_ERR_INVALID_UTF8,
                &format!("{param} is not valid UTF-8"),
                call.as_mut(),
            );
        }
        drop(cases);
        assert!(list.is_null() && hout.is_null() && iout.is_null());
        assert_eq!((pid, idx), (0, 0));
    });
}

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
    assert_eq!(netns_abi_version(), 1);
    assert_eq!(NETNS_ABI_VERSION, 1);
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
