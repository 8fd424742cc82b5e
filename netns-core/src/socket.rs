//! The synchronous NETLINK_ROUTE socket: the only module that touches netlink
//! framing (sequence numbers, flags, buffers, ACK / error / extended ack, dump
//! loops, NLM_F_DUMP_INTR).
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
//! # References
//! netlink(7), rtnetlink(7), linux/netlink.h (struct nlmsgerr, NLMSGERR_ATTR_*).

use std::fmt;
use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_ACK_TLVS,
    NLM_F_APPEND, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL,
    NLM_F_MULTIPART, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{Error, Result};
use crate::nla::{u32_at, Nlas};

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

const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

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

/// The error part of an NLMSG_ERROR or NLMSG_DONE message, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Nack {
    /// The errno, negative as the kernel sends it; 0 for an ACK.
    pub code: i32,
    /// NLMSGERR_ATTR_MSG, the extended-ack text.
    pub msg: Option<String>,
    /// NLMSGERR_ATTR_OFFS, the byte offset in the request of the attribute
    /// the kernel objected to.
    pub offset: Option<u32>,
    /// NLMSGERR_ATTR_MISS_TYPE, the type of a missing attribute.
    pub missing_type: Option<u32>,
}

impl Nack {
    /// The text to show for this error: the kernel's message, or a note on a
    /// missing attribute when that is all it said.
    fn text(&self) -> Option<String> {
        match (&self.msg, self.missing_type) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(t)) => Some(format!("missing attribute type {t}")),
            (None, None) => None,
        }
    }

    pub(crate) fn into_error(self, op: &'static str, object: &dyn fmt::Display) -> Error {
        let text = self.text();
        Error::Kernel {
            op,
            object: object.to_string(),
            errno: self.code.saturating_abs(),
            extack: text,
            offset: self.offset,
        }
    }
}

/// Parse the payload of an NLMSG_ERROR message (`struct nlmsgerr` followed by
/// extended-ack TLVs). `flags` are the flags of the NLMSG_ERROR header: they
/// say whether the echoed request is capped (NLM_F_CAPPED) and whether TLVs
/// follow (NLM_F_ACK_TLVS).
pub(crate) fn parse_error_payload(
    flags: u16,
    payload: &[u8],
) -> std::result::Result<Nack, &'static str> {
    let code = read_i32(payload, 0).ok_or("NLMSG_ERROR shorter than its error code")?;
    let mut nack = Nack {
        code,
        ..Nack::default()
    };
    if flags & NLM_F_ACK_TLVS == 0 {
        return Ok(nack);
    }
    // The echoed request: its header only when capped, else the whole
    // message, padded to 4 bytes.
    let echoed = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = u32_at(payload, 4).ok_or("NLMSG_ERROR without the echoed request header")?;
        align4(len as usize)
    };
    let tlvs = payload
        .get(4 + echoed..)
        .ok_or("NLMSG_ERROR extended ack beyond the message")?;
    parse_extack_tlvs(tlvs, &mut nack)?;
    Ok(nack)
}

/// Parse the payload of an NLMSG_DONE message: the dump's final status and,
/// with NLM_F_ACK_TLVS, extended-ack TLVs.
pub(crate) fn parse_done_payload(
    flags: u16,
    payload: &[u8],
) -> std::result::Result<Nack, &'static str> {
    // Old kernels may send an NLMSG_DONE with an empty payload.
    let code = if payload.is_empty() {
        0
    } else {
        read_i32(payload, 0).ok_or("NLMSG_DONE shorter than its status")?
    };
    let mut nack = Nack {
        code,
        ..Nack::default()
    };
    if flags & NLM_F_ACK_TLVS != 0 {
        parse_extack_tlvs(payload.get(4..).unwrap_or_default(), &mut nack)?;
    }
    Ok(nack)
}

fn parse_extack_tlvs(tlvs: &[u8], nack: &mut Nack) -> std::result::Result<(), &'static str> {
    for tlv in Nlas::new(tlvs) {
        let tlv = tlv.map_err(|_| "malformed extended-ack attribute")?;
        match tlv.kind {
            NLMSGERR_ATTR_MSG => nack.msg = Some(tlv.str()),
            NLMSGERR_ATTR_OFFS => nack.offset = tlv.u32(),
            NLMSGERR_ATTR_MISS_TYPE => nack.missing_type = tlv.u32(),
            _ => {}
        }
    }
    Ok(())
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    u32_at(b, at).map(|v| v as i32)
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One data message of a reply, handed to the caller's parser.
pub(crate) struct Reply<'a> {
    /// The netlink message type (RTM_NEWLINK...).
    pub message_type: u16,
    /// The payload after the netlink header.
    pub payload: &'a [u8],
}

