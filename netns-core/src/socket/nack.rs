//! The error part of netlink answers: `struct nlmsgerr` of an NLMSG_ERROR
//! (and the status of an NLMSG_DONE) with its extended-ack TLVs
//! (NLMSGERR_ATTR_MSG, _OFFS, _MISS_TYPE), parsed from the raw payload.

use std::fmt;

use netlink_packet_core::{NLM_F_ACK_TLVS, NLM_F_CAPPED};

use super::{align4, NLMSG_HDRLEN};
use crate::error::Error;
use crate::nla::{u32_at, Nlas};

const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

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
        Error::kernel_at(op, object.to_string(), self.code, text, self.offset)
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
        let n =
            parse_done_payload(NLM_F_ACK_TLVS | netlink_packet_core::NLM_F_MULTIPART, &p).unwrap();
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
}
