//! Rules: [`NftRule`] (a list of [`NftExpr`] expressions and a comment),
//! added in a transaction, listed back as [`NftRuleInfo`], deleted by
//! handle. Each expression is written as the kernel's nf_tables expects it
//! (the attribute layout of libnftnl's src/expr/*.c, checked against
//! `nft --debug=netlink` and `nft -j`).

use std::fmt;

use ipnet::IpNet;

use super::{
    check_name, nft_type, Nft, NftFamily, NftTransaction, NLA_F_NESTED, NLM_F_APPEND, NLM_F_CREATE,
};
use crate::error::{Error, Result};
use crate::nla::{self, Nlas};

const MSG_NEWRULE: u16 = 6;
const MSG_GETRULE: u16 = 7;
const MSG_DELRULE: u16 = 8;
/// NFTA_RULE_* attributes.
const RULE_TABLE: u16 = 1;
const RULE_CHAIN: u16 = 2;
const RULE_HANDLE: u16 = 3;
const RULE_EXPRESSIONS: u16 = 4;
const RULE_USERDATA: u16 = 7;
/// NFTA_LIST_ELEM, NFTA_EXPR_NAME, NFTA_EXPR_DATA.
const LIST_ELEM: u16 = 1;
const EXPR_NAME: u16 = 1;
const EXPR_DATA: u16 = 2;
/// NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN.
const DATA_VALUE: u16 = 1;
const DATA_VERDICT: u16 = 2;
const VERDICT_CODE: u16 = 1;
const VERDICT_CHAIN: u16 = 2;
/// NFTNL_UDATA_RULE_COMMENT: the comment TLV in a rule's userdata.
const UDATA_RULE_COMMENT: u8 = 0;
/// The longest comment nft writes (NFTNL_UDATA_COMMENT_MAXLEN, NUL
/// included).
const COMMENT_MAXLEN: usize = 128;

/// A register: [`NftReg::VERDICT`] or one of the four 16-byte data
/// registers (NFT_REG_1 to NFT_REG_4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NftReg(u32);

impl NftReg {
    /// The verdict register (NFT_REG_VERDICT).
    pub const VERDICT: NftReg = NftReg(0);
    /// NFT_REG_1.
    pub const R1: NftReg = NftReg(1);
    /// NFT_REG_2.
    pub const R2: NftReg = NftReg(2);
    /// NFT_REG_3.
    pub const R3: NftReg = NftReg(3);
    /// NFT_REG_4.
    pub const R4: NftReg = NftReg(4);

    /// The 4-byte register `n` (NFT_REG32_00 + `n`, `n` 0 to 15; 0 to 3
    /// alias NFT_REG_1): where concatenated map keys are loaded.
    pub const fn r32(n: u8) -> NftReg {
        NftReg(8 + (n as u32 & 15))
    }
}

/// What a map lookup's key is made of, loaded field by field into
/// consecutive 4-byte registers ([`NftRule::vmap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftKeySource {
    /// `ip saddr` (`ip6 saddr` when `true`).
    Saddr(bool),
    /// `ip daddr` (`ip6 daddr` when `true`).
    Daddr(bool),
    /// `meta l4proto`.
    L4proto,
    /// `th dport`.
    Dport,
    /// `meta iifname` (16 bytes: four registers).
    Iifname,
}

/// Which header a payload load reads (NFT_PAYLOAD_*_HEADER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadBase {
    /// The link-layer header.
    Link,
    /// The network header (IPv4, IPv6).
    Network,
    /// The transport header (TCP, UDP...).
    Transport,
}

/// A comparison (NFT_CMP_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmpOp {
    /// `==`.
    Eq,
    /// `!=`.
    Neq,
}

/// A meta key (NFT_META_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaKey {
    /// The input interface's name (16 bytes, NUL-padded).
    Iifname,
    /// The output interface's name.
    Oifname,
    /// The packet's family (NFPROTO_IPV4 or NFPROTO_IPV6), one byte.
    Nfproto,
    /// The transport protocol (IPPROTO_*), one byte.
    L4proto,
}

/// A verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftVerdict {
    /// `accept`.
    Accept,
    /// `drop`.
    Drop,
    /// `return`.
    Return,
    /// `jump CHAIN`.
    Jump(String),
    /// `goto CHAIN`.
    Goto(String),
}

