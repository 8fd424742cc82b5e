//! Entry points for the fuzz targets in `fuzz/` and the property tests: feed
//! arbitrary bytes to every parser of kernel replies. Not part of the API.

use crate::socket::{parse_done_payload, parse_error_payload, Messages};

/// Treat `data` as a datagram from the kernel and parse every message in it
/// the way the library would. Must never panic.
pub fn datagram(data: &[u8]) {
    crate::socket::walk_any(data);
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        match m.message_type {
            2 => drop(parse_error_payload(m.flags, m.payload)),
            3 => drop(parse_done_payload(m.flags, m.payload)),
            16 => drop(crate::link::parse_link(m.payload)),
            20 => drop(crate::addr::parse_addr(m.payload)),
            24 => drop(crate::route::parse_route(m.payload)),
            28 => drop(crate::neigh::parse_neigh(m.payload)),
            0x0a00 | 0x0a03 | 0x0a06 => {
                if let (Some(&family), Some(attrs)) = (m.payload.first(), m.payload.get(4..)) {
                    drop(crate::nft::parse_table(family, attrs));
                    drop(crate::nft::parse_chain(family, attrs));
                    drop(crate::nft::parse_rule(family, attrs));
                }
            }
            0x0a0c => {
                if let Some(attrs) = m.payload.get(4..) {
                    drop(crate::nft::parse_elements(attrs));
                }
            }
            crate::conntrack::MSG_TYPE_CT_NEW => {
                if let (Some(&family), Some(attrs)) = (m.payload.first(), m.payload.get(4..)) {
                    drop(crate::conntrack::parse_ct(family, attrs));
                }
            }
            _ => {}
        }
        // Every message also as a notification of a subscription.
        drop(crate::events::parse_event(&crate::socket::Reply {
            message_type: m.message_type,
            payload: m.payload,
        }));
    }
}

/// Parse `data` as the payload of each kind of reply. Must never panic.
pub fn payload(data: &[u8]) {
    let _ = parse_error_payload(data.first().map_or(0, |&b| u16::from(b) << 8), data);
    let _ = parse_done_payload(0x200, data);
    let _ = crate::link::parse_link(data);
    let _ = crate::addr::parse_addr(data);
    let _ = crate::route::parse_route(data);
    let _ = crate::neigh::parse_neigh(data);
    let family = data.first().copied().unwrap_or(2);
    let _ = crate::nft::parse_table(family, data.get(1..).unwrap_or_default());
    let _ = crate::nft::parse_chain(family, data.get(1..).unwrap_or_default());
    let _ = crate::nft::parse_rule(family, data.get(1..).unwrap_or_default());
    let _ = crate::nft::parse_elements(data);
    let _ = crate::conntrack::parse_ct(family, data.get(1..).unwrap_or_default());
    for message_type in [16, 17, 20, 21, 24, 25, 28, 29] {
        let _ = crate::events::parse_event(&crate::socket::Reply {
            message_type,
            payload: data,
        });
    }
}

/// The nfgenmsg family and the attributes after it, as the nfnetlink dump
/// and get paths split a message (`None`: shorter than its nfgenmsg).
fn nf_split(payload: &[u8]) -> Option<(u8, &[u8])> {
    Some((*payload.first()?, payload.get(4..)?))
}

/// Treat `data` as nftables replies (NETLINK_NETFILTER, subsystem
/// NFTABLES): a datagram walked as the socket layer walks replies, each
/// NEWTABLE/NEWCHAIN/NEWRULE/NEWSETELEM message through its parser; then
/// `data` itself as one message's payload (nfgenmsg and attributes) and as
/// a verdict's attributes. What parses is printed (the `nft list` lines the
/// library writes). Must never panic.
pub fn nft_reply(data: &[u8]) {
    crate::socket::walk_any(data);
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_*.
        if m.message_type >> 8 != 10 {
            continue;
        }
        if let Some((family, attrs)) = nf_split(m.payload) {
            nft_message(m.message_type & 0xff, family, attrs);
        }
    }
    if let Some((family, attrs)) = nf_split(data) {
        for msg in [0, 3, 6, 12] {
            nft_message(msg, family, attrs);
        }
    }
    let _ = crate::nft::parse_verdict(data);
}

fn nft_message(msg: u16, family: u8, attrs: &[u8]) {
    match msg {
        0 => {
            if let Ok(Some(t)) = crate::nft::parse_table(family, attrs) {
                let _ = t.to_string();
            }
        }
        3 => {
            if let Ok(Some(c)) = crate::nft::parse_chain(family, attrs) {
                let _ = c.to_string();
            }
        }
        6 => {
            if let Ok(Some(r)) = crate::nft::parse_rule(family, attrs) {
                let _ = r.to_string();
            }
        }
        12 => {
            if let Ok(elems) = crate::nft::parse_elements(attrs) {
                let _ = format!("{elems:?}");
            }
        }
        _ => {}
    }
}

/// Treat `data` as conntrack replies (NETLINK_NETFILTER, subsystem
/// CTNETLINK): a datagram walked as the socket layer walks replies, each
/// IPCTNL_MSG_CT_NEW message through the entry parser, then `data` itself
/// as one message's payload. An entry that parses is printed, matched
/// against filters made of its own fields (which must select it) and
/// turned into the delete the library would send. Must never panic.
pub fn conntrack_reply(data: &[u8]) {
    crate::socket::walk_any(data);
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        if m.message_type != crate::conntrack::MSG_TYPE_CT_NEW {
            continue;
        }
        if let Some((family, attrs)) = nf_split(m.payload) {
            conntrack_entry(family, attrs);
        }
    }
    if let Some((family, attrs)) = nf_split(data) {
        conntrack_entry(family, attrs);
    }
}

fn conntrack_entry(family: u8, attrs: &[u8]) {
    use crate::conntrack::CtFilter;
    let Ok(Some(e)) = crate::conntrack::parse_ct(family, attrs) else {
        return;
    };
    let _ = e.to_string();
    let mut f = CtFilter::new(e.family).proto(e.proto);
    if let Some(p) = e.orig_dport {
        f = f.orig_dport(p);
    }
    let f = f.orig_dst(e.orig_dst).reply_src(e.reply_src);
    assert!(f.matches(&e), "{f} does not select {e}");
    let _ = f.to_string();
    let _ = crate::conntrack::encode_entry_delete(&e);
}