impl Reply<'_> {
    /// Parse the payload with netlink-packet-route.
    pub(crate) fn parse(&self) -> std::result::Result<RouteNetlinkMessage, String> {
        use netlink_packet_core::ParseableParametrized;
        // netlink-packet-route is not guaranteed panic-free on hostile input;
        // a reply it cannot handle becomes an error, never a panic of ours.
        let parsed = std::panic::catch_unwind(|| {
            RouteNetlinkMessage::parse_with_param(self.payload, self.message_type)
        });
        match parsed {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "message type {} could not be parsed",
                self.message_type
            )),
        }
    }
}

/// The outcome of one request of a batch.
pub(crate) type BatchOutcome = std::result::Result<(), Nack>;

/// A NETLINK_ROUTE socket bound in one network namespace.
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
        let os = |what: &'static str| move |e: io::Error| Error::os("netlink_socket", what, e);
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(os("socket"))?;
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

    /// Serialize `msg` with `verb`'s flags at the end of the send buffer;
    /// returns its sequence number. Nothing is allocated once the buffer has
    /// grown to the largest request.
    fn push(&mut self, msg: &RouteNetlinkMessage, verb: Verb) -> u32 {
        use netlink_packet_core::NetlinkSerializable;
        let seq = self.next_seq();
        let len = NLMSG_HDRLEN + msg.buffer_len();
        let start = self.tx.len();
        self.tx.resize(start + align4(len), 0);
        let buf = &mut self.tx[start..start + len];
        let mut header = NetlinkBuffer::new(&mut buf[..]);
        header.set_length(len as u32);
        header.set_message_type(msg.message_type());
        header.set_flags(verb.flags());
        header.set_sequence_number(seq);
        header.set_port_number(0);
        msg.serialize(&mut buf[NLMSG_HDRLEN..]);
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
                Err(e) => return Err(Error::os(op, object.to_string(), e)),
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
                Err(e) => return Err(Error::os(op, object.to_string(), e)),
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
        msg: RouteNetlinkMessage,
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
        msg: RouteNetlinkMessage,
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
        msg: RouteNetlinkMessage,
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
                Err(Error::DumpInterrupted { .. }) => continue,
                other => return other.map(|()| out),
            }
        }
        Err(Error::DumpInterrupted {
            op,
            object: object.to_string(),
            attempts: self.dump_attempts,
        })
    }

    /// Send a read-only request, repeating it if a reply was truncated.
    fn read_only(
        &mut self,
        op: &'static str,
        object: &dyn fmt::Display,
        msg: &RouteNetlinkMessage,
        verb: Verb,
        f: &mut dyn FnMut(Reply<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut tries = 0;
        loop {
            self.tx.clear();
            let seq = self.push(msg, verb);
            self.send_tx(op, object)?;
            match self.collect(op, object, seq, verb, f) {
                Err(Error::Protocol { ref detail, .. })
                    if detail == TRUNCATED && tries < TRUNC_RETRIES =>
                {
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
                None => return Err(Error::protocol(op, object.to_string(), TRUNCATED)),
            };
            if !whole {
                truncated = true;
                if verb != Verb::Dump {
                    // The single reply was lost.
                    if verb.read_only() {
                        return Err(Error::protocol(op, object.to_string(), TRUNCATED));
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
                        return Err(Error::protocol(op, object.to_string(), TRUNCATED));
                    }
                    if interrupted {
                        return Err(Error::DumpInterrupted {
                            op,
                            object: object.to_string(),
                            attempts: 1,
                        });
                    }
                    return match parse_err {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                }
            }
        }
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
            let mut pending = count;
            while pending > 0 {
                if self.recv_datagram(op, &"batch", false)? != Some(true) {
                    return Err(Error::protocol(
                        op,
                        "batch",
                        "an acknowledgement did not fit the receive buffer",
                    ));
                }
                for m in Messages::new(&self.rx) {
                    let m = m.map_err(|d| Error::protocol(op, "batch", d))?;
                    let idx = m.seq.wrapping_sub(first_seq);
                    if m.port != self.port || idx >= count || m.message_type != NLMSG_ERROR {
                        continue;
                    }
                    let nack = parse_error_payload(m.flags, m.payload)
                        .map_err(|d| Error::protocol(op, "batch", d))?;
                    outcomes[base + idx as usize] = if nack.code == 0 { Ok(()) } else { Err(nack) };
                    pending -= 1;
                }
            }
        }
        Ok(outcomes)
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
            .map_err(|e| Error::os(op, "SO_RCVBUF", e))?;
        let sndbuf = getsockopt_int(&self.sock, libc::SO_SNDBUF)
            .map_err(|e| Error::os(op, "SO_SNDBUF", e))?;
        // netlink_sendmsg() refuses a datagram longer than sk_sndbuf - 32.
        let bytes = sndbuf.saturating_sub(1024).max(4096);
        let acks = u32::try_from(rcvbuf / ACK_CHARGE)
            .unwrap_or(u32::MAX)
            .max(1);
        Ok((bytes, acks))
    }
}

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

const TRUNCATED: &str = "reply truncated: did not fit the receive buffer";

/// One netlink message of a datagram, framing only.
pub(crate) struct RawMessage<'a> {
    pub(crate) message_type: u16,
    pub(crate) flags: u16,
    seq: u32,
    port: u32,
    pub(crate) payload: &'a [u8],
}