/// One expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftExpr {
    /// Load `len` bytes at `offset` of the `base` header into `dreg`.
    Payload {
        /// The header.
        base: PayloadBase,
        /// The offset in it.
        offset: u32,
        /// How many bytes.
        len: u32,
        /// The destination register.
        dreg: NftReg,
    },
    /// Compare `sreg` with `data` (bytes in packet order); the rule stops
    /// here unless it holds.
    Cmp {
        /// The register compared.
        sreg: NftReg,
        /// The comparison.
        op: CmpOp,
        /// What it is compared with.
        data: Vec<u8>,
    },
    /// `dreg = (sreg & mask) ^ xor`, over the length of `mask`.
    Bitwise {
        /// The source register.
        sreg: NftReg,
        /// The destination register.
        dreg: NftReg,
        /// The mask (its length is the operation's).
        mask: Vec<u8>,
        /// What is xored in (as long as `mask`).
        xor: Vec<u8>,
    },
    /// Load meta information `key` into `dreg`.
    Meta {
        /// What.
        key: MetaKey,
        /// The destination register.
        dreg: NftReg,
    },
    /// Load `data` into `dreg`.
    Immediate {
        /// The destination register.
        dreg: NftReg,
        /// The bytes.
        data: Vec<u8>,
    },
    /// End the rule with a verdict.
    Verdict(NftVerdict),
    /// Count packets and bytes.
    Counter,
    /// Masquerade (source NAT to the output interface's address).
    Masquerade,
    /// The address type of the packet's destination (`fib daddr type`):
    /// an RTN_* value (2: local), host-endian, into `dreg`.
    FibDaddrType {
        /// The destination register.
        dreg: NftReg,
    },
    /// The connection tracking status bits (`ct status`, IPS_*),
    /// host-endian, into `dreg`.
    CtStatus {
        /// The destination register.
        dreg: NftReg,
    },
    /// Look the key in `sreg` (and the registers after it) up in set
    /// `set`; no element: the rule stops here. With `dreg`, what the
    /// element maps to is loaded there: [`NftReg::VERDICT`] takes a verdict
    /// map's verdict (nft's `vmap @set`), a data register a data map's
    /// value (`... map @set`).
    Lookup {
        /// The set's name.
        set: String,
        /// The first register of the key.
        sreg: NftReg,
        /// Where the element's data goes (`None`: a set, only membership).
        dreg: Option<NftReg>,
    },
    /// Source or destination NAT to the address in `addr` (and the port in
    /// `proto`, when given): nft's `snat to` / `dnat to`.
    Nat {
        /// `true` for DNAT, `false` for SNAT.
        dnat: bool,
        /// `true` for IPv6 addresses.
        v6: bool,
        /// The register holding the address.
        addr: NftReg,
        /// The register holding the port, if one is set.
        proto: Option<NftReg>,
    },
}

