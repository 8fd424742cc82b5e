//! The RTM_NEWLINK requests the library builds for the kinds the development
//! kernel lacks (802.1q vlan, ipvlan, dummy), compared attribute by attribute
//! with the ones iproute2 sends for the same command. The fixtures are strace
//! hex dumps recorded by `tests/fixtures/record.sh`.

use std::path::PathBuf;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;

use crate::link::{build_add, IpVlanIsolation, IpVlanMode, LinkSpec, VlanProtocol};
use crate::socket::Verb;
use crate::Handle;

/// An attribute tree: order-insensitive (sorted), nested where rtnetlink nests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Attr {
    Leaf(u16, Vec<u8>),
    Nest(u16, Vec<Attr>),
}

/// IFLA_LINKINFO at the top, IFLA_INFO_DATA inside it.
fn is_nested(depth: usize, kind: u16) -> bool {
    matches!((depth, kind), (0, 18) | (1, 2))
}

fn parse_attrs(mut buf: &[u8], depth: usize) -> Vec<Attr> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        assert!(len >= 4 && len <= buf.len(), "bad attribute length {len}");
        let value = &buf[4..len];
        out.push(if is_nested(depth, kind) {
            Attr::Nest(kind, parse_attrs(value, depth + 1))
        } else if depth == 1 && kind == 1 {
            // IFLA_INFO_KIND is an NLA_STRING: iproute2 sends it without the
            // NUL terminator, netlink-packet-route with one; the kernel reads
            // both the same (nla_strcmp), so compare the text.
            Attr::Leaf(kind, value.strip_suffix(&[0]).unwrap_or(value).to_vec())
        } else {
            Attr::Leaf(kind, value.to_vec())
        });
        buf = &buf[((len + 3) & !3).min(buf.len())..];
    }
    out.sort();
    out
}

/// (type, flags, ifinfomsg, attributes) of a request; seq and pid ignored.
fn normalise(msg: &[u8]) -> (u16, u16, Vec<u8>, Vec<Attr>) {
    let len = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize;
    assert_eq!(len, msg.len(), "one whole message");
    let kind = u16::from_ne_bytes([msg[4], msg[5]]);
    let flags = u16::from_ne_bytes([msg[6], msg[7]]);
    (
        kind,
        flags,
        msg[16..32].to_vec(),
        parse_attrs(&msg[32..], 0),
    )
}

/// The bytes of the RTM_NEWLINK hex dump in an `strace -e write=all` log.
fn recorded(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.strace"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.starts_with("sendmsg(") && l.contains("RTM_NEWLINK")));
    lines.next().expect("an RTM_NEWLINK sendmsg");
    let mut bytes = Vec::new();
    for l in lines.skip_while(|l| l.starts_with(" * ")) {
        let Some(rest) = l.strip_prefix(" | ") else {
            break;
        };
        // " | 00000  3c 00 ... 00  <ascii> |": offset, then 16 hex bytes.
        let hex = &rest[7..rest.len().min(7 + 49)];
        bytes.extend(
            hex.split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).expect("hex byte")),
        );
    }
    bytes
}

fn built(h: &Handle, spec: &LinkSpec<'_>) -> Vec<u8> {
    let resolved = h.resolve_spec(spec).expect("parent resolves");
    let mut header = NetlinkHeader::default();
    header.flags = Verb::Add.flags();
    let mut nl = NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(build_add(spec, resolved))),
    );
    nl.finalize();
    let mut buf = vec![0; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

#[test]
fn requests_match_iproute2_attribute_by_attribute() {
    let cases: Vec<(&str, LinkSpec<'static>)> = vec![
        ("vlan-8021q", LinkSpec::vlan("low0.10", "low0", 10)),
        (
            "vlan-8021ad",
            LinkSpec::vlan("low0.20", "low0", 20).vlan_protocol(VlanProtocol::Dot1AD),
        ),
        (
            "ipvlan-l2",
            LinkSpec::ipvlan("ipvl0", "low0", IpVlanMode::L2),
        ),
        (
            "ipvlan-l3-private",
            LinkSpec::ipvlan("ipvl1", "low0", IpVlanMode::L3)
                .ipvlan_isolation(IpVlanIsolation::Private),
        ),
        (
            "ipvlan-l3s-vepa",
            LinkSpec::ipvlan("ipvl2", "low0", IpVlanMode::L3S)
                .ipvlan_isolation(IpVlanIsolation::Vepa),
        ),
        ("dummy", LinkSpec::dummy("dummy0")),
    ];
    netns_testutil::in_private_netns(|| {
        // The environment record.sh recorded in: a fresh namespace with the
        // veth pair low0/low0b, made the same way (so indices match).
        netns_testutil::ip([
            "link", "add", "low0", "type", "veth", "peer", "name", "low0b",
        ]);
        let h = Handle::new().unwrap();
        for (name, spec) in &cases {
            let theirs = normalise(&recorded(name));
            let ours = normalise(&built(&h, spec));
            assert_eq!(
                ours, theirs,
                "{name}: library request differs from iproute2's"
            );
        }
    });
}

#[test]
fn the_comparison_notices_a_difference() {
    // Guard against a comparison that cannot fail: a different VLAN id, kind
    // or flag must show.
    netns_testutil::in_private_netns(|| {
        netns_testutil::ip([
            "link", "add", "low0", "type", "veth", "peer", "name", "low0b",
        ]);
        let h = Handle::new().unwrap();
        let theirs = normalise(&recorded("vlan-8021q"));
        assert_ne!(
            normalise(&built(&h, &LinkSpec::vlan("low0.10", "low0", 11))),
            theirs
        );
        assert_ne!(
            normalise(&built(&h, &LinkSpec::vlan("low0.11", "low0", 10))),
            theirs
        );
        let theirs = normalise(&recorded("ipvlan-l2"));
        assert_ne!(
            normalise(&built(
                &h,
                &LinkSpec::ipvlan("ipvl0", "low0", IpVlanMode::L2)
                    .ipvlan_isolation(IpVlanIsolation::Private)
            )),
            theirs
        );
    });
}
