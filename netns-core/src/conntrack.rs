//! Connection tracking over NETLINK_NETFILTER (ctnetlink,
//! NFNL_SUBSYS_CTNETLINK): [`Conntrack`], a socket bound to one network
//! namespace, lists the entries of a family and deletes the ones matching a
//! [`CtFilter`], so that a removed port mapping or pod address leaves no
//! stale NAT state behind. Never a flush: a filter without a criterion is
//! refused before anything is sent.
//!
//! | call | conntrack(8) equivalent | netlink |
//! |---|---|---|
//! | [`Conntrack::list`] | `conntrack -L -f ipv4` | IPCTNL_MSG_CT_GET, DUMP |
//! | [`Conntrack::delete`] | `conntrack -D -f ipv4 -p udp --orig-port-dst 53`, `conntrack -D --reply-src 10.1.0.9` | IPCTNL_MSG_CT_DELETE |
//!
//! # How a delete is done
//!
//! 1. The matching entries are dumped: IPCTNL_MSG_CT_GET with the filter as
//!    CTA_FILTER and partial tuples (the kernel filters dumps since 5.8;
//!    IPv6 addresses excepted, see below), and every entry is checked
//!    against the whole filter again here, so a kernel that ignores or
//!    misreads CTA_FILTER cannot widen the deletion. Nothing matches:
//!    nothing more is sent, 0 is returned.
//! 2. The kernel-side filtered delete: one IPCTNL_MSG_CT_DELETE with the
//!    same CTA_FILTER and partial tuples, nfgenmsg family AF_INET or
//!    AF_INET6 and version 1, for IPv4 filters and IPv6 filters without an
//!    address. Accepted (6.12 and later), the count is that of step 1.
//! 3. Refused (EINVAL or EOPNOTSUPP, every kernel before 6.12; remembered for
//!    the handle's lifetime), or an IPv6 filter on an address, each entry of
//!    step 1 is deleted on its own by
//!    its complete original tuple (as the kernel dumped it), its CTA_ID (so
//!    a newer entry with the same tuple survives) and its zone; one that
//!    vanished meanwhile (ENOENT) is not an error and is not counted.
//!
//! # What each kernel does with the requests sent here
//!
//! From `ctnetlink_del_conntrack`, `ctnetlink_flush_conntrack` and
//! `ctnetlink_alloc_filter` in net/netfilter/nf_conntrack_netlink.c:
//!
//! - **A delete with neither a tuple nor CTA_FILTER is a flush**, on every
//!   version: of every family when nfgenmsg.version is 0, of
//!   nfgenmsg.family only when it is nonzero. This module never sends one.
//! - **6.12 and later** (commit "netfilter: ctnetlink: support CTA_FILTER for
//!   flush", Changliang Wu, net-next September 2024): a delete carrying
//!   CTA_FILTER does not look its tuples up; they are the filter's values,
//!   and the flush path deletes only the entries of nfgenmsg.family that
//!   match (`u3 = version || CTA_FILTER ? family : AF_UNSPEC`).
//! - **5.8 to 6.11, Debian's 6.1 among them**: dumps honour CTA_FILTER
//!   (commit cb8aa9a3affb), deletes do not. A delete with CTA_TUPLE_ORIG or
//!   CTA_TUPLE_REPLY parses that tuple as a complete one and answers EINVAL
//!   when it is partial; one without a tuple but with CTA_FILTER reaches the
//!   flush path, which answers EOPNOTSUPP. Neither deletes anything.
//! - **Before 5.8** CTA_FILTER is beyond the kernel's CTA_MAX and ignored,
//!   so the request is a plain delete by tuple: partial, it is refused with
//!   EINVAL.
//!
//! - **IPv6 addresses in CTA_FILTER are inverted**, 5.8 to 6.18 at least:
//!   `ctnetlink_filter_match_tuple` skips an entry when
//!   `!ipv6_addr_cmp(filter, entry)`, that is when the addresses are
//!   *equal*. A kernel-side filtered delete on an IPv6 address would delete
//!   every other entry of the family. IPv6 addresses are therefore never
//!   sent as a filter (not in dumps either): they are matched here, and
//!   such entries are deleted one by one on every kernel. (IPv4 addresses,
//!   protocols and ports are compared correctly.)
//!
//! So the filtered delete always carries a tuple that is incomplete (the
//! original tuple never has a source address, a reply tuple only a source
//! address), and an older kernel can only refuse it: it is never read as a
//! flush, nor as the delete of one entry.
//!
//! # Limits
//!
//! Ports filter only TCP and UDP (the kernel's filter ignores the ports of
//! other protocols, so a port on SCTP would match every SCTP entry); such a
//! filter is refused. The count of the kernel-side path includes entries
//! that expired between the dump and the delete, and not the ones created
//! in between (which are deleted all the same).
//!
//! # References
//! [conntrack(8)](https://manpages.debian.org/conntrack.8),
//! linux/netfilter/nfnetlink_conntrack.h, net/netfilter/nf_internals.h
//! (the CTA_FILTER flag bits, which are not in the uapi).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::ip::IpFamily;
use crate::nla::{self, Nlas};
use crate::ns::NetNs;
use crate::socket::NlSocket;