impl NftExpr {
    /// The expression's kernel name (`payload`, `cmp`...).
    pub fn name(&self) -> &'static str {
        match self {
            NftExpr::Payload { .. } => "payload",
            NftExpr::Cmp { .. } => "cmp",
            NftExpr::Bitwise { .. } => "bitwise",
            NftExpr::Meta { .. } => "meta",
            NftExpr::Immediate { .. } | NftExpr::Verdict(_) => "immediate",
            NftExpr::Counter => "counter",
            NftExpr::Masquerade => "masq",
            NftExpr::Nat { .. } => "nat",
            NftExpr::FibDaddrType { .. } => "fib",
            NftExpr::CtStatus { .. } => "ct",
            NftExpr::Lookup { .. } => "lookup",
        }
    }

    /// Append this expression's NFTA_EXPR_DATA attributes.
    fn put_data(&self, b: &mut Vec<u8>) {
        let be = |b: &mut Vec<u8>, kind: u16, v: u32| nla::put(b, kind, &v.to_be_bytes());
        let value = |b: &mut Vec<u8>, kind: u16, data: &[u8]| {
            let mut inner = Vec::new();
            nla::put(&mut inner, DATA_VALUE, data);
            nla::put(b, kind | NLA_F_NESTED, &inner);
        };
        match self {
            NftExpr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                be(b, 1, dreg.0);
                let base = match base {
                    PayloadBase::Link => 0,
                    PayloadBase::Network => 1,
                    PayloadBase::Transport => 2,
                };
                be(b, 2, base);
                be(b, 3, *offset);
                be(b, 4, *len);
            }
            NftExpr::Cmp { sreg, op, data } => {
                be(b, 1, sreg.0);
                be(b, 2, if *op == CmpOp::Eq { 0 } else { 1 });
                value(b, 3, data);
            }
            NftExpr::Bitwise {
                sreg,
                dreg,
                mask,
                xor,
            } => {
                be(b, 1, sreg.0);
                be(b, 2, dreg.0);
                be(b, 3, mask.len() as u32);
                value(b, 4, mask);
                value(b, 5, xor);
            }
            NftExpr::Meta { key, dreg } => {
                be(b, 1, dreg.0);
                let key = match key {
                    MetaKey::Iifname => 6,
                    MetaKey::Oifname => 7,
                    MetaKey::Nfproto => 15,
                    MetaKey::L4proto => 16,
                };
                be(b, 2, key);
            }
            NftExpr::Immediate { dreg, data } => {
                be(b, 1, dreg.0);
                value(b, 2, data);
            }
            NftExpr::Verdict(v) => {
                be(b, 1, NftReg::VERDICT.0);
                let mut data = Vec::new();
                put_verdict(&mut data, v);
                nla::put(b, 2 | NLA_F_NESTED, &data);
            }
            NftExpr::Lookup { set, sreg, dreg } => {
                nla::put_str(b, 1, set); // NFTA_LOOKUP_SET
                be(b, 2, sreg.0); // NFTA_LOOKUP_SREG
                if let Some(d) = dreg {
                    be(b, 3, d.0); // NFTA_LOOKUP_DREG
                }
            }
            NftExpr::Nat {
                dnat,
                v6,
                addr,
                proto,
            } => {
                be(b, 1, u32::from(*dnat)); // NFT_NAT_SNAT 0, NFT_NAT_DNAT 1
                be(b, 2, if *v6 { 10 } else { 2 });
                be(b, 3, addr.0);
                if let Some(p) = proto {
                    be(b, 5, p.0);
                    be(b, 7, 0x2); // NF_NAT_RANGE_PROTO_SPECIFIED
                }
            }
            NftExpr::FibDaddrType { dreg } => {
                be(b, 1, dreg.0);
                be(b, 2, 3); // NFT_FIB_RESULT_ADDRTYPE
                be(b, 3, 1 << 1); // NFTA_FIB_F_DADDR
            }
            NftExpr::CtStatus { dreg } => {
                be(b, 1, dreg.0);
                be(b, 2, 2); // NFT_CT_STATUS
            }
            NftExpr::Counter | NftExpr::Masquerade => {}
        }
    }
}

/// NFTA_DATA_VERDICT { NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN } of `v` (the
/// data of an immediate verdict, or of a map element).
pub(crate) fn put_verdict(data: &mut Vec<u8>, v: &NftVerdict) {
    let (code, chain): (i32, Option<&str>) = match v {
        NftVerdict::Accept => (1, None),
        NftVerdict::Drop => (0, None),
        NftVerdict::Return => (-5, None),
        NftVerdict::Jump(c) => (-3, Some(c)),
        NftVerdict::Goto(c) => (-4, Some(c)),
    };
    let mut verdict = Vec::new();
    nla::put(&mut verdict, VERDICT_CODE, &code.to_be_bytes());
    if let Some(c) = chain {
        nla::put_str(&mut verdict, VERDICT_CHAIN, c);
    }
    nla::put(data, DATA_VERDICT | NLA_F_NESTED, &verdict);
}

/// The verdict of NFTA_DATA_VERDICT's contents (`None`: a code netns does
/// not name, such as NF_QUEUE).
pub(crate) fn parse_verdict(attrs: &[u8]) -> std::result::Result<Option<NftVerdict>, String> {
    let (mut code, mut chain) = (None, String::new());
    for a in Nlas::new(attrs) {
        let a = a?;
        match a.kind {
            VERDICT_CODE => {
                code = Some(
                    <[u8; 4]>::try_from(a.value)
                        .map(i32::from_be_bytes)
                        .map_err(|_| "NFTA_VERDICT_CODE is not 4 bytes")?,
                )
            }
            VERDICT_CHAIN => chain = a.str(),
            _ => {}
        }
    }
    Ok(match code {
        Some(1) => Some(NftVerdict::Accept),
        Some(0) => Some(NftVerdict::Drop),
        Some(-5) => Some(NftVerdict::Return),
        Some(-3) => Some(NftVerdict::Jump(chain)),
        Some(-4) => Some(NftVerdict::Goto(chain)),
        _ => None,
    })
}

