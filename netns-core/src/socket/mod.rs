//! The synchronous netlink socket (NETLINK_ROUTE, and NETLINK_NETFILTER for
//! nftables): the only module that touches netlink framing (sequence
//! numbers, flags, buffers, ACK / error / extended ack, dump loops,
//! NLM_F_DUMP_INTR, nfnetlink transactions).
//!
//! # Verbs and flags
//!
//! Every request is sent with exactly the flags of its [`Verb`]; this table is
//! the one place they are written:
//!
//! | verb        | flags                               | iproute2 analogue     | answer                 |
//! |-------------|-------------------------------------|-----------------------|------------------------|
//! | `Add`       | REQUEST, ACK, CREATE, EXCL          | `ip ... add`          | ACK or error           |
//! | `Replace`   | REQUEST, ACK, CREATE, REPLACE       | `ip ... replace`      | ACK or error           |
//! | `Append`    | REQUEST, ACK, CREATE, APPEND        | `ip route append`     | ACK or error           |
//! | `Change`    | REQUEST, ACK                        | `ip link set`         | ACK or error           |
//! | `Del`       | REQUEST, ACK                        | `ip ... del`          | ACK or error           |
//! | `Get`       | REQUEST                             | `ip link show dev X`  | one object or error    |
//! | `Dump`      | REQUEST, DUMP                       | `ip link show`        | objects, NLMSG_DONE    |
//!
//! # Sockets
//!
//! Each socket is bound to a kernel-chosen port id and connected to the kernel
//! (port 0), so no other process can send to it. NETLINK_EXT_ACK,
//! NETLINK_CAP_ACK and NETLINK_GET_STRICT_CHK are turned on: errors carry the
//! kernel's text, ACKs do not echo the request, and the kernel checks dump
//! requests strictly (so a filter it cannot apply is an error, not ignored).
//!
//! # Buffers
//!
//! The send and receive buffers live in the socket and are reused, so a
//! request allocates nothing in this module beyond the data it returns. Every
//! receive passes MSG_TRUNC, so the kernel reports a datagram's real length:
//! the receive buffer (64 KiB, larger than the 32 KiB the kernel fills a dump
//! datagram with) grows when a datagram did not fit, and a read-only request
//! that lost one is repeated; a truncated reply is never parsed as if whole.
//!
//! # nfnetlink transactions
//!
//! [`NlSocket::transaction`] sends nftables changes as one nfnetlink batch:
//! NFNL_MSG_BATCH_BEGIN, the messages, NFNL_MSG_BATCH_END, in one datagram,
//! which the kernel applies all or nothing. Only the inner messages ask for
//! an ACK (kernels before 6.10 never acknowledge BEGIN and END); each is
//! answered once, with 0 or its error, after the whole batch was processed.
//! A refusal of the batch itself (no CAP_NET_ADMIN, out of memory) answers
//! BEGIN's sequence number instead.
//!
//! # Notifications
//!
//! A socket that joined multicast groups ([`NlSocket::join_groups`])
//! receives the kernel's notifications; [`NlSocket::recv_notifications`]
//! waits for them with a deadline (poll(2), no sleeping) and reports lost
//! ones (ENOBUFS) as [`ErrorKind::ResyncNeeded`].
//!
//! Files: `mod.rs` the socket and its request loops, `frames.rs` the
//! messages of a datagram and the walk for one request's answer, `nack.rs`
//! `struct nlmsgerr` and the extended-ack TLVs.
//!
//! # References
//! [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html),
//! [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
//! linux/netlink.h (struct nlmsgerr, NLMSGERR_ATTR_*).

use std::fmt;
use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NLMSG_ERROR, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{
    protocols::{NETLINK_NETFILTER, NETLINK_ROUTE},
    Socket, SocketAddr,
};

use crate::error::{Error, ErrorKind, Result};

mod frames;
mod nack;

use frames::{walk, Event, Step};
pub(crate) use frames::{walk_any, Messages, Reply};
pub(crate) use nack::{parse_done_payload, parse_error_payload, Nack};

