//! The requests the library builds for the kinds and features the development
//! kernel lacks (802.1q vlan, ipvlan, dummy, bond, vrf, bridge VLAN
//! filtering), compared attribute by attribute with the ones iproute2 sends
//! for the same command. The fixtures are strace
//! hex dumps recorded by `tests/fixtures/record.sh`.

use std::path::PathBuf;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;

use crate::link::{
    build_add, BondMode, BridgeSpec, IpVlanIsolation, IpVlanMode, LinkKind, LinkSpec, VlanProtocol,
};
use crate::socket::Verb;
use crate::BridgeVlan;
use crate::Handle;

/// An attribute tree: order-insensitive (sorted), nested where rtnetlink nests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Attr {
    Leaf(u16, Vec<u8>),
    Nest(u16, Vec<Attr>),
}

/// IFLA_LINKINFO and IFLA_AF_SPEC at the top, IFLA_INFO_DATA inside
/// IFLA_LINKINFO (`parent` is the enclosing attribute's type).
fn is_nested(parent: Option<u16>, kind: u16) -> bool {
    matches!((parent, kind), (None, 18) | (None, 26) | (Some(18), 2))
}

fn parse_attrs(mut buf: &[u8], parent: Option<u16>) -> Vec<Attr> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        assert!(len >= 4 && len <= buf.len(), "bad attribute length {len}");
        let value = &buf[4..len];
        out.push(if is_nested(parent, kind) {
            Attr::Nest(kind, parse_attrs(value, Some(kind)))
        } else if parent == Some(18) && kind == 1 {
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
        parse_attrs(&msg[32..], None),
    )
}

/// The bytes of the first link request (RTM_NEWLINK, RTM_SETLINK or
/// RTM_DELLINK) hex-dumped in an `strace -e write=all` log.
fn recorded(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.strace"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let is_request = |l: &str| {
        l.starts_with("sendmsg(")
            && ["RTM_NEWLINK", "RTM_SETLINK", "RTM_DELLINK"]
                .iter()
                .any(|t| l.contains(t))
    };
    let mut lines = text.lines().skip_while(|l| !is_request(l));
    lines.next().expect("a link request sendmsg");
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
    serialize(
        RouteNetlinkMessage::NewLink(build_add(spec, resolved)),
        Verb::Add,
    )
}

fn serialize(msg: RouteNetlinkMessage, verb: Verb) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = verb.flags();
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
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
        ("bond-active-backup", {
            let mut s = LinkSpec::bond("bond0", BondMode::ActiveBackup);
            if let LinkKind::Bond(b) = &mut s.kind {
                b.miimon = Some(100);
            }
            s
        }),
        ("bond-8023ad", LinkSpec::bond("bond1", BondMode::Lacp)),
        ("vrf", LinkSpec::vrf("vrf0", 10)),
        (
            "bridge-vlan-filtering",
            LinkSpec::new(
                "br0",
                LinkKind::Bridge(BridgeSpec {
                    vlan_filtering: Some(true),
                }),
            ),
        ),
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
fn bridge_vlan_requests_match_the_bridge_tool() {
    netns_testutil::in_private_netns(|| {
        netns_testutil::ip([
            "link", "add", "low0", "type", "veth", "peer", "name", "low0b",
        ]);
        let h = Handle::new().unwrap();
        let low0 = h.link_index("low0").unwrap();
        let cases = [
            ("bridge-vlan-access", BridgeVlan::access(10), false, true),
            ("bridge-vlan-tagged", BridgeVlan::tagged(20), false, true),
            ("bridge-vlan-self", BridgeVlan::tagged(30), true, true),
            ("bridge-vlan-del", BridgeVlan::tagged(10), false, false),
        ];
        for (name, vlan, on_bridge, add) in cases {
            let msg = crate::bridge::vlan_request(low0, &vlan, on_bridge);
            let ours = if add {
                serialize(RouteNetlinkMessage::SetLink(msg), Verb::Change)
            } else {
                serialize(RouteNetlinkMessage::DelLink(msg), Verb::Del)
            };
            assert_eq!(normalise(&ours), normalise(&recorded(name)), "{name}");
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
