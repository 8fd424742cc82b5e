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