/// Initial receive buffer size. The kernel fills dump datagrams up to the
/// largest receive size it has seen, capped at 32 KiB; a single message
/// larger than that (a link with hundreds of VFs) makes the buffer grow.
const RX_INITIAL: usize = 64 * 1024;
/// The receive buffer never grows beyond this (a reply claiming more is a
/// protocol error).
const RX_MAX: usize = 16 * 1024 * 1024;
/// How often a read-only request is repeated when a reply did not fit the
/// receive buffer (each time with a buffer large enough for what was lost).
const TRUNC_RETRIES: u32 = 3;
/// Default number of attempts for a dump interrupted by concurrent changes.
pub const DEFAULT_DUMP_ATTEMPTS: u32 = 5;
/// Size of struct nlmsghdr.
const NLMSG_HDRLEN: usize = 16;

/// What a request does; decides its netlink flags (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// Create; fail if it exists.
    Add,
    /// Create or replace.
    Replace,
    /// Create alongside existing ones (route append).
    Append,
    /// Change an existing object.
    Change,
    /// Delete.
    Del,
    /// Fetch one object.
    Get,
    /// Fetch all objects.
    Dump,
}

impl Verb {
    /// The netlink flags of this verb: the table in the module docs.
    pub(crate) const fn flags(self) -> u16 {
        match self {
            Verb::Add => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            Verb::Replace => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            Verb::Append => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND,
            Verb::Change | Verb::Del => NLM_F_REQUEST | NLM_F_ACK,
            Verb::Get => NLM_F_REQUEST,
            Verb::Dump => NLM_F_REQUEST | NLM_F_DUMP,
        }
    }

    /// Whether repeating the request is harmless.
    const fn read_only(self) -> bool {
        matches!(self, Verb::Get | Verb::Dump)
    }
}

pub(crate) const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A request the socket can send: its message type and its payload (the
/// bytes after the netlink header), appended to the send buffer.
pub(crate) trait Request {
    /// The netlink message type (RTM_GETLINK...).
    fn message_type(&self) -> u16;
    /// Append the payload to `tx`.
    fn append_payload(&self, tx: &mut Vec<u8>);
}

impl Request for RouteNetlinkMessage {
    fn message_type(&self) -> u16 {
        use netlink_packet_core::NetlinkSerializable;
        NetlinkSerializable::message_type(self)
    }

    fn append_payload(&self, tx: &mut Vec<u8>) {
        use netlink_packet_core::NetlinkSerializable;
        let start = tx.len();
        tx.resize(start + self.buffer_len(), 0);
        self.serialize(&mut tx[start..]);
    }
}

/// A request whose payload is written by hand (the hot path's, where
/// building a netlink-packet-route message would cost more than the
/// kernel's work): `build` appends it.
pub(crate) struct Built<F: Fn(&mut Vec<u8>)> {
    /// The netlink message type.
    pub message_type: u16,
    /// Appends the payload.
    pub build: F,
}

impl<F: Fn(&mut Vec<u8>)> Request for Built<F> {
    fn message_type(&self) -> u16 {
        self.message_type
    }

    fn append_payload(&self, tx: &mut Vec<u8>) {
        (self.build)(tx)
    }
}

/// The outcome of one request of a batch.
pub(crate) type BatchOutcome = std::result::Result<(), Nack>;

/// One message of an nfnetlink transaction: its type
/// (`subsystem << 8 | message`), the flags it adds to REQUEST|ACK
/// (CREATE, APPEND...), its `nfgenmsg` family, its attributes, and the
/// operation and object it is (for the error if the kernel refuses it).
#[derive(Debug, Clone)]
pub(crate) struct NfMessage {
    pub op: &'static str,
    pub message_type: u16,
    pub flags: u16,
    pub family: u8,
    pub attrs: Vec<u8>,
    pub object: String,
}

/// nfnetlink's batch delimiters (NFNL_MSG_BATCH_BEGIN / _END).
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
/// NFNL_BATCH_GENID, BEGIN's attribute: the generation the batch expects.
const NFNL_BATCH_GENID: u16 = 1;

/// Append `struct nfgenmsg` (family, version 0, resource id big-endian).
pub(crate) fn put_nfgenmsg(buf: &mut Vec<u8>, family: u8, res_id: u16) {
    buf.push(family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&res_id.to_be_bytes());
}

/// Append `struct nfgenmsg` with an explicit `version` (resource id 0).
/// ctnetlink reads the version of a delete that carries no tuple: 0 flushes
/// every family, nonzero only `family` (kernel `ctnetlink_del_conntrack`).
pub(crate) fn put_nfgenmsg_version(buf: &mut Vec<u8>, family: u8, version: u8) {
    buf.push(family);
    buf.push(version);
    buf.extend_from_slice(&0u16.to_be_bytes());
}

/// An nfnetlink request of `message_type`: `struct nfgenmsg` (`family`,
/// `version`, resource id 0), then `attrs`.
fn nf_request(
    message_type: u16,
    family: u8,
    version: u8,
    attrs: &[u8],
) -> Built<impl Fn(&mut Vec<u8>) + '_> {
    Built {
        message_type,
        build: move |tx: &mut Vec<u8>| {
            put_nfgenmsg_version(tx, family, version);
            tx.extend_from_slice(attrs);
        },
    }
}