/// Iterator over the netlink messages of a datagram; malformed framing ends it
/// with an error.
pub(crate) struct Messages<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Messages<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Messages { buf, off: 0 }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = std::result::Result<RawMessage<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..)?;
        if rest.is_empty() {
            return None;
        }
        let nb = match NetlinkBuffer::new_checked(rest) {
            Ok(nb) => nb,
            Err(_) => {
                self.off = self.buf.len();
                return Some(Err("malformed netlink message header"));
            }
        };
        let len = nb.length() as usize;
        self.off = self.off.saturating_add(align4(len)).min(self.buf.len());
        Some(Ok(RawMessage {
            message_type: nb.message_type(),
            flags: nb.flags(),
            seq: nb.sequence_number(),
            port: nb.port_number(),
            payload: &rest[NLMSG_HDRLEN..len],
        }))
    }
}

enum Event<'a> {
    Data(Reply<'a>),
    Interrupted,
}

/// Walk `buf` as the replies to the request of its first message (fuzzing).
pub(crate) fn walk_any(buf: &[u8]) {
    let Some(Ok(first)) = Messages::new(buf).next() else {
        return;
    };
    for verb in [Verb::Get, Verb::Dump, Verb::Add] {
        for truncated in [false, true] {
            let _ = walk(buf, first.seq, first.port, verb, truncated, &mut |ev| {
                if let Event::Data(r) = ev {
                    let _ = r.parse();
                }
            });
        }
    }
}

enum Step {
    /// The request needs more datagrams.
    More,
    /// The request is complete; `code` 0 is success.
    Finished(Nack),
}

