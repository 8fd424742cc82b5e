//! No input makes a reply parser panic: random bytes, and random payloads in
//! well-framed netlink messages of every type the library parses. (The fuzz
//! targets in fuzz/ explore the same entry points for longer.)

use netns_core::fuzzing;
use proptest::prelude::*;

fn frame(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut v = Vec::with_capacity(len + 3);
    v.extend_from_slice(&(len as u32).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// Attribute-shaped bytes: a sequence of (len, type, value) with lengths
/// sometimes lying.
fn attrs() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            any::<u16>(),
            0u16..64,
            prop::collection::vec(any::<u8>(), 0..24),
            any::<bool>(),
        ),
        0..12,
    )
    .prop_map(|items| {
        let mut v = Vec::new();
        for (lie, kind, value, honest) in items {
            let len = if honest { 4 + value.len() as u16 } else { lie };
            v.extend_from_slice(&len.to_ne_bytes());
            v.extend_from_slice(&kind.to_ne_bytes());
            v.extend_from_slice(&value);
            while v.len() % 4 != 0 {
                v.push(0);
            }
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::datagram(&data);
        fuzzing::payload(&data);
    }

    #[test]
    fn framed_messages(
        msgs in prop::collection::vec(
            (prop::sample::select(vec![2u16, 3, 16, 20, 24, 28, 88, 1, 4]),
             any::<u16>(),
             prop::collection::vec(any::<u8>(), 0..20),
             attrs()),
            1..5),
    ) {
        let mut dgram = Vec::new();
        for (kind, flags, fixed, attrs) in &msgs {
            let mut payload = fixed.clone();
            payload.extend_from_slice(attrs);
            dgram.extend(frame(*kind, *flags, 7, &payload));
        }
        fuzzing::datagram(&dgram);
        for (_, _, fixed, attrs) in &msgs {
            let mut payload = fixed.clone();
            payload.extend_from_slice(attrs);
            fuzzing::payload(&payload);
        }
    }
}