/// A rule: expressions run in order, and a comment (nft's `comment "..."`,
/// stored in the rule's userdata, where netns records what made it).
///
/// ```
/// use netns_core::NftRule;
/// // ip saddr 10.0.0.0/24 ip daddr != 10.0.0.0/24 masquerade comment "pod c1"
/// let r = NftRule::new()
///     .ip_saddr("10.0.0.0/24".parse()?, true)
///     .ip_daddr("10.0.0.0/24".parse()?, false)
///     .masquerade()
///     .comment("pod c1");
/// assert_eq!(r.exprs().len(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NftRule {
    exprs: Vec<NftExpr>,
    comment: Option<String>,
}

impl NftRule {
    /// An empty rule (it matches every packet and does nothing).
    pub fn new() -> NftRule {
        NftRule::default()
    }

    /// Append an expression.
    pub fn expr(mut self, e: NftExpr) -> NftRule {
        self.exprs.push(e);
        self
    }

    /// The expressions so far.
    pub fn exprs(&self) -> &[NftExpr] {
        &self.exprs
    }

    /// Set the comment.
    pub fn comment(mut self, text: impl Into<String>) -> NftRule {
        self.comment = Some(text.into());
        self
    }

    /// `ip saddr NET` (`matches`) or `ip saddr != NET`, in an `ip` table
    /// (in an `inet` one, after [`nfproto`](Self::nfproto)).
    pub fn ip_saddr(self, net: IpNet, matches: bool) -> NftRule {
        self.address(net, true, matches)
    }

    /// `ip daddr NET` or `ip daddr != NET` (and `ip6` for an IPv6 net).
    pub fn ip_daddr(self, net: IpNet, matches: bool) -> NftRule {
        self.address(net, false, matches)
    }

    /// `meta nfproto ipv4|ipv6`: the rest of the rule only for that
    /// family (needed in an `inet` table before an address match).
    pub fn nfproto(self, v6: bool) -> NftRule {
        self.expr(NftExpr::Meta {
            key: MetaKey::Nfproto,
            dreg: NftReg::R1,
        })
        .expr(NftExpr::Cmp {
            sreg: NftReg::R1,
            op: CmpOp::Eq,
            data: vec![if v6 { 10 } else { 2 }],
        })
    }