/// Walk one datagram's messages for request `seq`.
fn walk<'a>(
    buf: &'a [u8],
    seq: u32,
    port: u32,
    verb: Verb,
    truncated: bool,
    on: &mut dyn FnMut(Event<'a>),
) -> std::result::Result<Step, &'static str> {
    for m in Messages::new(buf) {
        let m = match m {
            Ok(m) => m,
            // The tail of a truncated datagram is cut mid-message.
            Err(_) if truncated => break,
            Err(e) => return Err(e),
        };
        if m.seq != seq || m.port != port {
            continue;
        }
        match m.message_type {
            NLMSG_NOOP => {}
            NLMSG_OVERRUN => return Err("the kernel reported a netlink overrun"),
            NLMSG_ERROR => {
                let nack = parse_error_payload(m.flags, m.payload)?;
                return Ok(Step::Finished(nack));
            }
            NLMSG_DONE => {
                let nack = parse_done_payload(m.flags, m.payload)?;
                if m.flags & NLM_F_DUMP_INTR != 0 {
                    on(Event::Interrupted);
                }
                return Ok(Step::Finished(nack));
            }
            t => {
                if m.flags & NLM_F_DUMP_INTR != 0 {
                    on(Event::Interrupted);
                }
                on(Event::Data(Reply {
                    message_type: t,
                    payload: m.payload,
                }));
                // A GET is answered by exactly one message (no ACK asked).
                if verb == Verb::Get && m.flags & NLM_F_MULTIPART == 0 {
                    return Ok(Step::Finished(Nack::default()));
                }
            }
        }
    }
    Ok(Step::More)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An NLMSG_ERROR captured from the kernel (6.18) for
    /// `RTM_NEWLINK` with kind "nosuchkind": errno -EOPNOTSUPP, capped,
    /// with an extended-ack message.
    fn captured_unknown_kind() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(-libc::EOPNOTSUPP).to_ne_bytes());
        // echoed request header (capped): len, type, flags, seq, port
        v.extend_from_slice(&68u32.to_ne_bytes());
        v.extend_from_slice(&16u16.to_ne_bytes());
        v.extend_from_slice(&0x0605u16.to_ne_bytes());
        v.extend_from_slice(&1u32.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        // NLMSGERR_ATTR_MSG "Unknown device type"
        let text = b"Unknown device type\0";
        v.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        v.extend_from_slice(text);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

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

    #[test]
    fn parses_capped_error_with_message() {
        let p = captured_unknown_kind();
        let n = parse_error_payload(NLM_F_CAPPED | NLM_F_ACK_TLVS, &p).unwrap();
        assert_eq!(n.code, -libc::EOPNOTSUPP);
        assert_eq!(n.msg.as_deref(), Some("Unknown device type"));
        assert_eq!(n.offset, None);
    }

    #[test]
    fn parses_uncapped_error_with_offset() {
        // errno, echoed full request of 20 bytes (header + 4), then OFFS and MSG.
        let mut p = Vec::new();
        p.extend_from_slice(&(-libc::EINVAL).to_ne_bytes());
        p.extend_from_slice(&20u32.to_ne_bytes());
        p.extend_from_slice(&[0u8; 12]);
        p.extend_from_slice(&[9, 9, 9, 9]);
        p.extend_from_slice(&8u16.to_ne_bytes());
        p.extend_from_slice(&NLMSGERR_ATTR_OFFS.to_ne_bytes());
        p.extend_from_slice(&36u32.to_ne_bytes());
        p.extend_from_slice(&7u16.to_ne_bytes());
        p.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        p.extend_from_slice(b"bad\0");
        p.push(0);
        let n = parse_error_payload(NLM_F_ACK_TLVS, &p).unwrap();
        assert_eq!(n.code, -libc::EINVAL);
        assert_eq!(n.offset, Some(36));
        assert_eq!(n.msg.as_deref(), Some("bad"));
    }

    #[test]
    fn ack_without_tlvs() {
        let mut p = vec![0u8; 4];
        p.extend_from_slice(&[0u8; 16]);
        let n = parse_error_payload(NLM_F_CAPPED, &p).unwrap();
        assert_eq!(n, Nack::default());
    }

    #[test]
    fn done_with_extack() {
        let mut p = Vec::new();
        p.extend_from_slice(&(-libc::EINVAL).to_ne_bytes());
        let text = b"Invalid header for link dump\0";
        p.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        p.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        p.extend_from_slice(text);
        let n = parse_done_payload(NLM_F_ACK_TLVS | NLM_F_MULTIPART, &p).unwrap();
        assert_eq!(n.code, -libc::EINVAL);
        assert_eq!(n.msg.as_deref(), Some("Invalid header for link dump"));
        assert_eq!(parse_done_payload(0, &[]).unwrap().code, 0);
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        assert!(parse_error_payload(0, &[1, 2]).is_err());
        assert!(parse_error_payload(NLM_F_ACK_TLVS, &[0, 0, 0, 0]).is_err());
        // TLV claiming more than there is
        let mut p = vec![0u8; 20];
        p.extend_from_slice(&200u16.to_ne_bytes());
        p.extend_from_slice(&1u16.to_ne_bytes());
        assert!(parse_error_payload(NLM_F_CAPPED | NLM_F_ACK_TLVS, &p).is_err());
        // uncapped with a huge echoed length
        let mut p = vec![0u8; 4];
        p.extend_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_error_payload(NLM_F_ACK_TLVS, &p).is_err());
        assert!(parse_done_payload(0, &[1]).is_err());
    }

    #[test]
    fn message_iterator_stops_on_bad_framing() {
        let mut buf = vec![0u8; 16];
        buf[0..4].copy_from_slice(&100u32.to_ne_bytes());
        let mut it = Messages::new(&buf);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
    }
}
