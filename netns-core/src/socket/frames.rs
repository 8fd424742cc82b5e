//! Framing: the netlink messages of a datagram, and the walk of one
//! datagram's messages for the answer to one request.

use netlink_packet_core::{
    NetlinkBuffer, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_DUMP_INTR,
    NLM_F_MULTIPART,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::nack::{parse_done_payload, parse_error_payload, Nack};
use super::{align4, Verb, NLMSG_HDRLEN};

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

/// One netlink message of a datagram, framing only.
pub(crate) struct RawMessage<'a> {
    pub(crate) message_type: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) port: u32,
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

pub(super) enum Event<'a> {
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

pub(super) enum Step {
    /// The request needs more datagrams.
    More,
    /// The request is complete; `code` 0 is success.
    Finished(Nack),
}

/// Walk one datagram's messages for request `seq`.
pub(super) fn walk<'a>(
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

    #[test]
    fn message_iterator_stops_on_bad_framing() {
        let mut buf = vec![0u8; 16];
        buf[0..4].copy_from_slice(&100u32.to_ne_bytes());
        let mut it = Messages::new(&buf);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
    }
}