/// The family and the attributes of an nfnetlink message's payload (what
/// follows `struct nfgenmsg`).
fn nf_payload<'p>(
    op: &'static str,
    object: &dyn fmt::Display,
    payload: &'p [u8],
) -> Result<(u8, &'p [u8])> {
    match (payload.first(), payload.get(4..)) {
        (Some(&family), Some(rest)) => Ok((family, rest)),
        _ => Err(Error::protocol(
            op,
            object.to_string(),
            "an nfnetlink message shorter than its nfgenmsg",
        )),
    }
}

/// A netlink socket (NETLINK_ROUTE or NETLINK_NETFILTER) bound in one
/// network namespace.
pub(crate) struct NlSocket {
    sock: Socket,
    port: u32,
    seq: u32,
    tx: Vec<u8>,
    rx: Vec<u8>,
    dump_attempts: u32,
    /// Whether the receive buffer has been raised for batching.
    batch_buffers: bool,
}

impl fmt::Debug for NlSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NlSocket")
            .field("port", &self.port)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl NlSocket {
    /// Open a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub(crate) fn open() -> Result<Self> {
        Self::open_protocol(NETLINK_ROUTE)
    }

    /// Open a NETLINK_NETFILTER socket in the calling thread's network
    /// namespace (nftables, conntrack).
    pub(crate) fn open_netfilter() -> Result<Self> {
        Self::open_protocol(NETLINK_NETFILTER)
    }

    fn open_protocol(protocol: isize) -> Result<Self> {
        let os = |what: &'static str| move |e: io::Error| Error::io("netlink_socket", what, e);
        let mut sock = Socket::new(protocol).map_err(os("socket"))?;
        let addr = sock.bind_auto().map_err(os("bind"))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(os("connect"))?;
        sock.set_ext_ack(true).map_err(os("NETLINK_EXT_ACK"))?;
        sock.set_cap_ack(true).map_err(os("NETLINK_CAP_ACK"))?;
        sock.set_netlink_get_strict_chk(true)
            .map_err(os("NETLINK_GET_STRICT_CHK"))?;
        Ok(NlSocket {
            sock,
            port: addr.port_number(),
            // Any start works; a fixed one makes traces easy to read.
            seq: 0,
            tx: Vec::with_capacity(4096),
            rx: Vec::with_capacity(RX_INITIAL),
            dump_attempts: DEFAULT_DUMP_ATTEMPTS,
            batch_buffers: false,
        })
    }

    /// The socket's file descriptor.
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.sock.as_raw_fd()
    }

    /// Join multicast groups (`RTNLGRP_*`): the socket then receives the
    /// kernel's notifications of those groups. Its receive buffer is raised
    /// (best effort), so that a burst overflows it less often.
    pub(crate) fn join_groups(&mut self, op: &'static str, groups: &[u32]) -> Result<()> {
        for &g in groups {
            self.sock
                .add_membership(g)
                .map_err(|e| Error::io(op, format!("group {g}"), e))?;
        }
        if setsockopt_int(&self.sock, libc::SO_RCVBUFFORCE, NOTIFY_RCVBUF).is_err() {
            let _ = setsockopt_int(&self.sock, libc::SO_RCVBUF, NOTIFY_RCVBUF);
        }
        Ok(())
    }

    /// Wait up to `timeout` (`None`: without limit) for a datagram of
    /// notifications and hand each of its messages to `f`. `Ok(false)`: none
    /// came in time. Notifications the kernel dropped because the receive
    /// queue was full (ENOBUFS), or one too large for the buffer, are an
    /// [`ErrorKind::ResyncNeeded`]: the caller must read the state again.
    pub(crate) fn recv_notifications(
        &mut self,
        op: &'static str,
        timeout: Option<std::time::Duration>,
        f: &mut dyn FnMut(Reply<'_>),
    ) -> Result<bool> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let wait_ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    // Round up, so a wait never ends before its deadline.
                    i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd for the duration of the call,
            // and its fd is owned by this socket.
            let rc = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::io(op, "poll", e));
            }
            if rc == 0 {
                return Ok(false);
            }
            let whole = match self.recv_datagram(op, &"notifications", true) {
                Ok(Some(w)) => w,
                // Woken without data (spurious): wait again.
                Ok(None) => continue,
                Err(e) if e.errno() == Some(libc::ENOBUFS) => {
                    return Err(Error::new(op, "notifications", ErrorKind::ResyncNeeded))
                }
                Err(e) => return Err(e),
            };
            if !whole {
                return Err(Error::new(op, "notifications", ErrorKind::ResyncNeeded));
            }
            for m in Messages::new(&self.rx) {
                let m = m.map_err(|d| Error::protocol(op, "notifications", d))?;
                if m.message_type >= NLMSG_MIN_TYPE {
                    f(Reply {
                        message_type: m.message_type,
                        payload: m.payload,
                    });
                }
            }
            return Ok(true);
        }
    }

    /// Set SO_RCVBUF (the kernel doubles it and applies its minimum).
    pub(crate) fn set_recv_buffer(&mut self, op: &'static str, bytes: usize) -> Result<()> {
        setsockopt_int(&self.sock, libc::SO_RCVBUF, bytes)
            .map_err(|e| Error::io(op, "SO_RCVBUF", e))
    }

    /// The port id the kernel gave this socket.
    pub(crate) fn port(&self) -> u32 {
        self.port
    }

    /// How many times a dump interrupted by concurrent changes is attempted.
    pub(crate) fn set_dump_attempts(&mut self, attempts: u32) {
        self.dump_attempts = attempts.max(1);
    }

    pub(crate) fn debug_set_recv_buffer(&mut self, bytes: usize) {
        self.rx = Vec::with_capacity(bytes);
    }

    pub(crate) fn dump_attempts(&self) -> u32 {
        self.dump_attempts
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Append `msg` with `verb`'s flags to the send buffer; returns its
    /// sequence number. Nothing is allocated once the buffer has grown to
    /// the largest request.
    fn push(&mut self, msg: &dyn Request, verb: Verb) -> u32 {
        self.push_flags(msg, verb.flags())
    }

    /// [`push`](Self::push) with explicit flags.
    fn push_flags(&mut self, msg: &dyn Request, flags: u16) -> u32 {
        let seq = self.next_seq();
        let start = self.tx.len();
        self.tx.resize(start + NLMSG_HDRLEN, 0);
        msg.append_payload(&mut self.tx);
        let len = self.tx.len() - start;
        let mut header = NetlinkBuffer::new(&mut self.tx[start..]);
        header.set_length(len as u32);
        header.set_message_type(msg.message_type());
        header.set_flags(flags);
        header.set_sequence_number(seq);
        header.set_port_number(0);
        self.tx.resize(start + align4(len), 0);
        seq
    }

    fn send_tx(&mut self, op: &'static str, object: &dyn fmt::Display) -> Result<()> {
        loop {
            match self.sock.send(&self.tx, 0) {
                Ok(n) if n == self.tx.len() => return Ok(()),
                Ok(n) => {
                    return Err(Error::protocol(
                        op,
                        object.to_string(),
                        format!("short netlink send: {n} of {} bytes", self.tx.len()),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(op, object.to_string(), e)),
            }
        }
    }

    /// Receive one datagram into `rx` (EINTR retried). Returns `Ok(false)` when
    /// the datagram was longer than the buffer: `rx` then holds its start, and
    /// the buffer has been grown for next time.
    fn recv_datagram(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        nonblock: bool,
    ) -> Result<Option<bool>> {
        let flags = libc::MSG_TRUNC | if nonblock { libc::MSG_DONTWAIT } else { 0 };
        self.rx.clear();
        let cap = self.rx.capacity();
        let n = loop {
            match self.sock.recv(&mut self.rx, flags) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if nonblock && e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                // ENOBUFS: the socket's receive queue overflowed and replies
                // were dropped. Reported, never ignored.
                Err(e) => return Err(Error::io(op, object.to_string(), e)),
            }
        };
        if n > cap {
            if n > RX_MAX {
                return Err(Error::protocol(
                    op,
                    object.to_string(),
                    format!("reply of {n} bytes exceeds the {RX_MAX}-byte limit"),
                ));
            }
            let want = n.next_power_of_two();
            self.rx.reserve(want - self.rx.len());
            return Ok(Some(false));
        }
        Ok(Some(true))
    }

    /// Send one request and wait for its ACK.
    pub(crate) fn ack(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        msg: impl Request,
        verb: Verb,
    ) -> Result<()> {
        debug_assert!(!verb.read_only());
        self.tx.clear();
        let seq = self.push(&msg, verb);
        self.send_tx(op, object)?;
        self.collect(op, object, seq, verb, &mut |_| Ok(()))
    }

    /// Send a GET and return the one object it answers with, parsed by `f`.
    pub(crate) fn get<T>(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        msg: impl Request,
        mut f: impl FnMut(Reply<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut out = None;
        self.read_only(op, object, &msg, Verb::Get, &mut |r| {
            if out.is_none() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        out.ok_or_else(|| Error::protocol(op, object.to_string(), "no reply to a get request"))
    }

    /// Send a dump request and return every object, each parsed by `f`
    /// (`None` skips it). An interrupted dump (NLM_F_DUMP_INTR) is repeated
    /// up to the socket's attempt count; partial data is never returned.
    pub(crate) fn dump<T>(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        msg: impl Request,
        mut f: impl FnMut(Reply<'_>) -> Result<Option<T>>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for _ in 0..self.dump_attempts {
            out.clear();
            let res = self.read_only(op, object, &msg, Verb::Dump, &mut |r| {
                if let Some(v) = f(r)? {
                    out.push(v);
                }
                Ok(())
            });
            match res {
                Err(e) if matches!(e.kind(), ErrorKind::DumpInterrupted { .. }) => continue,
                other => return other.map(|()| out),
            }
        }
        Err(Error::new(
            op,
            object.to_string(),
            ErrorKind::DumpInterrupted {
                attempts: self.dump_attempts,
            },
        ))
    }

    /// Send a read-only request, repeating it if a reply was truncated.
    fn read_only(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        msg: &dyn Request,
        verb: Verb,
        f: &mut dyn FnMut(Reply<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut tries = 0;
        loop {
            self.tx.clear();
            let seq = self.push(msg, verb);
            self.send_tx(op, object)?;
            match self.collect(op, object, seq, verb, f) {
                Err(e) if matches!(e.kind(), ErrorKind::Truncated) && tries < TRUNC_RETRIES => {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// Read the replies to request `seq` until it is complete: its ACK or
    /// error, its one GET reply, or the NLMSG_DONE of its dump. Messages with
    /// another sequence number or port (left over from an earlier request that
    /// failed half-way) are skipped.
    fn collect(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        seq: u32,
        verb: Verb,
        f: &mut dyn FnMut(Reply<'_>) -> Result<()>,
    ) -> Result<()> {
        // The first error of the caller's parser; the dump is still read to
        // its end so the socket stays in step.
        let mut parse_err: Option<Error> = None;
        let mut interrupted = false;
        let mut truncated = false;
        loop {
            let whole = match self.recv_datagram(op, object, truncated)? {
                Some(w) => w,
                // A truncated dump datagram may have held the NLMSG_DONE; the
                // kernel queues the next part of a dump during the receive
                // that takes the previous one, so an empty queue now means the
                // dump is over.
                None => return Err(Error::new(op, object.to_string(), ErrorKind::Truncated)),
            };
            if !whole {
                truncated = true;
                if verb != Verb::Dump {
                    // The single reply was lost.
                    if verb.read_only() {
                        return Err(Error::new(op, object.to_string(), ErrorKind::Truncated));
                    }
                    return Err(Error::protocol(
                        op,
                        object.to_string(),
                        "the kernel's answer did not fit the receive buffer",
                    ));
                }
            }
            let step = walk(
                &self.rx,
                seq,
                self.port,
                verb,
                truncated,
                &mut |ev| match ev {
                    Event::Data(r) => {
                        if parse_err.is_none() && !truncated {
                            if let Err(e) = f(r) {
                                parse_err = Some(e);
                            }
                        }
                    }
                    Event::Interrupted => interrupted = true,
                },
            );
            match step {
                Err(detail) => return Err(Error::protocol(op, object.to_string(), detail)),
                Ok(Step::More) => continue,
                Ok(Step::Finished(nack)) => {
                    if nack.code != 0 {
                        return Err(nack.into_error(op, object));
                    }
                    if truncated {
                        return Err(Error::new(op, object.to_string(), ErrorKind::Truncated));
                    }
                    if interrupted {
                        return Err(Error::new(
                            op,
                            object.to_string(),
                            ErrorKind::DumpInterrupted { attempts: 1 },
                        ));
                    }
                    return match parse_err {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                }
            }
        }
    }

    /// Apply `msgs` as one nfnetlink transaction of `subsystem`
    /// (NFNL_SUBSYS_NFTABLES...): all or nothing (see the module docs).
    /// The error is that of the first message the kernel refused, with its
    /// object; later messages of a refused batch may fail only because an
    /// earlier one did.
    ///
    /// `genid` (NFNL_BATCH_GENID): apply only if the ruleset is still at
    /// that generation, else the kernel refuses the batch (ERESTART).
    pub(crate) fn transaction(
        &mut self,
        op: &'static str,
        subsystem: u16,
        msgs: &[NfMessage],
        genid: Option<u32>,
    ) -> Result<()> {
        if msgs.is_empty() {
            return Ok(());
        }
        self.tx.clear();
        let delimiter = |message_type: u16, genid: Option<u32>| Built {
            message_type,
            build: move |tx: &mut Vec<u8>| {
                put_nfgenmsg(tx, libc::AF_UNSPEC as u8, subsystem);
                if let Some(id) = genid {
                    crate::nla::put(tx, NFNL_BATCH_GENID, &id.to_be_bytes());
                }
            },
        };
        let begin = self.push_flags(&delimiter(NFNL_MSG_BATCH_BEGIN, genid), NLM_F_REQUEST);
        for m in msgs {
            let req = nf_request(m.message_type, m.family, 0, &m.attrs);
            self.push_flags(&req, NLM_F_REQUEST | NLM_F_ACK | m.flags);
        }
        self.push_flags(&delimiter(NFNL_MSG_BATCH_END, None), NLM_F_REQUEST);
        self.send_tx(op, &"transaction")?;
        let mut answers: Vec<Option<Nack>> = vec![None; msgs.len()];
        // A refusal answering BEGIN's sequence number: nothing was applied.
        self.read_acks(
            op,
            "transaction",
            begin.wrapping_add(1),
            msgs.len(),
            Some(begin),
            &mut |i, nack| answers[i] = Some(nack),
        )?;
        for (m, nack) in msgs.iter().zip(answers) {
            if let Some(nack) = nack.filter(|n| n.code != 0) {
                return Err(nack.into_error(m.op, &m.object));
            }
        }
        Ok(())
    }

    /// Send a dump request of nfnetlink message type `message_type` for
    /// `family` (with filter attributes `attrs`) and return every object,
    /// each parsed by `f` from its attributes (after `struct nfgenmsg`) and
    /// its family.
    pub(crate) fn nf_dump<T>(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        message_type: u16,
        family: u8,
        attrs: &[u8],
        mut f: impl FnMut(u8, &[u8]) -> Result<Option<T>>,
    ) -> Result<Vec<T>> {
        let req = nf_request(message_type, family, 0, attrs);
        self.dump(op, object, req, |r| {
            let (fam, rest) = nf_payload(op, object, r.payload)?;
            f(fam, rest)
        })
    }

    /// Send a GET request of nfnetlink message type `message_type` (not a
    /// dump) and return its one answer, parsed by `f` from its family and
    /// attributes.
    pub(crate) fn nf_get<T>(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        message_type: u16,
        family: u8,
        attrs: &[u8],
        mut f: impl FnMut(u8, &[u8]) -> Result<T>,
    ) -> Result<T> {
        let req = nf_request(message_type, family, 0, attrs);
        self.get(op, object, req, |r| {
            let (fam, rest) = nf_payload(op, object, r.payload)?;
            f(fam, rest)
        })
    }

    /// Send one nfnetlink request of `message_type` outside a batch (for
    /// the subsystems that are not transactional, such as ctnetlink) with
    /// REQUEST|ACK, `struct nfgenmsg` (`family`, `version`) and `attrs`, and
    /// wait for its ACK.
    pub(crate) fn nf_ack(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        message_type: u16,
        family: u8,
        version: u8,
        attrs: &[u8],
    ) -> Result<()> {
        let req = nf_request(message_type, family, version, attrs);
        self.ack(op, object, req, Verb::Del)
    }

    /// Send many change requests in as few datagrams as the socket buffers
    /// allow, and return one outcome per request, in order. A refused request
    /// does not stop the kernel from processing the ones after it (each
    /// message of a datagram is handled and acknowledged on its own).
    pub(crate) fn batch(
        &mut self,
        op: &'static str,
        requests: Vec<(RouteNetlinkMessage, Verb)>,
    ) -> Result<Vec<BatchOutcome>> {
        let mut outcomes: Vec<BatchOutcome> = Vec::with_capacity(requests.len());
        let (max_bytes, max_acks) = self.batch_limits(op)?;
        let mut it = requests.into_iter().peekable();
        while it.peek().is_some() {
            self.tx.clear();
            let first_seq = self.seq.wrapping_add(1);
            let mut count = 0u32;
            while let Some((msg, _)) = it.peek() {
                if count > 0 && (self.tx.len() + msg_len(msg) > max_bytes || count >= max_acks) {
                    break;
                }
                let Some((msg, verb)) = it.next() else { break };
                // Every request of a batch asks for an ACK (no read-only verb
                // has a place here), so each one answers exactly once.
                debug_assert!(!verb.read_only());
                self.push(&msg, verb);
                count += 1;
            }
            self.send_tx(op, &"batch")?;
            let base = outcomes.len();
            outcomes.resize(base + count as usize, Ok(()));
            self.read_acks(
                op,
                "batch",
                first_seq,
                count as usize,
                None,
                &mut |i, nack| {
                    outcomes[base + i] = if nack.code == 0 { Ok(()) } else { Err(nack) };
                },
            )?;
        }
        Ok(outcomes)
    }

    /// Read the acknowledgements of the `count` requests sent with sequence
    /// numbers from `first` on, calling `on_ack` with each one's index and
    /// answer (once per request); an error answering `refused` (a batch
    /// header's sequence number) ends the wait with that error. Messages of
    /// other requests or ports are skipped.
    fn read_acks(
        &mut self,
        op: &'static str,
        what: &'static str,
        first: u32,
        count: usize,
        refused: Option<u32>,
        on_ack: &mut dyn FnMut(usize, Nack),
    ) -> Result<()> {
        let mut answered = vec![false; count];
        let mut pending = count;
        while pending > 0 {
            if self.recv_datagram(op, &what, false)? != Some(true) {
                return Err(Error::protocol(
                    op,
                    what,
                    "an acknowledgement did not fit the receive buffer",
                ));
            }
            for m in Messages::new(&self.rx) {
                let m = m.map_err(|d| Error::protocol(op, what, d))?;
                if m.port != self.port || m.message_type != NLMSG_ERROR {
                    continue;
                }
                let nack = parse_error_payload(m.flags, m.payload)
                    .map_err(|d| Error::protocol(op, what, d))?;
                if Some(m.seq) == refused {
                    if nack.code != 0 {
                        return Err(nack.into_error(op, &what));
                    }
                    continue;
                }
                let idx = m.seq.wrapping_sub(first) as usize;
                let Some(seen) = answered.get_mut(idx) else {
                    continue;
                };
                if !*seen {
                    *seen = true;
                    pending -= 1;
                }
                on_ack(idx, nack);
            }
        }
        Ok(())
    }

    /// How many request bytes and how many acknowledgements one datagram of a
    /// batch may carry. The kernel handles a whole datagram inside sendmsg()
    /// and queues every ACK on our receive buffer before we read any; an ACK
    /// that does not fit is dropped (ENOBUFS). So the receive buffer is raised
    /// once (SO_RCVBUFFORCE when privileged, else up to rmem_max) and a chunk
    /// carries no more ACKs than it holds.
    fn batch_limits(&mut self, op: &'static str) -> Result<(usize, u32)> {
        if !self.batch_buffers {
            // Best effort: without CAP_NET_ADMIN the force variant fails and
            // the plain one is capped by net.core.rmem_max.
            if setsockopt_int(&self.sock, libc::SO_RCVBUFFORCE, BATCH_RCVBUF).is_err() {
                let _ = setsockopt_int(&self.sock, libc::SO_RCVBUF, BATCH_RCVBUF);
            }
            self.batch_buffers = true;
        }
        let rcvbuf = getsockopt_int(&self.sock, libc::SO_RCVBUF)
            .map_err(|e| Error::io(op, "SO_RCVBUF", e))?;
        let sndbuf = getsockopt_int(&self.sock, libc::SO_SNDBUF)
            .map_err(|e| Error::io(op, "SO_SNDBUF", e))?;
        // netlink_sendmsg() refuses a datagram longer than sk_sndbuf - 32.
        let bytes = sndbuf.saturating_sub(1024).max(4096);
        let acks = u32::try_from(rcvbuf / ACK_CHARGE)
            .unwrap_or(u32::MAX)
            .max(1);
        Ok((bytes, acks))
    }
}

/// The receive buffer a notification socket asks for.
const NOTIFY_RCVBUF: usize = 4 * 1024 * 1024;
/// Message types below this are netlink's own (NOOP, ERROR, DONE, OVERRUN).
const NLMSG_MIN_TYPE: u16 = 0x10;

/// The receive buffer a batching socket asks for.
const BATCH_RCVBUF: usize = 8 * 1024 * 1024;
/// An upper bound of the receive-buffer charge (skb truesize) of one ACK,
/// extended-ack text included.
const ACK_CHARGE: usize = 2048;

fn msg_len(msg: &RouteNetlinkMessage) -> usize {
    use netlink_packet_core::NetlinkSerializable;
    align4(NLMSG_HDRLEN + msg.buffer_len())
}

fn getsockopt_int(sock: &Socket, opt: libc::c_int) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut val: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `val` and `len` are valid for writes of the sizes given, and the
    // fd is owned by `sock` for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&mut val as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(val).unwrap_or(0))
}

fn setsockopt_int(sock: &Socket, opt: libc::c_int, val: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let val = libc::c_int::try_from(val).unwrap_or(libc::c_int::MAX);
    // SAFETY: `val` is a valid c_int for reads of its size, and the fd is owned
    // by `sock` for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verb_flags_table() {
        assert_eq!(Verb::Add.flags(), 0x605);
        assert_eq!(Verb::Replace.flags(), 0x505);
        assert_eq!(Verb::Append.flags(), 0xc05);
        assert_eq!(Verb::Change.flags(), 0x5);
        assert_eq!(Verb::Del.flags(), 0x5);
        assert_eq!(Verb::Get.flags(), 0x1);
        assert_eq!(Verb::Dump.flags(), 0x301);
    }
}