/// NFNL_SUBSYS_CTNETLINK.
const SUBSYS_CTNETLINK: u16 = 1;
/// IPCTNL_MSG_CT_* message numbers.
const MSG_CT_NEW: u16 = 0;
const MSG_CT_GET: u16 = 1;
const MSG_CT_DELETE: u16 = 2;
/// The nfgenmsg version of every request: nonzero, so that even a delete
/// without tuple could only ever concern the family it names.
const NFGEN_VERSION: u8 = 1;
/// CTA_* attributes.
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_FILTER: u16 = 25;
/// CTA_TUPLE_* attributes.
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
/// CTA_IP_* attributes.
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
/// CTA_PROTO_* attributes.
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
/// CTA_FILTER_* attributes (u32 in host order).
const CTA_FILTER_ORIG_FLAGS: u16 = 1;
const CTA_FILTER_REPLY_FLAGS: u16 = 2;
/// CTA_FILTER_F_* bits (kernel-internal, net/netfilter/nf_internals.h).
const F_IP_SRC: u32 = 1 << 0;
const F_IP_DST: u32 = 1 << 1;
const F_PROTO_NUM: u32 = 1 << 3;
const F_DST_PORT: u32 = 1 << 5;
/// NLA_F_NESTED.
const NLA_F_NESTED: u16 = 0x8000;
/// IPPROTO_TCP and IPPROTO_UDP.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

const fn ct_type(msg: u16) -> u16 {
    (SUBSYS_CTNETLINK << 8) | msg
}

fn af(family: IpFamily) -> u8 {
    match family {
        IpFamily::V4 => libc::AF_INET as u8,
        IpFamily::V6 => libc::AF_INET6 as u8,
    }
}

/// The name conntrack(8) shows for a protocol number.
fn proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        47 => "gre",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}

/// One connection-tracking entry, as `conntrack -L -o extended` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CtEntry {
    /// IPv4 or IPv6.
    pub family: IpFamily,
    /// The layer-4 protocol number (6 TCP, 17 UDP, 1 ICMP...).
    pub proto: u8,
    /// Source address of the original direction.
    pub orig_src: IpAddr,
    /// Destination address of the original direction (before DNAT).
    pub orig_dst: IpAddr,
    /// Source port of the original direction (protocols with ports).
    pub orig_sport: Option<u16>,
    /// Destination port of the original direction (protocols with ports).
    pub orig_dport: Option<u16>,
    /// Source address of the reply direction (the DNAT target, if any).
    pub reply_src: IpAddr,
    /// Destination address of the reply direction (the SNAT address, if
    /// any).
    pub reply_dst: IpAddr,
    /// Source port of the reply direction.
    pub reply_sport: Option<u16>,
    /// Destination port of the reply direction.
    pub reply_dport: Option<u16>,
    /// The kernel's id of the entry (CTA_ID, `conntrack -o id`).
    pub id: Option<u32>,
    /// The conntrack zone (CTA_ZONE), when not the default one.
    pub zone: Option<u16>,
    /// The original tuple exactly as the kernel sent it, for the delete.
    orig_tuple: RawTuple,
}

/// Attribute bytes kept as received; shown by length only.
#[derive(Clone, PartialEq, Eq, Default)]
struct RawTuple(Vec<u8>);

impl fmt::Debug for RawTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

fn endpoint(
    f: &mut fmt::Formatter<'_>,
    src: &IpAddr,
    dst: &IpAddr,
    sport: Option<u16>,
    dport: Option<u16>,
) -> fmt::Result {
    write!(f, "src={src} dst={dst}")?;
    if let Some(p) = sport {
        write!(f, " sport={p}")?;
    }
    if let Some(p) = dport {
        write!(f, " dport={p}")?;
    }
    Ok(())
}

/// Like a line of `conntrack -L -o extended,id`:
/// `ipv4 udp src=10.0.0.1 dst=10.0.0.2 sport=1111 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1111 id=7`.
impl fmt::Display for CtEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.family {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        };
        match proto_name(self.proto) {
            Some(p) => write!(f, "{family} {p} ")?,
            None => write!(f, "{family} proto {} ", self.proto)?,
        }
        endpoint(
            f,
            &self.orig_src,
            &self.orig_dst,
            self.orig_sport,
            self.orig_dport,
        )?;
        f.write_str(" ")?;
        endpoint(
            f,
            &self.reply_src,
            &self.reply_dst,
            self.reply_sport,
            self.reply_dport,
        )?;
        if let Some(z) = self.zone {
            write!(f, " zone={z}")?;
        }
        if let Some(id) = self.id {
            write!(f, " id={id}")?;
        }
        Ok(())
    }
}

/// Which entries [`Conntrack::delete`] removes: those of one family that
/// match every criterion given. At least one criterion besides the family
/// is required (a filter without one would be a flush of the family, and
/// is refused).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use netns_core::{CtFilter, IpFamily};
///
/// // A removed UDP port mapping: everything sent to host port 5353.
/// let port = CtFilter::new(IpFamily::V4).proto(17).orig_dport(5353);
/// // A removed pod address: everything whose reply comes from it, which
/// // includes the entries DNATed to it.
/// let pod = CtFilter::new(IpFamily::V4).reply_src(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 9)));
/// assert_eq!(port.to_string(), "ipv4 proto 17 orig-dport 5353");
/// assert_eq!(pod.to_string(), "ipv4 reply-src 10.1.0.9");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtFilter {
    family: IpFamily,
    proto: Option<u8>,
    orig_dport: Option<u16>,
    orig_dst: Option<IpAddr>,
    reply_src: Option<IpAddr>,
}

