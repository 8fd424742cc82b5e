//! The boundary rows of every export, generated from include/netns.h (through
//! tests/abi/generated.rs, which tests/header.rs writes from the header and
//! keeps in step with it), so a new export cannot be missed:
//! - NULL rows: every fallible function (returns int32_t, last parameter
//!   `netns_error **err`), every pointer parameter but `err` NULL in turn,
//!   the others valid: NETNS_ERR_NULL_POINTER "<param> is NULL", with `err`
//!   and with `err` NULL, out-parameters untouched. Parameters that take
//!   NULL as "absent" are in [`NULL_OK`] and must not give NULL_POINTER;
//! - invalid-UTF-8 rows: every `const char *` parameter (and each element
//!   of a `const char *const *` array) with bytes that are not UTF-8:
//!   NETNS_ERR_INVALID_UTF8 "<param> is not valid UTF-8";
//! - thread rows: every fallible function once with valid values, the
//!   calling thread's namespace the same before and after (the handle and
//!   the namespace paths are of other namespaces, so the work happens
//!   elsewhere); what a successful call returned is freed with the free
//!   function of its type, a spawned child reaped;
//! - the infallible exports (frees, getters) with NULL: no crash, the
//!   documented empty value (0, NULL, false; "" for netns_error_message).
//!
//! A NEW EXPORT needs nothing here unless one of its parameters has a name
//! and C type that [`SAMPLES`] does not know: the rows then fail with
//! "no sample value for parameter `P` (TYPE) of FUNCTION"; add one line to
//! [`SAMPLES`] (parameter name, C type as the header spells it, value), or
//! to [`OVERRIDES`] when one function needs another value. A parameter that
//! may be NULL goes in [`NULL_OK`]. The generated table itself is
//! regenerated with `NETNS_BLESS=1 cargo test -p netns-ffi --test header`.
//!
//! Everything that can reach the kernel runs inside a private network
//! namespace, on temporary netns and data directories.

#[rustfmt::skip]
#[path = "abi/generated.rs"]
mod generated;

use std::ffi::{c_char, CStr, CString};
use std::ptr::null_mut;

use generated::{Function, Ret, FUNCTIONS};
use netns::*;
use netns_testutil::{in_private_netns, ip, thread_netns_inode, TempNetnsDir};

