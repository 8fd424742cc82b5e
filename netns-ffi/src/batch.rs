//! ABI version 2: batches. Requests are collected in a `netns_batch` (each
//! checked as it is added, so a bad argument fails that call and is not
//! kept), sent together on a handle by [`netns_batch_execute`], and each
//! gets its own outcome: one refused request does not stop the others.
//! Like `ip -batch FILE` with `-force`.

use std::ffi::{c_char, CString};

use netns_core::{AddrSpec, LinkId, NeighSpec, NetNs, RouteSpec};

use crate::more::neigh_spec;
use crate::objects::{addr_spec_brd, route_spec, with_handle};
use crate::read::{cstring, free_box, opt_ptr};
use crate::spec::netns_link_spec;
use crate::{
    boundary, guard, netns_error, obj, obj_mut, out_ptr, req_str, Failure, FfiResult,
    NETNS_ERR_INTERNAL,
};

#[derive(Debug, Clone)]
enum Op {
    LinkAdd(Box<netns_link_spec>),
    LinkSetUp(String),
    LinkDel(String),
    AddrAdd(AddrSpec),
    RouteAdd(RouteSpec),
    NeighReplace(NeighSpec),
}

impl Op {
    /// The link an address, route or neighbour request names, which the
    /// core batch looks up before sending.
    fn names(&self) -> Option<&str> {
        match self {
            Op::AddrAdd(a) => link_name(&a.link),
            Op::RouteAdd(r) => r.link.as_ref().and_then(link_name),
            Op::NeighReplace(n) => link_name(&n.link),
            _ => None,
        }
    }

    fn push_to(&self, batch: &mut netns_core::Batch<'_>, peer: Option<&NetNs>) -> FfiResult {
        match self {
            Op::LinkAdd(s) => {
                batch.link_add(&s.build(peer)?);
            }
            Op::LinkSetUp(n) => {
                batch.link_set_up(n.as_str());
            }
            Op::LinkDel(n) => {
                batch.link_del(n.as_str());
            }
            Op::AddrAdd(a) => {
                batch.addr_add(a);
            }
            Op::RouteAdd(r) => {
                batch.route_add(r);
            }
            Op::NeighReplace(n) => {
                batch.neigh_replace(n);
            }
        }
        Ok(())
    }
}

fn link_name(l: &LinkId) -> Option<&str> {
    match l {
        LinkId::Name(n) => Some(n.as_str()),
        _ => None,
    }
}

/// Requests to send together. Made by [`netns_batch_new`], filled by the
/// `netns_batch_*` functions, sent by [`netns_batch_execute`] (as often as
/// wanted: it is not consumed), freed with [`netns_batch_free`]. A batch
/// is not shared: do not change it while another thread uses it.
pub struct netns_batch {
    ops: Vec<Op>,
}

/// A new, empty batch in `*out`.
#[no_mangle]
pub extern "C" fn netns_batch_new(out: *mut *mut netns_batch, err: *mut *mut netns_error) -> i32 {
    boundary(err, || {
        let out = out_ptr(out, "out")?;
        *out = Box::into_raw(Box::new(netns_batch { ops: Vec::new() }));
        Ok(())
    })
}

fn push(
    b: *mut netns_batch,
    err: *mut *mut netns_error,
    op: impl FnOnce() -> FfiResult<Op>,
) -> i32 {
    boundary(err, || {
        let b = obj_mut(b, "b")?;
        let op = op()?;
        b.ops.push(op);
        Ok(())
    })
}

/// Add a link creation (a copy of `s`, which stays the caller's) to the
/// batch; a spec that lacks a required key fails here. A veth's
/// `peer_netns` is opened when the batch is executed.
#[no_mangle]
pub extern "C" fn netns_batch_link_add(
    b: *mut netns_batch,
    s: *const netns_link_spec,
    err: *mut *mut netns_error,
) -> i32 {
    push(b, err, || {
        let s = obj(s, "s")?;
        s.build(None)?;
        Ok(Op::LinkAdd(Box::new(s.clone())))
    })
}

/// Add `ip link set NAME up` to the batch.
#[no_mangle]
pub extern "C" fn netns_batch_link_set_up(
    b: *mut netns_batch,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    push(b, err, || {
        Ok(Op::LinkSetUp(req_str(name, "name")?.to_owned()))
    })
}

/// Add `ip link del NAME` to the batch.
#[no_mangle]
pub extern "C" fn netns_batch_link_del(
    b: *mut netns_batch,
    name: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    push(b, err, || {
        Ok(Op::LinkDel(req_str(name, "name")?.to_owned()))
    })
}

/// Add an address, as `netns_addr_add` does, to the batch.
#[no_mangle]
pub extern "C" fn netns_batch_addr_add(
    b: *mut netns_batch,
    ifname: *const c_char,
    cidr: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    push(b, err, || Ok(Op::AddrAdd(addr_spec_brd(ifname, cidr)?)))
}