impl CtFilter {
    /// A filter on the entries of `family`, with no criterion yet.
    pub fn new(family: IpFamily) -> CtFilter {
        CtFilter {
            family,
            proto: None,
            orig_dport: None,
            orig_dst: None,
            reply_src: None,
        }
    }

    /// Only entries of layer-4 protocol `proto` (17 UDP, 6 TCP...)
    /// (`conntrack -p`).
    pub fn proto(mut self, proto: u8) -> CtFilter {
        self.proto = Some(proto);
        self
    }

    /// Only entries whose original destination port is `port`
    /// (`conntrack --orig-port-dst`); needs [`proto`](Self::proto) TCP or
    /// UDP.
    pub fn orig_dport(mut self, port: u16) -> CtFilter {
        self.orig_dport = Some(port);
        self
    }

    /// Only entries whose original destination address is `addr`
    /// (`conntrack --orig-dst`).
    pub fn orig_dst(mut self, addr: IpAddr) -> CtFilter {
        self.orig_dst = Some(addr);
        self
    }

    /// Only entries whose reply comes from `addr` (`conntrack --reply-src`):
    /// the connections to `addr`, and those DNATed to it.
    pub fn reply_src(mut self, addr: IpAddr) -> CtFilter {
        self.reply_src = Some(addr);
        self
    }

    /// The family the filter selects.
    pub fn family(&self) -> IpFamily {
        self.family
    }

    /// Whether `entry` is one the filter selects.
    pub fn matches(&self, entry: &CtEntry) -> bool {
        entry.family == self.family
            && self.proto.is_none_or(|p| p == entry.proto)
            && self.orig_dport.is_none_or(|p| Some(p) == entry.orig_dport)
            && self.orig_dst.is_none_or(|a| a == entry.orig_dst)
            && self.reply_src.is_none_or(|a| a == entry.reply_src)
    }

    /// Refuse a filter that selects the whole family, ports without TCP or
    /// UDP, or addresses of the other family.
    fn check(&self, op: &'static str) -> Result<()> {
        let bad = |why: &str| Err(Error::invalid(op, self.to_string(), why));
        if self.proto.is_none()
            && self.orig_dport.is_none()
            && self.orig_dst.is_none()
            && self.reply_src.is_none()
        {
            return bad("a conntrack filter needs a criterion besides the family (it would delete every entry of the family)");
        }
        if self.orig_dport.is_some() && !matches!(self.proto, Some(PROTO_TCP | PROTO_UDP)) {
            return bad("a port filter needs protocol TCP (6) or UDP (17)");
        }
        for a in [self.orig_dst, self.reply_src].into_iter().flatten() {
            if IpFamily::of(&a) != self.family {
                return bad("an address of the other family");
            }
        }
        Ok(())
    }
}

/// `ipv4 proto 17 orig-dport 53 orig-dst 10.0.0.2 reply-src 10.1.0.9`.
impl fmt::Display for CtFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.family {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        })?;
        if let Some(p) = self.proto {
            write!(f, " proto {p}")?;
        }
        if let Some(p) = self.orig_dport {
            write!(f, " orig-dport {p}")?;
        }
        if let Some(a) = self.orig_dst {
            write!(f, " orig-dst {a}")?;
        }
        if let Some(a) = self.reply_src {
            write!(f, " reply-src {a}")?;
        }
        Ok(())
    }
}

/// A ctnetlink handle: one NETLINK_NETFILTER socket bound to one network
/// namespace, like [`Nft`](crate::Nft). [`Conntrack::new`] binds it to the
/// calling thread's namespace, [`Conntrack::new_in`] opens it inside another
/// one on a helper thread; afterwards it works from any thread without
/// setns. Needs CAP_NET_ADMIN in the namespace's user namespace, and the
/// kernel module nf_conntrack_netlink.
#[derive(Debug)]
pub struct Conntrack {
    sock: Mutex<NlSocket>,
    /// Whether the kernel-side filtered delete is still worth trying (false
    /// once the kernel refused it: every kernel before 6.12).
    filtered_delete: AtomicBool,
}

impl Conntrack {
    /// A handle on the calling thread's namespace.
    pub fn new() -> Result<Conntrack> {
        Ok(Conntrack::with(NlSocket::open_netfilter()?))
    }

    /// A handle on `ns` (the socket is opened by a helper thread that
    /// enters `ns` and exits).
    #[doc(alias = "ip netns exec NS conntrack")]
    pub fn new_in(ns: &NetNs) -> Result<Conntrack> {
        Ok(Conntrack::with(ns.run(NlSocket::open_netfilter)??))
    }

    fn with(sock: NlSocket) -> Conntrack {
        Conntrack {
            sock: Mutex::new(sock),
            filtered_delete: AtomicBool::new(true),
        }
    }