/// A valid value for a parameter.
#[derive(Clone, Copy, Debug)]
enum S {
    /// A string.
    Str(&'static CStr),
    /// An integer (or bool: 0/1).
    Int(u64),
    /// The test's temporary netns directory.
    NetnsDir,
    /// The path of a namespace other than the calling thread's (the one
    /// the handle is not on).
    NsPath,
    /// `{"true", NULL}`.
    Argv,
    /// A CNI network configuration for host-local on a temporary data
    /// directory.
    IpamConfig,
    /// A handle on a namespace other than the calling thread's.
    Handle,
    /// An allocator on the temporary data directory.
    Ipam,
    /// A fresh `netns_link_spec_new(KIND, "bt0")`, freed after the call.
    Spec(&'static CStr),
    /// A fresh `netns_batch_new`, freed after the call.
    Batch,
}

/// Sample values by (parameter name, C type): one line per new name/type.
const SAMPLES: &[(&str, &str, S)] = &[
    // objects
    ("h", "netns_handle *", S::Handle),
    ("h", "const netns_handle *", S::Handle),
    ("ipam", "netns_ipam *", S::Ipam),
    ("p", "netns_ipam *", S::Ipam),
    ("p", "const netns_ipam *", S::Ipam),
    ("s", "netns_link_spec *", S::Spec(c"veth")),
    ("s", "const netns_link_spec *", S::Spec(c"veth")),
    ("b", "netns_batch *", S::Batch),
    ("b", "const netns_batch *", S::Batch),
    // namespaces and processes
    ("netns_dir", "const char *", S::NetnsDir),
    ("netns_path", "const char *", S::NsPath),
    ("peer_netns_path", "const char *", S::NsPath),
    ("ns_path", "const char *", S::NsPath),
    ("target_ns_path", "const char *", S::NsPath),
    ("argv", "const char *const *", S::Argv),
    // names
    ("name", "const char *", S::Str(c"bt0")),
    ("peer_name", "const char *", S::Str(c"bt1")),
    ("new_name", "const char *", S::Str(c"bt2")),
    ("parent", "const char *", S::Str(c"bt0")),
    ("controller", "const char *", S::Str(c"bt3")),
    ("ifname", "const char *", S::Str(c"lo")),
    ("kind", "const char *", S::Str(c"veth")),
    ("mode", "const char *", S::Str(c"bridge")),
    // addresses, routes, neighbours
    ("cidr", "const char *", S::Str(c"10.0.0.1/24")),
    ("dst", "const char *", S::Str(c"default")),
    ("gateway", "const char *", S::Str(c"10.0.0.254")),
    ("ip", "const char *", S::Str(c"10.0.0.2")),
    ("mac", "const char *", S::Str(c"02:00:00:00:00:01")),
    // sysctls
    ("key", "const char *", S::Str(c"net.ipv4.ip_forward")),
    ("value", "const char *", S::Str(c"0")),
    // IPAM
    ("config_json", "const char *", S::IpamConfig),
    ("container_id", "const char *", S::Str(c"c1")),
    // integers
    ("mtu", "uint32_t", S::Int(1400)),
    ("vlan_id", "uint16_t", S::Int(5)),
    ("vni", "uint32_t", S::Int(42)),
    ("dstport", "uint16_t", S::Int(0)),
    ("metric", "uint32_t", S::Int(0)),
    ("id", "uint32_t", S::Int(5)),
    ("vid", "uint16_t", S::Int(5)),
    ("family", "int32_t", S::Int(0)),
    ("table", "uint32_t", S::Int(0)),
    ("up", "bool", S::Int(1)),
    ("pvid", "bool", S::Int(0)),
    ("untagged", "bool", S::Int(1)),
    ("on", "bool", S::Int(1)),
];

/// Values for one function's parameter, before [`SAMPLES`].
const OVERRIDES: &[(&str, &str, S)] = &[
    // A spec of a kind that has the key (a veth has peer and peer_netns).
    ("netns_link_spec_set_parent", "s", S::Spec(c"macvlan")),
    ("netns_link_spec_set_mode", "s", S::Spec(c"macvlan")),
    ("netns_link_spec_set_id", "s", S::Spec(c"vxlan")),
    (
        "netns_link_spec_set_vlan_filtering",
        "s",
        S::Spec(c"bridge"),
    ),
    // An address, not "default".
    ("netns_route_get", "dst", S::Str(c"10.0.0.1")),
];

/// Values for other parameters of one row: (parameter, value).
type Extra = &'static [(&'static str, S)];

/// (function, parameter) pairs documented as "may be NULL" (NULL: absent),
/// with values for other parameters in that row (so that the row does no
/// harm: NULL as netns_dir means /run/netns, so the name is one refused
/// before the file system is touched).
const NULL_OK: &[(&str, &str, Extra)] = &[
    (
        "netns_ns_create_named",
        "netns_dir",
        &[("name", S::Str(c"no/such"))],
    ),
    (
        "netns_ns_delete_named",
        "netns_dir",
        &[("name", S::Str(c"no/such"))],
    ),
    ("netns_ns_list", "netns_dir", &[]),
    ("netns_handle_new", "netns_path", &[]),
    ("netns_link_add_veth", "peer_netns_path", &[]),
    ("netns_link_add_vxlan", "parent", &[]),
    ("netns_link_set_controller", "controller", &[]),
    ("netns_addr_list", "ifname", &[]),
    ("netns_route_add", "gateway", &[]),
    ("netns_route_add", "ifname", &[]),
    ("netns_route_replace", "gateway", &[]),
    ("netns_route_replace", "ifname", &[]),
    ("netns_route_del", "gateway", &[]),
    ("netns_route_del", "ifname", &[]),
    ("netns_neigh_list", "ifname", &[]),
    ("netns_batch_route_add", "gateway", &[]),
    ("netns_batch_route_add", "ifname", &[]),
];