    /// A prefix match on the source or destination address, as nft writes
    /// it (so `nft list` prints it back as the prefix): a byte-aligned
    /// prefix loads only its bytes; another one loads the whole address and
    /// masks it.
    fn address(self, net: IpNet, source: bool, matches: bool) -> NftRule {
        // IPv4: saddr at 12, daddr at 16; IPv6: at 8 and 24.
        let offset = match (net, source) {
            (IpNet::V4(_), true) => 12,
            (IpNet::V4(_), false) => 16,
            (IpNet::V6(_), true) => 8,
            (IpNet::V6(_), false) => 24,
        };
        let addr: Vec<u8> = match net.network() {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        let plen = usize::from(net.prefix_len());
        let op = if matches { CmpOp::Eq } else { CmpOp::Neq };
        let whole = plen.div_ceil(8);
        if plen % 8 == 0 {
            self.expr(NftExpr::Payload {
                base: PayloadBase::Network,
                offset,
                len: whole as u32,
                dreg: NftReg::R1,
            })
            .expr(NftExpr::Cmp {
                sreg: NftReg::R1,
                op,
                data: addr[..whole].to_vec(),
            })
        } else {
            // The whole address, masked (as nft writes it, so `nft list`
            // shows the prefix).
            let len = addr.len();
            let mut mask = vec![0u8; len];
            for (i, m) in mask.iter_mut().enumerate() {
                let bits = plen.saturating_sub(i * 8).min(8);
                *m = !(0xffu8.checked_shr(bits as u32).unwrap_or(0));
            }
            self.expr(NftExpr::Payload {
                base: PayloadBase::Network,
                offset,
                len: len as u32,
                dreg: NftReg::R1,
            })
            .expr(NftExpr::Bitwise {
                sreg: NftReg::R1,
                dreg: NftReg::R1,
                xor: vec![0; len],
                mask,
            })
            .expr(NftExpr::Cmp {
                sreg: NftReg::R1,
                op,
                data: addr,
            })
        }
    }

    /// `ether saddr MAC` (`matches`) or `ether saddr != MAC`: the frame's
    /// source MAC address (link-layer header, bytes 6 to 11), in a
    /// `bridge` or `netdev` table.
    pub fn ether_saddr(self, mac: [u8; 6], matches: bool) -> NftRule {
        self.expr(NftExpr::Payload {
            base: PayloadBase::Link,
            offset: 6,
            len: 6,
            dreg: NftReg::R1,
        })
        .expr(NftExpr::Cmp {
            sreg: NftReg::R1,
            op: if matches { CmpOp::Eq } else { CmpOp::Neq },
            data: mac.to_vec(),
        })
    }

    /// `meta l4proto PROTO th dport PORT` (`tcp dport 8080` for proto 6):
    /// packets of transport protocol `proto` (IPPROTO_*: 6 TCP, 17 UDP, 132
    /// SCTP) to port `port`.
    pub fn dport(self, proto: u8, port: u16) -> NftRule {
        self.expr(NftExpr::Meta {
            key: MetaKey::L4proto,
            dreg: NftReg::R1,
        })
        .expr(NftExpr::Cmp {
            sreg: NftReg::R1,
            op: CmpOp::Eq,
            data: vec![proto],
        })
        .expr(NftExpr::Payload {
            base: PayloadBase::Transport,
            offset: 2,
            len: 2,
            dreg: NftReg::R1,
        })
        .expr(NftExpr::Cmp {
            sreg: NftReg::R1,
            op: CmpOp::Eq,
            data: port.to_be_bytes().to_vec(),
        })
    }

    /// `fib daddr type local`: packets to an address of this host (what a
    /// port forward must be limited to, or it also catches forwarded
    /// traffic).
    pub fn daddr_is_local(self) -> NftRule {
        self.expr(NftExpr::FibDaddrType { dreg: NftReg::R1 })
            .expr(NftExpr::Cmp {
                sreg: NftReg::R1,
                op: CmpOp::Eq,
                data: 2u32.to_ne_bytes().to_vec(), // RTN_LOCAL, host order
            })
    }

    /// `ct status dnat`: packets of a connection whose destination was
    /// NATed (hairpin masquerade uses it).
    pub fn ct_dnat(self) -> NftRule {
        self.expr(NftExpr::CtStatus { dreg: NftReg::R1 })
            .expr(NftExpr::Bitwise {
                sreg: NftReg::R1,
                dreg: NftReg::R1,
                mask: 0x20u32.to_ne_bytes().to_vec(), // IPS_DST_NAT, host order
                xor: vec![0; 4],
            })
            .expr(NftExpr::Cmp {
                sreg: NftReg::R1,
                op: CmpOp::Neq,
                data: vec![0; 4],
            })
    }

    /// `dnat to ADDR[:PORT]` (in a nat chain at prerouting or output).
    pub fn dnat(self, to: std::net::IpAddr, port: Option<u16>) -> NftRule {
        self.nat(true, to, port)
    }

    /// `snat to ADDR[:PORT]` (in a nat chain at postrouting or input).
    pub fn snat(self, to: std::net::IpAddr, port: Option<u16>) -> NftRule {
        self.nat(false, to, port)
    }

    fn nat(mut self, dnat: bool, to: std::net::IpAddr, port: Option<u16>) -> NftRule {
        let (v6, data) = match to {
            std::net::IpAddr::V4(a) => (false, a.octets().to_vec()),
            std::net::IpAddr::V6(a) => (true, a.octets().to_vec()),
        };
        self = self.expr(NftExpr::Immediate {
            dreg: NftReg::R1,
            data,
        });
        if let Some(p) = port {
            self = self.expr(NftExpr::Immediate {
                dreg: NftReg::R2,
                data: p.to_be_bytes().to_vec(),
            });
        }
        self.expr(NftExpr::Nat {
            dnat,
            v6,
            addr: NftReg::R1,
            proto: port.map(|_| NftReg::R2),
        })
    }

    /// `KEY vmap @map`: the fields of the key loaded into consecutive
    /// 4-byte registers from NFT_REG32_00, then looked up in verdict map
    /// `map` (e.g. `ip daddr . meta l4proto . th dport vmap @m`).
    pub fn vmap(self, key: &[NftKeySource], map: &str) -> NftRule {
        self.load_key(key).expr(NftExpr::Lookup {
            set: map.to_string(),
            sreg: NftReg::r32(0),
            dreg: Some(NftReg::VERDICT),
        })
    }

    /// `KEY @set`: the rule goes on only if the key is in set `set` (e.g.
    /// `ip daddr . ip saddr @hairpin`).
    pub fn lookup(self, key: &[NftKeySource], set: &str) -> NftRule {
        self.load_key(key).expr(NftExpr::Lookup {
            set: set.to_string(),
            sreg: NftReg::r32(0),
            dreg: None,
        })
    }

    /// `dnat ip to KEY map @map` (`ip6` when `v6`): the key looked up in
    /// data map `map`, whose values are an address and a port, and the
    /// packet DNATed to them (no element: the rule stops).
    pub fn dnat_map(self, key: &[NftKeySource], map: &str, v6: bool) -> NftRule {
        // The value lands in NFT_REG_1 onwards: the address, then the port
        // in the next 4-byte register.
        let port = NftReg::r32(if v6 { 4 } else { 1 });
        self.load_key(key)
            .expr(NftExpr::Lookup {
                set: map.to_string(),
                sreg: NftReg::r32(0),
                dreg: Some(NftReg::R1),
            })
            .expr(NftExpr::Nat {
                dnat: true,
                v6,
                addr: NftReg::R1,
                proto: Some(port),
            })
    }

    /// Load the fields of `key` into consecutive 4-byte registers from
    /// NFT_REG32_00 (a concatenation, as nft lays it out).
    fn load_key(mut self, key: &[NftKeySource]) -> NftRule {
        let mut reg = 0u8;
        for k in key {
            let (e, regs) = match *k {
                NftKeySource::Saddr(v6) | NftKeySource::Daddr(v6) => {
                    let source = matches!(k, NftKeySource::Saddr(_));
                    let offset = match (v6, source) {
                        (false, true) => 12,
                        (false, false) => 16,
                        (true, true) => 8,
                        (true, false) => 24,
                    };
                    let len = if v6 { 16 } else { 4 };
                    (
                        NftExpr::Payload {
                            base: PayloadBase::Network,
                            offset,
                            len,
                            dreg: NftReg::r32(reg),
                        },
                        len / 4,
                    )
                }
                NftKeySource::L4proto => (
                    NftExpr::Meta {
                        key: MetaKey::L4proto,
                        dreg: NftReg::r32(reg),
                    },
                    1,
                ),
                NftKeySource::Dport => (
                    NftExpr::Payload {
                        base: PayloadBase::Transport,
                        offset: 2,
                        len: 2,
                        dreg: NftReg::r32(reg),
                    },
                    1,
                ),
                NftKeySource::Iifname => (
                    NftExpr::Meta {
                        key: MetaKey::Iifname,
                        dreg: NftReg::r32(reg),
                    },
                    4,
                ),
            };
            self = self.expr(e);
            reg += regs as u8;
        }
        self
    }

    /// `counter`.
    pub fn counter(self) -> NftRule {
        self.expr(NftExpr::Counter)
    }

    /// `masquerade`.
    pub fn masquerade(self) -> NftRule {
        self.expr(NftExpr::Masquerade)
    }

    /// A verdict (`accept`, `jump CHAIN`...).
    pub fn verdict(self, v: NftVerdict) -> NftRule {
        self.expr(NftExpr::Verdict(v))
    }

    /// NFTA_RULE_EXPRESSIONS and NFTA_RULE_USERDATA.
    fn put(&self, b: &mut Vec<u8>) {
        let mut list = Vec::new();
        for e in &self.exprs {
            let mut elem = Vec::new();
            nla::put_str(&mut elem, EXPR_NAME, e.name());
            let mut data = Vec::new();
            e.put_data(&mut data);
            if !data.is_empty() {
                nla::put(&mut elem, EXPR_DATA | NLA_F_NESTED, &data);
            }
            nla::put(&mut list, LIST_ELEM | NLA_F_NESTED, &elem);
        }
        if !list.is_empty() {
            nla::put(b, RULE_EXPRESSIONS | NLA_F_NESTED, &list);
        }
        if let Some(c) = &self.comment {
            nla::put(b, RULE_USERDATA, &comment_tlv(c));
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if let Some(c) = &self.comment {
            check_comment(c)?;
        }
        for e in &self.exprs {
            match e {
                NftExpr::Verdict(NftVerdict::Jump(c) | NftVerdict::Goto(c))
                | NftExpr::Lookup { set: c, .. } => check_name(c)?,
                NftExpr::Cmp { data, .. } | NftExpr::Immediate { data, .. }
                    if data.is_empty() || data.len() > 16 =>
                {
                    return Err("a value is 1 to 16 bytes".into())
                }
                NftExpr::Bitwise { mask, xor, .. }
                    if mask.is_empty() || mask.len() > 16 || xor.len() != mask.len() =>
                {
                    return Err("a bitwise mask is 1 to 16 bytes, and xor as long".into())
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A rule as the kernel lists it: where it is, its handle, its comment and
/// its expressions' names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NftRuleInfo {
    /// Its table's family.
    pub family: NftFamily,
    /// Its table.
    pub table: String,
    /// Its chain.
    pub chain: String,
    /// The kernel's handle (what [`Nft::rule_del`] takes).
    pub handle: u64,
    /// Its comment, if it has one.
    pub comment: Option<String>,
    /// Its expressions' kernel names, in order (`payload`, `cmp`, `masq`...).
    pub exprs: Vec<String>,
}

impl fmt::Display for NftRuleInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule {} {} {} handle {}",
            self.family, self.table, self.chain, self.handle
        )
    }
}

impl Nft {
    /// The rules of chain `chain` of table `table`, in order.
    #[doc(alias = "nft -a list chain")]
    #[doc(alias = "NFT_MSG_GETRULE")]
    pub fn rules(&self, family: NftFamily, table: &str, chain: &str) -> Result<Vec<NftRuleInfo>> {
        const OP: &str = "nft_rule_list";
        let object = format!("chain {family} {table} {chain}");
        check_name(table)
            .and_then(|()| check_name(chain))
            .map_err(|r| Error::invalid(OP, object.clone(), r))?;
        let filter = rule_attrs(table, chain);
        self.sock().nf_dump(
            OP,
            &object,
            nft_type(MSG_GETRULE),
            family.number(),
            &filter,
            |family, attrs| {
                let r = parse_rule(family, attrs).map_err(|d| Error::protocol(OP, "rule", d))?;
                Ok(r.filter(|r| r.table == table && r.chain == chain))
            },
        )
    }

    /// Append `rule` to chain `chain` of table `table`.
    #[doc(alias = "nft add rule")]
    #[doc(alias = "NFT_MSG_NEWRULE")]
    pub fn rule_add(
        &self,
        family: NftFamily,
        table: &str,
        chain: &str,
        rule: &NftRule,
    ) -> Result<()> {
        self.transaction()
            .rule_add(family, table, chain, rule)
            .commit()
    }

    /// Delete the rule with `handle` from chain `chain` of table `table`.
    #[doc(alias = "nft delete rule")]
    #[doc(alias = "NFT_MSG_DELRULE")]
    pub fn rule_del(&self, family: NftFamily, table: &str, chain: &str, handle: u64) -> Result<()> {
        self.transaction()
            .rule_del(family, table, chain, handle)
            .commit()
    }
}

impl NftTransaction<'_> {
    /// Append `rule` to chain `chain` of table `table`.
    pub fn rule_add(mut self, family: NftFamily, table: &str, chain: &str, rule: &NftRule) -> Self {
        let mut attrs = rule_attrs(table, chain);
        rule.put(&mut attrs);
        self.push(
            "nft_rule_add",
            format!("rule {family} {table} {chain}"),
            check_name(table)
                .and_then(|()| check_name(chain))
                .and_then(|()| rule.check()),
            (MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND),
            family,
            attrs,
        );
        self
    }

    /// Delete the rule with `handle` from chain `chain` of table `table`.
    pub fn rule_del(mut self, family: NftFamily, table: &str, chain: &str, handle: u64) -> Self {
        let mut attrs = rule_attrs(table, chain);
        nla::put(&mut attrs, RULE_HANDLE, &handle.to_be_bytes());
        self.push(
            "nft_rule_del",
            format!("rule {family} {table} {chain} handle {handle}"),
            check_name(table).and_then(|()| check_name(chain)),
            (MSG_DELRULE, 0),
            family,
            attrs,
        );
        self
    }
}

/// NFTA_RULE_TABLE and NFTA_RULE_CHAIN (also a GETRULE dump's filter).
fn rule_attrs(table: &str, chain: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    nla::put_str(&mut attrs, RULE_TABLE, table);
    nla::put_str(&mut attrs, RULE_CHAIN, chain);
    attrs
}

/// A rule from a NEWRULE message's family and attributes.
pub(crate) fn parse_rule(
    family: u8,
    attrs: &[u8],
) -> std::result::Result<Option<NftRuleInfo>, String> {
    let Some(family) = NftFamily::from_number(family) else {
        return Ok(None);
    };
    let mut r = NftRuleInfo {
        family,
        table: String::new(),
        chain: String::new(),
        handle: 0,
        comment: None,
        exprs: Vec::new(),
    };
    for a in Nlas::new(attrs) {
        let a = a?;
        match a.kind {
            RULE_TABLE => r.table = a.str(),
            RULE_CHAIN => r.chain = a.str(),
            RULE_HANDLE => {
                r.handle = <[u8; 8]>::try_from(a.value)
                    .map(u64::from_be_bytes)
                    .map_err(|_| "NFTA_RULE_HANDLE is not 8 bytes")?
            }
            RULE_EXPRESSIONS => {
                for e in Nlas::new(a.value) {
                    let e = e?;
                    if e.kind != LIST_ELEM {
                        continue;
                    }
                    for f in Nlas::new(e.value) {
                        let f = f?;
                        if f.kind == EXPR_NAME {
                            r.exprs.push(f.str());
                        }
                    }
                }
            }
            RULE_USERDATA => r.comment = comment_of(a.value),
            _ => {}
        }
    }
    if r.table.is_empty() || r.chain.is_empty() {
        return Err("a rule without its table or chain".into());
    }
    Ok(Some(r))
}

/// A comment as nft takes it: at most 127 bytes, no NUL.
pub(crate) fn check_comment(c: &str) -> std::result::Result<(), String> {
    if c.len() >= COMMENT_MAXLEN || c.contains('\0') {
        return Err(format!(
            "a comment is at most {} bytes, without NUL",
            COMMENT_MAXLEN - 1
        ));
    }
    Ok(())
}

/// The userdata of a rule or chain holding comment `c` (the TLV nft
/// writes: NFTNL_UDATA_*_COMMENT, length, the bytes and a NUL).
pub(crate) fn comment_tlv(c: &str) -> Vec<u8> {
    let mut udata = vec![UDATA_RULE_COMMENT, (c.len() + 1) as u8];
    udata.extend_from_slice(c.as_bytes());
    udata.push(0);
    udata
}

/// The comment TLV of a rule's or chain's userdata (type, length, bytes
/// with a NUL).
pub(crate) fn comment_of(mut udata: &[u8]) -> Option<String> {
    while let [kind, len, rest @ ..] = udata {
        let len = usize::from(*len);
        let value = rest.get(..len)?;
        if *kind == UDATA_RULE_COMMENT {
            return Some(nla::c_string(value));
        }
        udata = &rest[len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_written_as_nft_writes_them() {
        // /24: three bytes, no mask (nft --debug=netlink).
        let r = NftRule::new().ip_saddr("10.0.0.0/24".parse().unwrap(), true);
        assert_eq!(
            r.exprs(),
            [
                NftExpr::Payload {
                    base: PayloadBase::Network,
                    offset: 12,
                    len: 3,
                    dreg: NftReg::R1
                },
                NftExpr::Cmp {
                    sreg: NftReg::R1,
                    op: CmpOp::Eq,
                    data: vec![10, 0, 0]
                }
            ]
        );
        // /20: the whole address masked 255.255.240.0.
        let r = NftRule::new().ip_daddr("10.1.16.0/20".parse().unwrap(), false);
        assert_eq!(
            r.exprs()[0],
            NftExpr::Payload {
                base: PayloadBase::Network,
                offset: 16,
                len: 4,
                dreg: NftReg::R1
            }
        );
        assert_eq!(
            r.exprs()[1],
            NftExpr::Bitwise {
                sreg: NftReg::R1,
                dreg: NftReg::R1,
                mask: vec![255, 255, 240, 0],
                xor: vec![0, 0, 0, 0]
            }
        );
        assert_eq!(
            r.exprs()[2],
            NftExpr::Cmp {
                sreg: NftReg::R1,
                op: CmpOp::Neq,
                data: vec![10, 1, 16, 0]
            }
        );
    }

    #[test]
    fn comments_read_back_and_bad_rules_are_refused() {
        let mut b = Vec::new();
        NftRule::new().masquerade().comment("pod c1").put(&mut b);
        let parsed: Vec<_> = Nlas::new(&b).map(|a| a.unwrap()).collect();
        let udata = parsed.iter().find(|a| a.kind == RULE_USERDATA).unwrap();
        assert_eq!(udata.value, b"\x00\x07pod c1\x00");
        assert_eq!(comment_of(udata.value).as_deref(), Some("pod c1"));
        assert_eq!(comment_of(b"\x05\x02ab\x00\x03ok\x00"), Some("ok".into()));
        assert_eq!(comment_of(b"\x00\x09short"), None);
        assert!(NftRule::new().comment("x".repeat(128)).check().is_err());
        assert!(NftRule::new()
            .expr(NftExpr::Cmp {
                sreg: NftReg::R1,
                op: CmpOp::Eq,
                data: vec![]
            })
            .check()
            .is_err());
        assert!(NftRule::new()
            .verdict(NftVerdict::Jump(String::new()))
            .check()
            .is_err());
    }
}