    fn sock(&self) -> MutexGuard<'_, NlSocket> {
        self.sock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every entry of `family`, in the kernel's order.
    #[doc(alias = "conntrack -L")]
    #[doc(alias = "IPCTNL_MSG_CT_GET")]
    pub fn list(&self, family: IpFamily) -> Result<Vec<CtEntry>> {
        self.dump("conntrack_list", &family, family, &[])
    }

    fn dump(
        &self,
        op: &'static str,
        object: &dyn fmt::Display,
        family: IpFamily,
        attrs: &[u8],
    ) -> Result<Vec<CtEntry>> {
        self.sock().nf_dump(
            op,
            object,
            ct_type(MSG_CT_GET),
            af(family),
            attrs,
            |fam, a| {
                let e = parse_ct(fam, a).map_err(|d| Error::protocol(op, "conntrack entry", d))?;
                // Only the family asked for (the kernel filters by it too).
                Ok(e.filter(|e| e.family == family))
            },
        )
    }

    /// Delete the entries matching `filter` and return how many were
    /// deleted (see the module docs for how, on which kernel). A filter
    /// with no criterion besides the family is refused before anything is
    /// sent; nothing matching is not an error (0).
    #[doc(alias = "conntrack -D")]
    #[doc(alias = "IPCTNL_MSG_CT_DELETE")]
    pub fn delete(&self, filter: &CtFilter) -> Result<usize> {
        const OP: &str = "conntrack_delete";
        filter.check(OP)?;
        let exact = kernel_filter(filter) == *filter;
        let dump_attrs = dump_attrs(filter);
        let dumped = match self.dump(OP, filter, filter.family, &dump_attrs) {
            // A kernel that cannot filter this dump: filter here only.
            Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
                self.dump(OP, filter, filter.family, &[])?
            }
            other => other?,
        };
        let matching: Vec<CtEntry> = dumped.into_iter().filter(|e| filter.matches(e)).collect();
        if matching.is_empty() {
            return Ok(0);
        }
        let mut sock = self.sock();
        if exact && self.filtered_delete.load(Ordering::Relaxed) {
            match sock.nf_ack(
                OP,
                filter,
                ct_type(MSG_CT_DELETE),
                af(filter.family),
                NFGEN_VERSION,
                &encode_filter(filter),
            ) {
                Ok(()) => return Ok(matching.len()),
                // Before 6.12: the partial tuple refused (EINVAL) or the
                // filter on the flush path (EOPNOTSUPP); nothing deleted.
                Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
                    self.filtered_delete.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        let mut deleted = 0;
        for e in &matching {
            match sock.nf_ack(
                OP,
                e,
                ct_type(MSG_CT_DELETE),
                af(e.family),
                NFGEN_VERSION,
                &encode_entry_delete(e),
            ) {
                Ok(()) => deleted += 1,
                // Expired or deleted meanwhile, or replaced by a newer entry
                // with the same tuple (another id), which stays.
                Err(err) if err.errno() == Some(libc::ENOENT) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(deleted)
    }

    /// Whether [`delete`](Self::delete) still tries the kernel-side
    /// filtered delete: false once the kernel refused it (kernels before
    /// 6.12). For tests.
    #[doc(hidden)]
    pub fn uses_kernel_filtered_delete(&self) -> bool {
        self.filtered_delete.load(Ordering::Relaxed)
    }
}

/// Append an address attribute of the right family.
fn put_addr(buf: &mut Vec<u8>, v4: u16, v6: u16, a: &IpAddr) {
    match a {
        IpAddr::V4(a) => nla::put(buf, v4, &a.octets()),
        IpAddr::V6(a) => nla::put(buf, v6, &a.octets()),
    }
}

/// The part of `f` the kernel evaluates correctly: all of it for IPv4; for
/// IPv6 the protocol and port only. The kernel's IPv6 address test in
/// `ctnetlink_filter_match_tuple` is inverted (`if (... &&
/// !ipv6_addr_cmp(filter, ct)) return 0;` skips the entries whose address
/// is *equal*), from CTA_FILTER's introduction in 5.8 to 6.18 at least, so
/// an IPv6 address must never reach the kernel as a filter: a filtered
/// delete would remove every entry but the ones asked for.
fn kernel_filter(f: &CtFilter) -> CtFilter {
    match f.family {
        IpFamily::V4 => f.clone(),
        IpFamily::V6 => CtFilter {
            orig_dst: None,
            reply_src: None,
            ..f.clone()
        },
    }
}

/// The attributes of the dump of the candidates for `f`: the part of the
/// filter the kernel evaluates correctly, or none (every entry of the
/// family); the result is filtered here again in any case.
fn dump_attrs(f: &CtFilter) -> Vec<u8> {
    let k = kernel_filter(f);
    if k.proto.is_none() && k.orig_dport.is_none() && k.orig_dst.is_none() && k.reply_src.is_none()
    {
        return Vec::new();
    }
    encode_filter(&k)
}

/// The attributes (after nfgenmsg) of the filtered dump and of the
/// kernel-side filtered delete (sent only when [`kernel_filter`] is all of
/// the filter): partial tuples holding the filter's values
/// and CTA_FILTER saying which of them count. The original tuple never gets
/// a source address and the reply tuple only a source address, so no tuple
/// is ever complete (see the module docs for why that matters).
fn encode_filter(f: &CtFilter) -> Vec<u8> {
    let mut attrs = Vec::with_capacity(64);
    let (mut orig_flags, mut reply_flags) = (0u32, 0u32);
    let mut orig = Vec::new();
    if let Some(a) = &f.orig_dst {
        let mut ip = Vec::new();
        put_addr(&mut ip, CTA_IP_V4_DST, CTA_IP_V6_DST, a);
        nla::put(&mut orig, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
        orig_flags |= F_IP_DST;
    }
    if let Some(p) = f.proto {
        let mut proto = Vec::new();
        nla::put(&mut proto, CTA_PROTO_NUM, &[p]);
        orig_flags |= F_PROTO_NUM;
        if let Some(port) = f.orig_dport {
            nla::put(&mut proto, CTA_PROTO_DST_PORT, &port.to_be_bytes());
            orig_flags |= F_DST_PORT;
        }
        nla::put(&mut orig, CTA_TUPLE_PROTO | NLA_F_NESTED, &proto);
    }
    if !orig.is_empty() {
        nla::put(&mut attrs, CTA_TUPLE_ORIG | NLA_F_NESTED, &orig);
    }
    if let Some(a) = &f.reply_src {
        let mut ip = Vec::new();
        put_addr(&mut ip, CTA_IP_V4_SRC, CTA_IP_V6_SRC, a);
        let mut reply = Vec::new();
        nla::put(&mut reply, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
        nla::put(&mut attrs, CTA_TUPLE_REPLY | NLA_F_NESTED, &reply);
        reply_flags |= F_IP_SRC;
    }
    let mut filter = Vec::new();
    nla::put(
        &mut filter,
        CTA_FILTER_ORIG_FLAGS,
        &orig_flags.to_ne_bytes(),
    );
    nla::put(
        &mut filter,
        CTA_FILTER_REPLY_FLAGS,
        &reply_flags.to_ne_bytes(),
    );
    nla::put(&mut attrs, CTA_FILTER | NLA_F_NESTED, &filter);
    attrs
}

/// The attributes of the delete of one entry: its complete original tuple
/// as the kernel dumped it, its id and its zone.
pub(crate) fn encode_entry_delete(e: &CtEntry) -> Vec<u8> {
    let mut attrs = Vec::with_capacity(e.orig_tuple.0.len() + 24);
    nla::put(&mut attrs, CTA_TUPLE_ORIG | NLA_F_NESTED, &e.orig_tuple.0);
    if let Some(id) = e.id {
        nla::put(&mut attrs, CTA_ID, &id.to_be_bytes());
    }
    if let Some(z) = e.zone {
        nla::put(&mut attrs, CTA_ZONE, &z.to_be_bytes());
    }
    attrs
}

/// One direction's tuple.
struct Tuple {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: Option<u16>,
    dport: Option<u16>,
}

fn be16(v: &[u8]) -> Option<u16> {
    <[u8; 2]>::try_from(v).ok().map(u16::from_be_bytes)
}

fn parse_tuple(family: IpFamily, b: &[u8]) -> std::result::Result<Tuple, &'static str> {
    let (mut src, mut dst, mut proto) = (None, None, None);
    let (mut sport, mut dport) = (None, None);
    for a in Nlas::new(b) {
        let a = a?;
        match a.kind {
            CTA_TUPLE_IP => {
                for ip in Nlas::new(a.value) {
                    let ip = ip?;
                    let addr = match (family, ip.kind) {
                        (IpFamily::V4, CTA_IP_V4_SRC | CTA_IP_V4_DST) => {
                            <[u8; 4]>::try_from(ip.value)
                                .map(|o| IpAddr::V4(Ipv4Addr::from(o)))
                                .map_err(|_| "an IPv4 address of the wrong length")?
                        }
                        (IpFamily::V6, CTA_IP_V6_SRC | CTA_IP_V6_DST) => {
                            <[u8; 16]>::try_from(ip.value)
                                .map(|o| IpAddr::V6(Ipv6Addr::from(o)))
                                .map_err(|_| "an IPv6 address of the wrong length")?
                        }
                        _ => continue,
                    };
                    if matches!(ip.kind, CTA_IP_V4_SRC | CTA_IP_V6_SRC) {
                        src = Some(addr);
                    } else {
                        dst = Some(addr);
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for p in Nlas::new(a.value) {
                    let p = p?;
                    match p.kind {
                        CTA_PROTO_NUM => proto = p.u8(),
                        CTA_PROTO_SRC_PORT => {
                            sport = Some(be16(p.value).ok_or("a port of the wrong length")?)
                        }
                        CTA_PROTO_DST_PORT => {
                            dport = Some(be16(p.value).ok_or("a port of the wrong length")?)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Tuple {
        src: src.ok_or("a tuple without source address")?,
        dst: dst.ok_or("a tuple without destination address")?,
        proto: proto.ok_or("a tuple without protocol")?,
        sport,
        dport,
    })
}

/// Parse one IPCTNL_MSG_CT_NEW message of a dump (its nfgenmsg family and
/// the attributes after it). `None`: not an IPv4 or IPv6 entry. Never
/// panics, whatever the bytes.
pub(crate) fn parse_ct(
    family: u8,
    attrs: &[u8],
) -> std::result::Result<Option<CtEntry>, &'static str> {
    let Some(family) = IpFamily::from_af(family) else {
        return Ok(None);
    };
    let (mut orig, mut reply, mut id, mut zone) = (None, None, None, None);
    for a in Nlas::new(attrs) {
        let a = a?;
        match a.kind {
            CTA_TUPLE_ORIG => orig = Some(a.value),
            CTA_TUPLE_REPLY => reply = Some(a.value),
            CTA_ID => {
                id = Some(
                    <[u8; 4]>::try_from(a.value)
                        .map(u32::from_be_bytes)
                        .map_err(|_| "CTA_ID of the wrong length")?,
                )
            }
            CTA_ZONE => zone = Some(be16(a.value).ok_or("CTA_ZONE of the wrong length")?),
            _ => {}
        }
    }
    let orig_raw = orig.ok_or("an entry without original tuple")?;
    let o = parse_tuple(family, orig_raw)?;
    let r = parse_tuple(family, reply.ok_or("an entry without reply tuple")?)?;
    Ok(Some(CtEntry {
        family,
        proto: o.proto,
        orig_src: o.src,
        orig_dst: o.dst,
        orig_sport: o.sport,
        orig_dport: o.dport,
        reply_src: r.src,
        reply_dst: r.dst,
        reply_sport: r.sport,
        reply_dport: r.dport,
        id,
        zone,
        orig_tuple: RawTuple(orig_raw.to_vec()),
    }))
}

/// The message type of a dumped entry (IPCTNL_MSG_CT_NEW), for the fuzz
/// entry points.
pub(crate) const MSG_TYPE_CT_NEW: u16 = ct_type(MSG_CT_NEW);

#[cfg(test)]
mod tests {
    use super::*;

    const V4A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const V4B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 9));
    const V6A: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    const V6B: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 9));

    /// Every combination of criteria, for both families (some refused).
    fn all_filters() -> Vec<CtFilter> {
        let mut v = Vec::new();
        for (family, a, b) in [(IpFamily::V4, V4A, V4B), (IpFamily::V6, V6A, V6B)] {
            for bits in 0u8..32 {
                let mut f = CtFilter::new(family);
                if bits & 1 != 0 {
                    f = f.proto(if bits & 16 != 0 { PROTO_TCP } else { PROTO_UDP });
                } else if bits & 16 != 0 {
                    f = f.proto(132);
                }
                if bits & 2 != 0 {
                    f = f.orig_dport(53);
                }
                if bits & 4 != 0 {
                    f = f.orig_dst(a);
                }
                if bits & 8 != 0 {
                    f = f.reply_src(b);
                }
                v.push(f);
            }
        }
        v
    }

    fn attr(buf: &[u8], kind: u16) -> Option<&[u8]> {
        Nlas::new(buf)
            .map_while(|a| a.ok())
            .find(|a| a.kind == kind)
            .map(|a| a.value)
    }

    /// Whether a tuple nest is complete as an old kernel's
    /// ctnetlink_parse_tuple needs it: both addresses and a protocol.
    fn complete(tuple: &[u8], family: IpFamily) -> bool {
        let (s, d) = match family {
            IpFamily::V4 => (CTA_IP_V4_SRC, CTA_IP_V4_DST),
            IpFamily::V6 => (CTA_IP_V6_SRC, CTA_IP_V6_DST),
        };
        let ip = attr(tuple, CTA_TUPLE_IP);
        let proto = attr(tuple, CTA_TUPLE_PROTO);
        ip.is_some_and(|ip| attr(ip, s).is_some() && attr(ip, d).is_some())
            && proto.is_some_and(|p| attr(p, CTA_PROTO_NUM).is_some())
    }

    /// The rendered request of the filtered delete, nfgenmsg included.
    fn rendered(f: &CtFilter) -> Vec<u8> {
        let mut m = Vec::new();
        crate::socket::put_nfgenmsg_version(&mut m, af(f.family), NFGEN_VERSION);
        m.extend_from_slice(&encode_filter(f));
        m
    }

    #[test]
    fn no_criterion_ports_without_tcp_udp_and_mixed_families_are_refused() {
        for f in all_filters() {
            let criteria = f.proto.is_some()
                || f.orig_dport.is_some()
                || f.orig_dst.is_some()
                || f.reply_src.is_some();
            let port_ok = f.orig_dport.is_none() || matches!(f.proto, Some(6 | 17));
            let r = f.check("t");
            assert_eq!(r.is_ok(), criteria && port_ok, "{f}: {r:?}");
            if let Err(e) = r {
                assert!(e.is_invalid_argument(), "{e}");
            }
        }
        let e = CtFilter::new(IpFamily::V4)
            .check("conntrack_delete")
            .unwrap_err();
        assert!(e.to_string().contains("criterion"), "{e}");
        assert!(CtFilter::new(IpFamily::V4)
            .orig_dst(V6A)
            .check("t")
            .is_err());
        assert!(CtFilter::new(IpFamily::V6)
            .reply_src(V4B)
            .check("t")
            .is_err());
    }

    #[test]
    fn ipv6_addresses_never_reach_the_kernel_as_a_filter() {
        for f in all_filters().into_iter().filter(|f| f.check("t").is_ok()) {
            let k = kernel_filter(&f);
            if f.family == IpFamily::V6 {
                assert!(k.orig_dst.is_none() && k.reply_src.is_none(), "{f}");
                let d = dump_attrs(&f);
                for a in [V6A, V6B] {
                    let IpAddr::V6(a) = a else { unreachable!() };
                    assert!(
                        !d.windows(16).any(|w| w == a.octets()),
                        "{f}: an address in the dump"
                    );
                }
                if f.orig_dst.is_some() || f.reply_src.is_some() {
                    assert_ne!(k, f, "{f}: no kernel-side delete");
                }
            } else {
                assert_eq!(k, f);
            }
            assert_eq!((k.proto, k.orig_dport), (f.proto, f.orig_dport));
        }
        // Without criterion left, the dump is of the whole family.
        assert!(dump_attrs(&CtFilter::new(IpFamily::V6).reply_src(V6B)).is_empty());
    }

    #[test]
    fn every_accepted_filter_is_sent_with_its_family_version_1_a_filter_and_no_complete_tuple() {
        let mut accepted = 0;
        for f in all_filters().into_iter().filter(|f| f.check("t").is_ok()) {
            accepted += 1;
            // The dump's attributes hold the same (or less), never a tuple
            // that is complete.
            let d = dump_attrs(&f);
            if !d.is_empty() {
                let first = attr(&d, CTA_TUPLE_ORIG)
                    .or(attr(&d, CTA_TUPLE_REPLY))
                    .unwrap();
                assert!(!complete(first, f.family), "{f}");
                assert!(attr(&d, CTA_FILTER).is_some(), "{f}");
            }
            let m = rendered(&f);
            assert_eq!(m[0], af(f.family), "{f}: nfgenmsg family");
            assert_eq!(m[1], 1, "{f}: nfgenmsg version");
            let attrs = &m[4..];
            let filter = attr(attrs, CTA_FILTER).expect("CTA_FILTER");
            let orig_flags = attr(filter, CTA_FILTER_ORIG_FLAGS)
                .and_then(nla::u32_of)
                .unwrap();
            let reply_flags = attr(filter, CTA_FILTER_REPLY_FLAGS)
                .and_then(nla::u32_of)
                .unwrap();
            assert_ne!(orig_flags | reply_flags, 0, "{f}: a filter that selects");
            // An old kernel parses the original tuple if there is one, else
            // the reply tuple, as a complete tuple: it must be incomplete.
            let first = attr(attrs, CTA_TUPLE_ORIG).or(attr(attrs, CTA_TUPLE_REPLY));
            let first = first.expect("a tuple, so no kernel reads the request as a flush");
            assert!(!complete(first, f.family), "{f}: a complete tuple");
            if let Some(t) = attr(attrs, CTA_TUPLE_REPLY) {
                assert!(!complete(t, f.family), "{f}");
            }
            // The flags say exactly what the tuples hold.
            assert_eq!(orig_flags & F_PROTO_NUM != 0, f.proto.is_some(), "{f}");
            assert_eq!(orig_flags & F_DST_PORT != 0, f.orig_dport.is_some(), "{f}");
            assert_eq!(orig_flags & F_IP_DST != 0, f.orig_dst.is_some(), "{f}");
            assert_eq!(reply_flags & F_IP_SRC != 0, f.reply_src.is_some(), "{f}");
            assert_eq!(orig_flags & !(F_PROTO_NUM | F_DST_PORT | F_IP_DST), 0);
            assert_eq!(reply_flags & !F_IP_SRC, 0);
        }
        assert_eq!(accepted, 2 * 23);
    }

    #[test]
    fn a_port_filter_is_encoded_as_the_kernel_reads_it() {
        let f = CtFilter::new(IpFamily::V4).proto(17).orig_dport(5353);
        let mut want = Vec::new();
        // CTA_TUPLE_ORIG { CTA_TUPLE_PROTO { NUM 17, DST_PORT 5353 (be) } }
        want.extend_from_slice(&[24, 0, 0x01, 0x80, 20, 0, 0x02, 0x80]);
        want.extend_from_slice(&[5, 0, 1, 0, 17, 0, 0, 0, 6, 0, 3, 0, 0x14, 0xe9, 0, 0]);
        // CTA_FILTER { ORIG_FLAGS PROTO_NUM|DST_PORT, REPLY_FLAGS 0 } (host order)
        want.extend_from_slice(&[20, 0, 25, 0x80, 8, 0, 1, 0]);
        want.extend_from_slice(&0x28u32.to_ne_bytes());
        want.extend_from_slice(&[8, 0, 2, 0]);
        want.extend_from_slice(&0u32.to_ne_bytes());
        if cfg!(target_endian = "little") {
            assert_eq!(encode_filter(&f), want);
        }
    }

    /// A dumped entry: orig 10.0.0.1:1111 -> 10.0.0.100:8080, DNATed to
    /// 10.1.0.9:80, id 0x01020304, zone 7.
    fn entry_bytes() -> Vec<u8> {
        let tuple = |s: [u8; 4], d: [u8; 4], sp: u16, dp: u16| {
            let mut ip = Vec::new();
            nla::put(&mut ip, CTA_IP_V4_SRC, &s);
            nla::put(&mut ip, CTA_IP_V4_DST, &d);
            let mut proto = Vec::new();
            nla::put(&mut proto, CTA_PROTO_NUM, &[17]);
            nla::put(&mut proto, CTA_PROTO_SRC_PORT, &sp.to_be_bytes());
            nla::put(&mut proto, CTA_PROTO_DST_PORT, &dp.to_be_bytes());
            let mut t = Vec::new();
            nla::put(&mut t, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
            nla::put(&mut t, CTA_TUPLE_PROTO | NLA_F_NESTED, &proto);
            t
        };
        let mut b = Vec::new();
        nla::put(
            &mut b,
            CTA_TUPLE_ORIG | NLA_F_NESTED,
            &tuple([10, 0, 0, 1], [10, 0, 0, 100], 1111, 8080),
        );
        nla::put(
            &mut b,
            CTA_TUPLE_REPLY | NLA_F_NESTED,
            &tuple([10, 1, 0, 9], [10, 0, 0, 1], 80, 1111),
        );
        nla::put(&mut b, CTA_ZONE, &7u16.to_be_bytes());
        nla::put(&mut b, 3, &0x188u32.to_be_bytes()); // CTA_STATUS
        nla::put(&mut b, CTA_ID, &0x0102_0304u32.to_be_bytes());
        b
    }

    #[test]
    fn a_dumped_entry_is_parsed_and_its_delete_is_tuple_id_and_zone() {
        let b = entry_bytes();
        let e = parse_ct(libc::AF_INET as u8, &b).unwrap().unwrap();
        assert_eq!(
            e.to_string(),
            "ipv4 udp src=10.0.0.1 dst=10.0.0.100 sport=1111 dport=8080 \
             src=10.1.0.9 dst=10.0.0.1 sport=80 dport=1111 zone=7 id=16909060"
        );
        assert!(CtFilter::new(IpFamily::V4).reply_src(V4B).matches(&e));
        assert!(CtFilter::new(IpFamily::V4)
            .proto(17)
            .orig_dport(8080)
            .matches(&e));
        assert!(!CtFilter::new(IpFamily::V4)
            .proto(6)
            .orig_dport(8080)
            .matches(&e));
        assert!(!CtFilter::new(IpFamily::V6).proto(17).matches(&e));
        assert!(!CtFilter::new(IpFamily::V4).orig_dst(V4B).matches(&e));

        let del = encode_entry_delete(&e);
        let orig = attr(&del, CTA_TUPLE_ORIG).unwrap();
        assert!(complete(orig, IpFamily::V4));
        assert_eq!(
            orig,
            attr(&b, CTA_TUPLE_ORIG).unwrap(),
            "the tuple as dumped"
        );
        assert_eq!(attr(&del, CTA_ID), Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(attr(&del, CTA_ZONE), Some(&[0u8, 7][..]));
        assert!(attr(&del, CTA_FILTER).is_none() && attr(&del, CTA_TUPLE_REPLY).is_none());
        // Another family's message is skipped, not an error.
        assert!(parse_ct(7, &b).unwrap().is_none());
    }

    #[test]
    fn truncated_or_garbage_replies_are_errors_never_panics() {
        let b = entry_bytes();
        for n in 0..b.len() {
            let _ = parse_ct(libc::AF_INET as u8, &b[..n]);
            let _ = parse_ct(libc::AF_INET6 as u8, &b[..n]);
        }
        assert!(parse_ct(libc::AF_INET as u8, &b[..b.len() - 8])
            .unwrap()
            .unwrap()
            .id
            .is_none());
        assert!(parse_ct(libc::AF_INET as u8, &b[..20]).is_err());
        // Every byte flipped to every interesting value.
        for i in 0..b.len() {
            for v in [0u8, 1, 3, 4, 0x7f, 0x80, 0xff] {
                let mut c = b.clone();
                c[i] = v;
                let _ = parse_ct(libc::AF_INET as u8, &c);
                let _ = parse_ct(libc::AF_INET6 as u8, &c);
            }
        }
        // Pseudo-random garbage (xorshift), deterministic.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..400 {
            let mut g = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                g.push(x as u8);
            }
            let _ = parse_ct(libc::AF_INET as u8, &g);
            let _ = parse_ct(libc::AF_INET6 as u8, &g);
        }
        // Wrong lengths are refused, not misread.
        let mut short_ip = Vec::new();
        let mut ip = Vec::new();
        nla::put(&mut ip, CTA_IP_V4_SRC, &[1, 2, 3]);
        let mut t = Vec::new();
        nla::put(&mut t, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
        nla::put(&mut short_ip, CTA_TUPLE_ORIG | NLA_F_NESTED, &t);
        assert!(parse_ct(libc::AF_INET as u8, &short_ip).is_err());
    }
}