/// What an infallible function documents for NULL where that is not the
/// generic 0, NULL, false.
#[derive(Debug)]
enum Empty {
    Str(&'static CStr),
    Int(i64),
}

const NULL_READS_AS: &[(&str, Empty)] = &[
    ("netns_error_message", Empty::Str(c"")),
    ("netns_outcomes_code", Empty::Int(NETNS_ERR_INTERNAL as i64)),
];

/// Exports without pointer parameters (nothing to pass NULL to).
const NO_POINTERS: &[&str] = &["netns_version", "netns_abi_version"];

const BAD_UTF8: &CStr = c"bad\xff\xfe";
const SENTINEL: usize = 0x5a5a_5a5a_5a5a_5a5a_u64 as usize;

fn is_fallible(f: &Function) -> bool {
    f.ret == "int32_t"
        && f.params
            .last()
            .is_some_and(|p| p.name == "err" && p.ty == "netns_error **")
}

fn is_pointer(ty: &str) -> bool {
    ty.ends_with('*')
}

/// An out-parameter: `T **` (the library stores a new object or string) or
/// a non-const pointer to a number.
fn is_out(ty: &str) -> bool {
    if let Some(inner) = ty.strip_suffix('*') {
        let inner = inner.trim_end();
        (inner.ends_with('*') && !inner.ends_with("const *"))
            || (!inner.contains('*')
                && !inner.starts_with("const ")
                && matches!(
                    inner,
                    "int32_t"
                        | "uint32_t"
                        | "int16_t"
                        | "uint16_t"
                        | "int64_t"
                        | "uint64_t"
                        | "size_t"
                        | "bool"
                        | "int"
                ))
    } else {
        false
    }
}

fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

fn message(err: *const netns_error) -> String {
    // SAFETY: netns_error_message returns a NUL-terminated string valid
    // until the error is freed (or a static "" for NULL).
    unsafe { CStr::from_ptr(netns_error_message(err)) }
        .to_string_lossy()
        .into_owned()
}

fn int(r: Ret, what: &str) -> i32 {
    match r {
        Ret::Int(n) => i32::try_from(n).unwrap(),
        other => panic!("{what}: returned {other:?}, not an int32_t"),
    }
}

/// The objects and strings the sample values point to.
struct Ctx {
    _netns_dir: TempNetnsDir,
    data_dir: TempNetnsDir,
    dir: CString,
    ns_path: CString,
    config: CString,
    true_argv: [*const c_char; 2],
    h: *mut netns_handle,
    ipam: *mut netns_ipam,
}

impl Ctx {
    /// Two named namespaces in a temporary netns directory: "other" (the
    /// handle's) and "third" (the paths'); neither is the calling thread's.
    fn new() -> Ctx {
        let netns_dir = TempNetnsDir::new();
        let dir = CString::new(netns_dir.path().to_str().unwrap()).unwrap();
        for name in [c"other", c"third"] {
            let mut err = null_mut();
            let rc = netns_ns_create_named(dir.as_ptr(), name.as_ptr(), &mut err);
            assert_eq!(rc, 0, "create {name:?}: {}", message(err));
        }
        let other = CString::new(netns_dir.path().join("other").to_str().unwrap()).unwrap();
        let ns_path = CString::new(netns_dir.path().join("third").to_str().unwrap()).unwrap();
        let mut h = null_mut();
        let mut err = null_mut();
        let rc = netns_handle_new(other.as_ptr(), &mut h, &mut err);
        assert_eq!(rc, 0, "handle on other: {}", message(err));
        let data_dir = TempNetnsDir::new();
        let json = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "rows-net",
            "ipam": {
                "type": "host-local",
                "dataDir": data_dir.path(),
                "ranges": [[{"subnet": "10.97.0.0/24", "gateway": "10.97.0.1"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        });
        let config = CString::new(json.to_string()).unwrap();
        let mut ipam = null_mut();
        let rc = netns_ipam_new(config.as_ptr(), &mut ipam, &mut err);
        assert_eq!(rc, 0, "ipam: {}", message(err));
        Ctx {
            _netns_dir: netns_dir,
            data_dir,
            dir,
            ns_path,
            config,
            true_argv: [c"true".as_ptr(), std::ptr::null()],
            h,
            ipam,
        }
    }

    /// The names in the netns directory, the links of the handle's
    /// namespace, the reservations in the data directory.
    fn state(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let take = |list: *mut netns_string_list| {
            let v = (0..netns_string_list_len(list))
                .map(|i| {
                    // SAFETY: i < len: valid until the list is freed.
                    unsafe { CStr::from_ptr(netns_string_list_get(list, i)) }
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            netns_string_list_free(list);
            v
        };
        let mut err = null_mut();
        let mut names = null_mut();
        assert_eq!(netns_ns_list(self.dir.as_ptr(), &mut names, &mut err), 0);
        let mut links = null_mut();
        assert_eq!(netns_link_names(self.h, &mut links, &mut err), 0);
        let mut taken: Vec<String> = std::fs::read_dir(self.data_dir.path().join("rows-net"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                    .collect()
            })
            .unwrap_or_default();
        taken.sort();
        (take(names), take(links), taken)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        netns_handle_free(self.h);
        netns_ipam_free(self.ipam);
    }
}

/// How one parameter is set in a row.
#[derive(Clone, Copy, PartialEq)]
enum Set {
    Null,
    BadUtf8,
    /// An array whose element `i` is not UTF-8 (the earlier ones valid).
    BadElement(usize),
}

/// The arguments of one call, and what they own.
struct Built {
    args: Vec<usize>,
    /// (parameter index, slot the out-parameter points to).
    outs: Vec<(usize, Box<[usize; 2]>)>,
    /// Objects made for this call: (free function, pointer).
    objects: Vec<(&'static Function, usize)>,
    _strings: Vec<Vec<*const c_char>>,
}

impl Drop for Built {
    fn drop(&mut self) {
        for (free, p) in self.objects.drain(..) {
            (free.call)(&[p]);
        }
    }
}

fn sample_for(func: &str, param: &str, ty: &str, extra: &[(&str, S)]) -> Option<S> {
    extra
        .iter()
        .find(|(p, _)| *p == param)
        .map(|(_, s)| *s)
        .or_else(|| {
            OVERRIDES
                .iter()
                .find(|(f, p, _)| *f == func && *p == param)
                .map(|(_, _, s)| *s)
        })
        .or_else(|| {
            SAMPLES
                .iter()
                .find(|(p, t, _)| *p == param && *t == ty)
                .map(|(_, _, s)| *s)
        })
}

/// A new object from a `*_new` function of the table: `new(args..., &out, NULL)`.
fn make(new: &str, free: &str, args: &[usize]) -> (&'static Function, usize) {
    let newf = function(new).unwrap_or_else(|| panic!("a sample needs {new}"));
    let freef = function(free).unwrap_or_else(|| panic!("a sample needs {free}"));
    let mut out: usize = 0;
    let mut err: *mut netns_error = null_mut();
    let mut a = args.to_vec();
    a.push(&raw mut out as usize);
    a.push(&raw mut err as usize);
    let rc = int((newf.call)(&a), new);
    assert_eq!(rc, 0, "{new} for a sample: {}", message(err));
    assert_ne!(out, 0);
    (freef, out)
}

/// The arguments of `f` but `err` (the caller appends it): valid samples,
/// except parameter `special.0`, set as `special.1`.
fn build(
    ctx: &Ctx,
    f: &Function,
    special: Option<(usize, Set)>,
    extra: &[(&str, S)],
) -> Result<Built, String> {
    let mut b = Built {
        args: Vec::new(),
        outs: Vec::new(),
        objects: Vec::new(),
        _strings: Vec::new(),
    };
    let n = f.params.len() - usize::from(is_fallible(f));
    for (i, p) in f.params[..n].iter().enumerate() {
        match special {
            Some((k, Set::Null)) if k == i => {
                b.args.push(0);
                continue;
            }
            Some((k, Set::BadUtf8)) if k == i => {
                b.args.push(BAD_UTF8.as_ptr() as usize);
                continue;
            }
            Some((k, Set::BadElement(e))) if k == i => {
                let mut v: Vec<*const c_char> = (0..e).map(|_| c"true".as_ptr()).collect();
                v.push(BAD_UTF8.as_ptr());
                v.push(std::ptr::null());
                b.args.push(v.as_ptr() as usize);
                b._strings.push(v);
                continue;
            }
            _ => {}
        }
        if is_out(p.ty) {
            let mut slot = Box::new([SENTINEL; 2]);
            b.args.push(slot.as_mut_ptr() as usize);
            b.outs.push((i, slot));
            continue;
        }
        let Some(s) = sample_for(f.name, p.name, p.ty, extra) else {
            return Err(format!(
                "no sample value for parameter `{}` ({}) of {}: add a line to SAMPLES in \
                 netns-ffi/tests/abi_rows.rs",
                p.name, p.ty, f.name
            ));
        };
        let v = match s {
            S::Str(c) => c.as_ptr() as usize,
            S::Int(n) => n as usize,
            S::NetnsDir => ctx.dir.as_ptr() as usize,
            S::NsPath => ctx.ns_path.as_ptr() as usize,
            S::Argv => ctx.true_argv.as_ptr() as usize,
            S::IpamConfig => ctx.config.as_ptr() as usize,
            S::Handle => ctx.h as usize,
            S::Ipam => ctx.ipam as usize,
            S::Spec(kind) => {
                let o = make(
                    "netns_link_spec_new",
                    "netns_link_spec_free",
                    &[kind.as_ptr() as usize, c"bt0".as_ptr() as usize],
                );
                b.objects.push(o);
                if kind == c"veth" {
                    // The key a veth requires, so that adding it can succeed.
                    let set = function("netns_link_spec_set_peer").expect("set_peer");
                    let rc = int((set.call)(&[o.1, c"bt1".as_ptr() as usize, 0]), set.name);
                    assert_eq!(rc, 0, "veth spec's peer");
                }
                o.1
            }
            S::Batch => {
                let o = make("netns_batch_new", "netns_batch_free", &[]);
                b.objects.push(o);
                o.1
            }
        };
        b.args.push(v);
    }
    Ok(b)
}

/// Call `f` with `args` and `err` appended.
fn call(f: &Function, args: &[usize], err: *mut *mut netns_error) -> i32 {
    let mut a = args.to_vec();
    a.push(err as usize);
    int((f.call)(&a), f.name)
}

/// Free what a successful call stored in its out-parameters (with the free
/// function of the out-parameter's type, from the table), reap a spawned
/// child.
fn release_outputs(f: &Function, b: &Built) {
    for (i, slot) in &b.outs {
        let p = &f.params[*i];
        if slot[0] == SENTINEL {
            panic!("{}: success without writing {}", f.name, p.name);
        }
        if let Some(inner) = p.ty.strip_suffix('*').filter(|t| t.ends_with('*')) {
            let inner = inner.trim_end();
            let free = FUNCTIONS
                .iter()
                .find(|g| {
                    g.ret == "void"
                        && g.name.ends_with("_free")
                        && g.params.len() == 1
                        && g.params[0].ty == inner
                })
                .unwrap_or_else(|| {
                    panic!("no free function for {inner} ({} of {})", p.name, f.name)
                });
            (free.call)(&[slot[0]]);
        } else if p.name.ends_with("pid") {
            // SAFETY: the library wrote an int32_t (the child's pid) at the
            // start of the slot.
            let pid = unsafe { *slot.as_ptr().cast::<i32>() };
            let mut status = 0;
            // SAFETY: pid is this process's child, started by the call.
            let got = unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(got, pid, "{}: reap {pid}", f.name);
        }
    }
}

fn assert_outs_untouched(what: &str, f: &Function, b: &Built) {
    for (i, slot) in &b.outs {
        assert_eq!(
            **slot, [SENTINEL; 2],
            "{what}: out-parameter {} was written on failure",
            f.params[*i].name
        );
    }
}

/// `f` with parameter `k` set as `set` fails with `code` and a message
/// containing `needle`, with `err` and with `err` NULL, out-parameters
/// untouched.
fn expect_row(
    ctx: &Ctx,
    f: &Function,
    k: usize,
    set: Set,
    code: i32,
    needle: &str,
) -> Result<(), String> {
    let what = format!("{}({})", f.name, needle);
    for with_err in [true, false] {
        let b = build(ctx, f, Some((k, set)), &[])?;
        let mut err: *mut netns_error = null_mut();
        let rc = call(f, &b.args, if with_err { &mut err } else { null_mut() });
        let msg = message(err);
        netns_error_free(err);
        if rc == 0 {
            release_outputs(f, &b);
        }
        assert_eq!(
            rc, code,
            "{what}: rc {rc}, message {msg:?} (err given: {with_err})"
        );
        if with_err {
            assert!(!err.is_null(), "{what}: no error object");
            assert!(
                msg.contains(needle),
                "{what}: message {msg:?} lacks {needle:?}"
            );
        }
        assert_outs_untouched(&what, f, &b);
    }
    Ok(())
}

/// Runs `rows`, collecting the missing sample values into one failure.
fn run_rows(rows: impl FnOnce(&mut Vec<String>, &mut usize)) -> usize {
    let mut missing = Vec::new();
    let mut count = 0;
    rows(&mut missing, &mut count);
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    count
}

#[test]
fn the_table_has_the_abis_shape() {
    assert!(FUNCTIONS.len() > 30, "{} functions", FUNCTIONS.len());
    for f in FUNCTIONS {
        assert!(f.name.starts_with("netns_"), "{}", f.name);
        for (i, p) in f.params.iter().enumerate() {
            if p.ty == "netns_error **" {
                assert!(
                    is_fallible(f) && i + 1 == f.params.len(),
                    "{}: netns_error ** must be the last parameter `err` of an int32_t function",
                    f.name
                );
            }
        }
        let pointers = f.params.iter().any(|p| is_pointer(p.ty));
        assert!(
            pointers || NO_POINTERS.contains(&f.name),
            "{} has no pointer parameter: add it to NO_POINTERS if that is right",
            f.name
        );
        if is_fallible(f) {
            // The header's rule: object first, outputs last (before err).
            let n = f.params.len() - 1;
            if let Some(first_out) = f.params[..n].iter().position(|p| is_out(p.ty)) {
                assert!(
                    f.params[first_out..n].iter().all(|p| is_out(p.ty)),
                    "{}: an input after an output",
                    f.name
                );
            }
        }
    }
    for name in NO_POINTERS {
        assert!(
            function(name).is_some(),
            "NO_POINTERS names {name}, not in the header"
        );
    }
    // Every NULL_OK entry is a pointer parameter of a fallible function of the
    // header (a stale entry fails), or a function not landed yet.
    for (func, param, _) in NULL_OK {
        if let Some(f) = function(func) {
            assert!(is_fallible(f), "NULL_OK: {func} is not fallible");
            assert!(
                f.params
                    .iter()
                    .any(|p| p.name == *param && is_pointer(p.ty)),
                "NULL_OK: {func} has no pointer parameter {param}"
            );
        }
    }
}

#[test]
fn null_for_every_pointer_of_every_fallible_function() {
    in_private_netns(|| {
        let ctx = Ctx::new();
        let before = ctx.state();
        let mut rows_run = Vec::new();
        // Pass 1, the required pointers; pass 2, the ones that may be NULL
        // (which may do real work, in the handle's namespace).
        let mut count = 0;
        for accepted in [false, true] {
            count += run_rows(|missing, count| {
                for f in FUNCTIONS.iter().filter(|f| is_fallible(f)) {
                    for (k, p) in f.params[..f.params.len() - 1].iter().enumerate() {
                        if !is_pointer(p.ty) {
                            continue;
                        }
                        let ok = NULL_OK
                            .iter()
                            .find(|(g, q, _)| *g == f.name && *q == p.name);
                        let result = match (ok, accepted) {
                            (None, false) => expect_row(
                                &ctx,
                                f,
                                k,
                                Set::Null,
                                NETNS_ERR_NULL_POINTER,
                                &format!("{} is NULL", p.name),
                            ),
                            (Some((_, _, extra)), true) => {
                                build(&ctx, f, Some((k, Set::Null)), extra)
                                    .map(|b| expect_null_accepted(f, p.name, &b))
                            }
                            _ => continue,
                        };
                        match result {
                            Ok(()) => {
                                *count += 1;
                                let tag = if accepted { " (may be NULL)" } else { "" };
                                rows_run.push(format!("{},{}{tag}", f.name, p.name));
                            }
                            Err(m) => missing.push(m),
                        }
                    }
                }
            });
            if !accepted {
                // Nothing was created by the refused calls.
                assert_eq!(ctx.state(), before);
            }
        }
        write_rows("null", &rows_run);
        assert!(count > 60, "{count} rows");
    });
}

/// A call with a parameter documented as "may be NULL" set to NULL: not
/// NETNS_ERR_NULL_POINTER (success or another failure are both fine).
fn expect_null_accepted(f: &Function, param: &str, b: &Built) {
    let mut err: *mut netns_error = null_mut();
    let rc = call(f, &b.args, &mut err);
    let msg = message(err);
    netns_error_free(err);
    assert_ne!(
        rc, NETNS_ERR_NULL_POINTER,
        "{}({param} = NULL) is documented as accepted: {msg}",
        f.name
    );
    if rc == 0 {
        release_outputs(f, b);
    } else {
        assert_outs_untouched(f.name, f, b);
    }
}

#[test]
fn invalid_utf8_in_every_string_of_every_fallible_function() {
    in_private_netns(|| {
        let ctx = Ctx::new();
        let before = ctx.state();
        let mut rows_run = Vec::new();
        let count = run_rows(|missing, count| {
            for f in FUNCTIONS.iter().filter(|f| is_fallible(f)) {
                for (k, p) in f.params.iter().enumerate() {
                    let rows: Vec<(Set, String)> = match p.ty {
                        "const char *" => vec![(Set::BadUtf8, p.name.to_owned())],
                        "const char *const *" => vec![
                            (Set::BadElement(0), format!("{}[i]", p.name)),
                            (Set::BadElement(1), format!("{}[i]", p.name)),
                        ],
                        _ => continue,
                    };
                    for (set, label) in rows {
                        let needle = format!("{label} is not valid UTF-8");
                        match expect_row(&ctx, f, k, set, NETNS_ERR_INVALID_UTF8, &needle) {
                            Ok(()) => {
                                *count += 1;
                                rows_run.push(format!("{},{label}", f.name));
                            }
                            Err(m) => missing.push(m),
                        }
                    }
                }
            }
        });
        write_rows("utf8", &rows_run);
        assert!(count > 45, "{count} rows");
        assert_eq!(ctx.state(), before);
    });
}

#[test]
fn no_fallible_function_moves_the_calling_thread() {
    in_private_netns(|| {
        let start = thread_netns_inode();
        let ctx = Ctx::new();
        let mut rows_run = Vec::new();
        let count = run_rows(|missing, count| {
            for f in FUNCTIONS.iter().filter(|f| is_fallible(f)) {
                let b = match build(&ctx, f, None, &[]) {
                    Ok(b) => b,
                    Err(m) => {
                        missing.push(m);
                        continue;
                    }
                };
                let sentinel = std::ptr::dangling_mut::<netns_error>();
                let mut err = sentinel;
                let rc = call(f, &b.args, &mut err);
                let msg = if rc == 0 { String::new() } else { message(err) };
                rows_run.push(format!("{},rc {rc} {msg}", f.name));
                assert_eq!(
                    thread_netns_inode(),
                    start,
                    "{} moved the calling thread (rc {rc})",
                    f.name
                );
                if rc == 0 {
                    assert_eq!(err, sentinel, "{}: *err written on success", f.name);
                    release_outputs(f, &b);
                } else {
                    assert!(
                        err != sentinel && !err.is_null(),
                        "{}: rc {rc} without an error",
                        f.name
                    );
                    assert_eq!(netns_error_code(err), rc, "{}", f.name);
                    netns_error_free(err);
                    assert_outs_untouched(f.name, f, &b);
                }
                *count += 1;
            }
        });
        write_rows("thread", &rows_run);
        assert!(count > 25, "{count} rows");
        // The work happened in the other namespaces: the thread's own has only lo.
        let links = ip(["-o", "link", "show"]);
        assert_eq!(links.lines().count(), 1, "{links}");
        drop(ctx);
    });
}

#[test]
fn infallible_exports_take_null() {
    let mut count = 0;
    for f in FUNCTIONS.iter().filter(|f| !is_fallible(f)) {
        if !f.params.iter().any(|p| is_pointer(p.ty)) {
            continue;
        }
        for n in [0, usize::MAX] {
            let args: Vec<usize> = f
                .params
                .iter()
                .map(|p| if is_pointer(p.ty) { 0 } else { n })
                .collect();
            let r = (f.call)(&args);
            match NULL_READS_AS.iter().find(|(g, _)| *g == f.name) {
                Some((_, Empty::Str(want))) => {
                    let Ret::Ptr(p) = r else {
                        panic!("{}: {r:?}", f.name)
                    };
                    assert_ne!(p, 0, "{} on NULL", f.name);
                    // SAFETY: the function returns a NUL-terminated string.
                    let got = unsafe { CStr::from_ptr(p as *const c_char) };
                    assert_eq!(got, *want, "{}", f.name);
                    continue;
                }
                Some((_, Empty::Int(want))) => {
                    assert_eq!(r, Ret::Int(*want), "{} on NULL", f.name);
                    continue;
                }
                None => {}
            }
            let want = match f.ret {
                "void" => Ret::Void,
                "bool" => Ret::Bool(false),
                t if t.ends_with('*') => Ret::Ptr(0),
                _ => Ret::Int(0),
            };
            assert_eq!(r, want, "{} on NULL (integers {n})", f.name);
        }
        count += 1;
    }
    assert!(count >= 7, "{count}");
}

/// The rows run, in a file for comparing with older tables
/// (target/abi-rows-KIND.txt).
fn write_rows(kind: &str, rows: &[String]) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(
        dir.join(format!("abi-rows-{kind}.txt")),
        rows.join("\n") + "\n",
    );
}