/// Add a route, arguments as for `netns_route_add`, to the batch.
#[no_mangle]
pub extern "C" fn netns_batch_route_add(
    b: *mut netns_batch,
    dst: *const c_char,
    gateway: *const c_char,
    ifname: *const c_char,
    metric: u32,
    err: *mut *mut netns_error,
) -> i32 {
    push(b, err, || {
        Ok(Op::RouteAdd(route_spec(dst, gateway, ifname, metric)?))
    })
}

/// Add a permanent neighbour entry, as `netns_neigh_replace` does, to the
/// batch.
#[no_mangle]
pub extern "C" fn netns_batch_neigh_replace(
    b: *mut netns_batch,
    ifname: *const c_char,
    ip: *const c_char,
    mac: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    push(b, err, || {
        Ok(Op::NeighReplace(neigh_spec(ifname, ip, mac)?))
    })
}

/// The number of requests in a batch; 0 if `b` is NULL.
#[no_mangle]
pub extern "C" fn netns_batch_len(b: *const netns_batch) -> usize {
    guard(0, || obj(b, "b").map_or(0, |b| b.ops.len()))
}

/// Free a batch. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_batch_free(b: *mut netns_batch) {
    free_box(b)
}

/// The outcome of each request of an executed batch, in the order they were
/// added. Free with [`netns_outcomes_free`].
pub struct netns_outcomes {
    items: Vec<(i32, Option<CString>)>,
}

/// Send every request of `b` on `h`, in order; on success `*out` holds one
/// outcome per request. A request may name a link an earlier request of
/// the batch creates. The call itself fails (and `*out` is not written)
/// only when nothing could be sent (a veth's peer namespace cannot be
/// opened: nothing was sent) or the socket failed (then some requests may
/// have been applied). Each request is handled by the kernel on its own,
/// its outcome a code as any call returns (0, an errno, a library code)
/// and the message an error of its own call would carry.
#[no_mangle]
pub extern "C" fn netns_batch_execute(
    h: *const crate::netns_handle,
    b: *const netns_batch,
    out: *mut *mut netns_outcomes,
    err: *mut *mut netns_error,
) -> i32 {
    with_handle(h, err, |h| {
        let b = obj(b, "b")?;
        let out = out_ptr(out, "out")?;
        // Open every peer namespace first: if one fails, nothing is sent.
        let peers = b
            .ops
            .iter()
            .map(|op| match op {
                Op::LinkAdd(s) => s.open_peer_ns(),
                _ => Ok(None),
            })
            .collect::<FfiResult<Vec<Option<NetNs>>>>()?;
        // The core batch resolves the link names of address, route and
        // neighbour requests before it sends anything: a request naming a
        // link that an earlier link_add of the same batch creates starts a
        // new round, sent after the rounds before it.
        let mut items = Vec::with_capacity(b.ops.len());
        let mut start = 0;
        while start < b.ops.len() {
            let mut made: Vec<&str> = Vec::new();
            let mut end = start;
            while end < b.ops.len() {
                if b.ops[end].names().is_some_and(|n| made.contains(&n)) && end > start {
                    break;
                }
                if let Op::LinkAdd(s) = &b.ops[end] {
                    made.extend(s.names_here());
                }
                end += 1;
            }
            let mut batch = h.batch();
            for (op, peer) in b.ops[start..end].iter().zip(&peers[start..end]) {
                op.push_to(&mut batch, peer.as_ref())?;
            }
            items.extend(batch.execute()?.into_iter().map(|r| match r {
                Ok(()) => (0, None),
                Err(e) => {
                    let f = Failure::from(e);
                    (f.code, Some(cstring(f.message)))
                }
            }));
            start = end;
        }
        *out = Box::into_raw(Box::new(netns_outcomes { items }));
        Ok(())
    })
}

/// The number of outcomes; 0 if `o` is NULL.
#[no_mangle]
pub extern "C" fn netns_outcomes_len(o: *const netns_outcomes) -> usize {
    guard(0, || obj(o, "o").map_or(0, |o| o.items.len()))
}

/// The code of request `i`: 0 if it was done; NETNS_ERR_INTERNAL past the
/// end or if `o` is NULL.
#[no_mangle]
pub extern "C" fn netns_outcomes_code(o: *const netns_outcomes, i: usize) -> i32 {
    guard(NETNS_ERR_INTERNAL, || {
        obj(o, "o")
            .ok()
            .and_then(|o| o.items.get(i))
            .map_or(NETNS_ERR_INTERNAL, |x| x.0)
    })
}

/// The error message of request `i`, valid until the outcomes are freed;
/// NULL if it was done, past the end, or if `o` is NULL.
#[no_mangle]
pub extern "C" fn netns_outcomes_message(o: *const netns_outcomes, i: usize) -> *const c_char {
    guard(std::ptr::null(), || {
        obj(o, "o")
            .ok()
            .and_then(|o| o.items.get(i))
            .map_or(std::ptr::null(), |x| opt_ptr(&x.1))
    })
}

/// Free the outcomes. NULL is a no-op.
#[no_mangle]
pub extern "C" fn netns_outcomes_free(o: *mut netns_outcomes) {
    free_box(o)
}
