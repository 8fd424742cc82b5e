//! Verdict maps: named sets whose elements map a key (an address, a port,
//! a concatenation of them) to a verdict (`jump CHAIN`), looked up by a
//! rule's `vmap` ([`NftExpr::Lookup`]). A chain reached through a map
//! element is added and removed with its element, without rule handles.
//!
//! Keys are written as the kernel keeps them: each field of a
//! concatenation takes a whole number of 4-byte registers (a protocol byte
//! is followed by three zero bytes, a port's two bytes by two), in packet
//! order; [`NftKeyField`] builds them.

use std::net::IpAddr;

use super::{check_name, nft_type, Nft, NftFamily, NftTransaction, NLA_F_NESTED, NLM_F_CREATE};
use crate::error::{Error, Result};
use crate::nft::NftVerdict;
use crate::nla::{self, Nlas};

const MSG_NEWSET: u16 = 9;
const MSG_DELSET: u16 = 11;
const MSG_NEWSETELEM: u16 = 12;
const MSG_GETSETELEM: u16 = 13;
const MSG_DELSETELEM: u16 = 14;
/// NFTA_SET_* attributes.
const SET_TABLE: u16 = 1;
const SET_NAME: u16 = 2;
const SET_FLAGS: u16 = 3;
const SET_KEY_TYPE: u16 = 4;
const SET_KEY_LEN: u16 = 5;
const SET_DATA_TYPE: u16 = 6;
const SET_DATA_LEN: u16 = 7;
const SET_DESC: u16 = 9;
const SET_ID: u16 = 10;
const SET_USERDATA: u16 = 13;
/// NFTNL_UDATA_SET_KEYBYTEORDER, and nft's BYTEORDER_HOST_ENDIAN: how nft
/// reads a key of a host-order type (`ifname`) back.
const UDATA_SET_KEYBYTEORDER: u8 = 0;
const BYTEORDER_HOST_ENDIAN: u32 = 1;
/// NFTA_SET_DESC_CONCAT, NFTA_LIST_ELEM, NFTA_SET_FIELD_LEN.
const DESC_CONCAT: u16 = 2;
const FIELD_LEN: u16 = 1;
/// NFT_SET_INTERVAL, NFT_SET_CONCAT.
const SET_F_INTERVAL: u32 = 0x4;
const SET_F_CONCAT: u32 = 0x80;
/// NFT_SET_MAP.
const SET_F_MAP: u32 = 0x8;
/// NFT_DATA_VERDICT, the data type of a verdict map.
const DATA_TYPE_VERDICT: u32 = 0xffff_ff00;
/// NFTA_SET_ELEM_LIST_* attributes.
const ELEM_LIST_TABLE: u16 = 1;
const ELEM_LIST_SET: u16 = 2;
const ELEM_LIST_ELEMENTS: u16 = 3;
/// NFTA_LIST_ELEM, NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_DATA.
const LIST_ELEM: u16 = 1;
const ELEM_KEY: u16 = 1;
const ELEM_DATA: u16 = 2;
const ELEM_USERDATA: u16 = 6;
const ELEM_KEY_END: u16 = 10;
/// NFTA_DATA_VALUE, NFTA_DATA_VERDICT.
const DATA_VALUE: u16 = 1;
const DATA_VERDICT: u16 = 2;
/// nft's type ids (userspace only, so `nft list` prints keys by type); a
/// concatenation's id is its fields' ids, 6 bits each.
const TYPE_BITS: u32 = 6;

/// One field of a map's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftKeyField {
    /// An IPv4 address (`ipv4_addr`, 4 bytes).
    Ipv4Addr,
    /// An IPv6 address (`ipv6_addr`, 16 bytes).
    Ipv6Addr,
    /// A transport protocol number (`inet_proto`, 1 byte in a 4-byte
    /// register).
    InetProto,
    /// A port (`inet_service`, 2 bytes in a 4-byte register).
    InetService,
    /// An interface name (`ifname`, 16 bytes, NUL-padded), as `meta
    /// iifname` loads it.
    Ifname,
}

impl NftKeyField {
    /// nft's type id.
    fn type_id(self) -> u32 {
        match self {
            NftKeyField::Ipv4Addr => 7,
            NftKeyField::Ipv6Addr => 8,
            NftKeyField::InetProto => 12,
            NftKeyField::InetService => 13,
            NftKeyField::Ifname => 41,
        }
    }

    /// Its length in bytes, unpadded (a concatenation's field length).
    fn len(self) -> usize {
        match self {
            NftKeyField::Ipv4Addr => 4,
            NftKeyField::Ipv6Addr => 16,
            NftKeyField::InetProto => 1,
            NftKeyField::InetService => 2,
            NftKeyField::Ifname => 16,
        }
    }

    /// The bytes it takes in a key (whole 4-byte registers).
    pub fn key_len(self) -> usize {
        match self {
            NftKeyField::Ipv6Addr | NftKeyField::Ifname => 16,
            _ => 4,
        }
    }
}

/// A value of one key field, as [`NftKeyField`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NftKeyValue {
    /// An address (IPv4 or IPv6).
    Addr(IpAddr),
    /// A transport protocol number.
    Proto(u8),
    /// A port.
    Port(u16),
    /// An interface name, NUL-padded to 16 bytes (see
    /// [`NftKeyValue::ifname`]).
    Ifname([u8; 16]),
}

impl NftKeyValue {
    /// The interface name `name` as a key value: `None` unless it is 1 to
    /// 15 bytes without NUL (what the kernel takes as a name).
    pub fn ifname(name: &str) -> Option<NftKeyValue> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > 15 || b.contains(&0) {
            return None;
        }
        let mut v = [0u8; 16];
        v[..b.len()].copy_from_slice(b);
        Some(NftKeyValue::Ifname(v))
    }
}

/// A key as nft prints it (`10.0.0.2 . tcp . 8080`).
struct KeyText<'a>(&'a [NftKeyValue]);

impl std::fmt::Display for KeyText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" . ")?;
            }
            match v {
                NftKeyValue::Addr(a) => write!(f, "{a}")?,
                NftKeyValue::Proto(6) => f.write_str("tcp")?,
                NftKeyValue::Proto(17) => f.write_str("udp")?,
                NftKeyValue::Proto(132) => f.write_str("sctp")?,
                NftKeyValue::Proto(p) => write!(f, "{p}")?,
                NftKeyValue::Port(p) => write!(f, "{p}")?,
                NftKeyValue::Ifname(n) => {
                    let end = n.iter().position(|b| *b == 0).unwrap_or(n.len());
                    write!(f, "{:?}", String::from_utf8_lossy(&n[..end]))?
                }
            }
        }
        Ok(())
    }
}

/// The key bytes of `values`, each field padded to its registers.
pub(crate) fn key_bytes(values: &[NftKeyValue]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in values {
        match v {
            NftKeyValue::Addr(IpAddr::V4(a)) => b.extend_from_slice(&a.octets()),
            NftKeyValue::Addr(IpAddr::V6(a)) => b.extend_from_slice(&a.octets()),
            NftKeyValue::Proto(p) => b.extend_from_slice(&[*p, 0, 0, 0]),
            NftKeyValue::Port(p) => {
                b.extend_from_slice(&p.to_be_bytes());
                b.extend_from_slice(&[0, 0]);
            }
            NftKeyValue::Ifname(n) => b.extend_from_slice(n),
        }
    }
    b
}

/// An element of a set or map as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NftMapElement {
    /// The key bytes (fields padded to 4-byte registers); an interval's
    /// start.
    pub key: Vec<u8>,
    /// An interval's end (inclusive), in a set with intervals.
    pub key_end: Option<Vec<u8>>,
    /// The verdict (`jump CHAIN`...), in a verdict map.
    pub verdict: Option<NftVerdict>,
    /// The data bytes, in a data map.
    pub value: Option<Vec<u8>>,
    /// Its comment.
    pub comment: Option<String>,
}

/// An element to add: a key (or a range of keys, in a set with
/// intervals), what it maps to in a map, and a comment.
///
/// ```
/// use netns_core::{NftElement, NftKeyValue};
/// // tcp . 8080 : 10.0.0.2 . 80 comment "pod c1"
/// let e = NftElement::new(&[NftKeyValue::Proto(6), NftKeyValue::Port(8080)])
///     .value(&[NftKeyValue::Addr("10.0.0.2".parse()?), NftKeyValue::Port(80)])
///     .comment("pod c1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftElement {
    key: Vec<NftKeyValue>,
    key_end: Option<Vec<NftKeyValue>>,
    verdict: Option<NftVerdict>,
    value: Option<Vec<NftKeyValue>>,
    comment: Option<String>,
}

impl NftElement {
    /// The element with `key`.
    pub fn new(key: &[NftKeyValue]) -> NftElement {
        NftElement {
            key: key.to_vec(),
            key_end: None,
            verdict: None,
            value: None,
            comment: None,
        }
    }

    /// The keys from the element's key to `end`, both included (a set with
    /// intervals).
    pub fn up_to(mut self, end: &[NftKeyValue]) -> NftElement {
        self.key_end = Some(end.to_vec());
        self
    }

    /// What it maps to, in a verdict map.
    pub fn verdict(mut self, v: NftVerdict) -> NftElement {
        self.verdict = Some(v);
        self
    }

    /// What it maps to, in a data map.
    pub fn value(mut self, data: &[NftKeyValue]) -> NftElement {
        self.value = Some(data.to_vec());
        self
    }

    /// Its comment (at most 127 bytes).
    pub fn comment(mut self, c: impl Into<String>) -> NftElement {
        self.comment = Some(c.into());
        self
    }

    /// The element as the kernel lists it once added.
    pub fn listed(&self) -> NftMapElement {
        NftMapElement {
            key: key_bytes(&self.key),
            key_end: self.key_end.as_deref().map(key_bytes),
            verdict: self.verdict.clone(),
            value: self.value.as_deref().map(key_bytes),
            comment: self.comment.clone(),
        }
    }

    fn put(&self, elem: &mut Vec<u8>) {
        put_value(elem, ELEM_KEY, &key_bytes(&self.key));
        if let Some(end) = &self.key_end {
            put_value(elem, ELEM_KEY_END, &key_bytes(end));
        }
        if let Some(v) = &self.verdict {
            let mut data = Vec::new();
            super::rule::put_verdict(&mut data, v);
            nla::put(elem, ELEM_DATA | NLA_F_NESTED, &data);
        }
        if let Some(v) = &self.value {
            put_value(elem, ELEM_DATA, &key_bytes(v));
        }
        if let Some(c) = &self.comment {
            nla::put(elem, ELEM_USERDATA, &super::rule::comment_tlv(c));
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if let Some(NftVerdict::Jump(c) | NftVerdict::Goto(c)) = &self.verdict {
            check_name(c)?;
        }
        if let Some(c) = &self.comment {
            super::rule::check_comment(c)?;
        }
        if self.key.is_empty() {
            return Err("an element needs a key".into());
        }
        Ok(())
    }
}

/// `kind { NFTA_DATA_VALUE bytes }`.
fn put_value(b: &mut Vec<u8>, kind: u16, bytes: &[u8]) {
    let mut value = Vec::new();
    nla::put(&mut value, DATA_VALUE, bytes);
    nla::put(b, kind | NLA_F_NESTED, &value);
}

impl Nft {
    /// The elements of verdict map `map` of table `table`.
    #[doc(alias = "nft list map")]
    #[doc(alias = "NFT_MSG_GETSETELEM")]
    pub fn map_elements(
        &self,
        family: NftFamily,
        table: &str,
        map: &str,
    ) -> Result<Vec<NftMapElement>> {
        const OP: &str = "nft_map_list";
        let object = format!("map {family} {table} {map}");
        check_name(table)
            .and_then(|()| check_name(map))
            .map_err(|r| Error::invalid(OP, object.clone(), r))?;
        let filter = elem_list_attrs(table, map);
        let lists = self.sock().nf_dump(
            OP,
            &object,
            nft_type(MSG_GETSETELEM),
            family.number(),
            &filter,
            |_, attrs| {
                parse_elements(attrs)
                    .map(Some)
                    .map_err(|d| Error::protocol(OP, "map element", d))
            },
        )?;
        Ok(lists.into_iter().flatten().collect())
    }
}

impl Nft {
    /// [`map_elements`](Self::map_elements), none when the table or the set
    /// is not there (what the layers that own a table read before a change).
    pub(crate) fn elements_if_any(
        &self,
        family: NftFamily,
        table: &str,
        set: &str,
    ) -> Result<Vec<NftMapElement>> {
        match self.map_elements(family, table, set) {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            other => other,
        }
    }
}

impl NftTransaction<'_> {
    /// Add verdict map `name` with a key of `fields` (nft's
    /// `map NAME { type F1 . F2 : verdict; }`); an existing one is kept.
    pub fn map_add(
        self,
        family: NftFamily,
        table: &str,
        name: &str,
        fields: &[NftKeyField],
    ) -> Self {
        self.set_add(family, table, name, fields, NftSetData::Verdict, false)
    }

    /// Add set `name` with a key of `fields` (nft's `set NAME { type F1 .
    /// F2; }`, with `flags interval` when `interval`), mapping each key to
    /// `data` (a verdict, or values of those fields: a data map); an
    /// existing one is kept.
    pub fn set_add(
        mut self,
        family: NftFamily,
        table: &str,
        name: &str,
        fields: &[NftKeyField],
        data: NftSetData<'_>,
        interval: bool,
    ) -> Self {
        let mut attrs = set_attrs(table, name);
        let len: usize = fields.iter().map(|f| f.key_len()).sum();
        let mut flags = match data {
            NftSetData::None => 0,
            _ => SET_F_MAP,
        };
        if interval {
            flags |= SET_F_INTERVAL;
            if fields.len() > 1 {
                flags |= SET_F_CONCAT;
            }
        }
        nla::put(&mut attrs, SET_FLAGS, &flags.to_be_bytes());
        nla::put(&mut attrs, SET_KEY_TYPE, &type_of(fields).to_be_bytes());
        nla::put(&mut attrs, SET_KEY_LEN, &(len as u32).to_be_bytes());
        match data {
            NftSetData::None => {}
            NftSetData::Verdict => {
                nla::put(&mut attrs, SET_DATA_TYPE, &DATA_TYPE_VERDICT.to_be_bytes())
            }
            NftSetData::Values(d) => {
                let dlen: usize = d.iter().map(|f| f.key_len()).sum();
                nla::put(&mut attrs, SET_DATA_TYPE, &type_of(d).to_be_bytes());
                nla::put(&mut attrs, SET_DATA_LEN, &(dlen as u32).to_be_bytes());
            }
        }
        if interval && fields.len() > 1 {
            // NFTA_SET_DESC { CONCAT { ELEM { FIELD_LEN bytes } ... } }
            let mut concat = Vec::new();
            for f in fields {
                let mut field = Vec::new();
                nla::put(&mut field, FIELD_LEN, &(f.len() as u32).to_be_bytes());
                nla::put(&mut concat, LIST_ELEM | NLA_F_NESTED, &field);
            }
            let mut desc = Vec::new();
            nla::put(&mut desc, DESC_CONCAT | NLA_F_NESTED, &concat);
            nla::put(&mut attrs, SET_DESC | NLA_F_NESTED, &desc);
        }
        // The kernel requires an ID naming the set within the transaction
        // (rules may refer to a new set by it); the name is used here.
        nla::put(&mut attrs, SET_ID, &next_set_id().to_be_bytes());
        if fields == [NftKeyField::Ifname] {
            // nft prints a key as big-endian unless the set says otherwise
            // (an interface name would come out reversed, as "").
            let mut udata = vec![UDATA_SET_KEYBYTEORDER, 4];
            udata.extend_from_slice(&BYTEORDER_HOST_ENDIAN.to_ne_bytes());
            nla::put(&mut attrs, SET_USERDATA, &udata);
        }
        let valid = check_name(table)
            .and_then(|()| check_name(name))
            .and_then(|()| {
                if fields.is_empty() || len > 64 || fields.len() > 5 {
                    Err("a map key has 1 to 5 fields, 64 bytes at most".into())
                } else {
                    Ok(())
                }
            });
        self.push(
            "nft_set_add",
            format!("set {family} {table} {name}"),
            valid,
            (MSG_NEWSET, NLM_F_CREATE),
            family,
            attrs,
        );
        self
    }

    /// Delete map `name` of table `table` (EBUSY while a rule uses it).
    pub fn map_del(mut self, family: NftFamily, table: &str, name: &str) -> Self {
        self.push(
            "nft_map_del",
            format!("map {family} {table} {name}"),
            check_name(table).and_then(|()| check_name(name)),
            (MSG_DELSET, 0),
            family,
            set_attrs(table, name),
        );
        self
    }

    /// Add the element `key : verdict` to map `map` (nft's
    /// `add element T M { KEY : jump CHAIN }`). `exclusive`: an element
    /// with that key already there is an error (EEXIST) instead of being
    /// kept as it is.
    pub fn map_element_add(
        self,
        family: NftFamily,
        table: &str,
        map: &str,
        key: &[NftKeyValue],
        verdict: &NftVerdict,
        exclusive: bool,
    ) -> Self {
        let e = NftElement::new(key).verdict(verdict.clone());
        self.element_add(family, table, map, &e, exclusive)
    }

    /// Add `element` to set or map `set` (nft's `add element`, or `create
    /// element` when `exclusive`: then an element with that key already
    /// there is an error, EEXIST).
    pub fn element_add(
        mut self,
        family: NftFamily,
        table: &str,
        set: &str,
        element: &NftElement,
        exclusive: bool,
    ) -> Self {
        let mut attrs = elem_list_attrs(table, set);
        let mut elem = Vec::new();
        element.put(&mut elem);
        put_elements(&mut attrs, &elem);
        let flags = if exclusive {
            NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL
        } else {
            NLM_F_CREATE
        };
        let mut what = KeyText(&element.key).to_string();
        if let Some(end) = &element.key_end {
            what = format!("{what} - {}", KeyText(end));
        }
        self.push(
            "nft_element_add",
            format!("element {family} {table} {set} {{ {what} }}"),
            check_name(table)
                .and_then(|()| check_name(set))
                .and_then(|()| element.check()),
            (MSG_NEWSETELEM, flags),
            family,
            attrs,
        );
        self
    }

    /// Delete `element` (as [`Nft::map_elements`] listed it: its key, and
    /// its end in a set with intervals) from set or map `set` (ENOENT when
    /// it is not there).
    pub fn element_del(
        mut self,
        family: NftFamily,
        table: &str,
        set: &str,
        element: &NftMapElement,
    ) -> Self {
        let mut attrs = elem_list_attrs(table, set);
        let mut elem = Vec::new();
        put_value(&mut elem, ELEM_KEY, &element.key);
        if let Some(end) = &element.key_end {
            put_value(&mut elem, ELEM_KEY_END, end);
        }
        put_elements(&mut attrs, &elem);
        self.push(
            "nft_element_del",
            format!("element {family} {table} {set}"),
            check_name(table).and_then(|()| check_name(set)),
            (MSG_DELSETELEM, 0),
            family,
            attrs,
        );
        self
    }
}

/// A set ID, distinct within any transaction of this process.
fn next_set_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// NFTA_SET_TABLE and NFTA_SET_NAME.
fn set_attrs(table: &str, name: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    nla::put_str(&mut attrs, SET_TABLE, table);
    nla::put_str(&mut attrs, SET_NAME, name);
    attrs
}

/// NFTA_SET_ELEM_LIST_TABLE and NFTA_SET_ELEM_LIST_SET (also a dump's
/// filter).
fn elem_list_attrs(table: &str, set: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    nla::put_str(&mut attrs, ELEM_LIST_TABLE, table);
    nla::put_str(&mut attrs, ELEM_LIST_SET, set);
    attrs
}

/// nft's type id of a concatenation of `fields`.
fn type_of(fields: &[NftKeyField]) -> u32 {
    fields
        .iter()
        .fold(0u32, |t, f| (t << TYPE_BITS) | f.type_id())
}

/// What a set's keys map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftSetData<'a> {
    /// Nothing: a set (keys only).
    None,
    /// A verdict: a verdict map.
    Verdict,
    /// Values of these fields: a data map.
    Values(&'a [NftKeyField]),
}

/// NFTA_SET_ELEM_LIST_ELEMENTS holding the one element `elem`.
fn put_elements(attrs: &mut Vec<u8>, elem: &[u8]) {
    let mut list = Vec::new();
    nla::put(&mut list, LIST_ELEM | NLA_F_NESTED, elem);
    nla::put(attrs, ELEM_LIST_ELEMENTS | NLA_F_NESTED, &list);
}

/// The elements of a NEWSETELEM message's attributes.
pub(crate) fn parse_elements(attrs: &[u8]) -> std::result::Result<Vec<NftMapElement>, String> {
    let mut out = Vec::new();
    for a in Nlas::new(attrs) {
        let a = a?;
        if a.kind != ELEM_LIST_ELEMENTS {
            continue;
        }
        for e in Nlas::new(a.value) {
            let e = e?;
            if e.kind != LIST_ELEM {
                continue;
            }
            let mut elem = NftMapElement::default();
            let value_of = |attrs: &[u8]| -> std::result::Result<Option<Vec<u8>>, String> {
                for v in Nlas::new(attrs) {
                    let v = v?;
                    if v.kind == DATA_VALUE {
                        return Ok(Some(v.value.to_vec()));
                    }
                }
                Ok(None)
            };
            for f in Nlas::new(e.value) {
                let f = f?;
                match f.kind {
                    ELEM_KEY => elem.key = value_of(f.value)?.unwrap_or_default(),
                    ELEM_KEY_END => elem.key_end = value_of(f.value)?,
                    ELEM_USERDATA => elem.comment = super::rule::comment_of(f.value),
                    ELEM_DATA => {
                        for v in Nlas::new(f.value) {
                            let v = v?;
                            match v.kind {
                                DATA_VERDICT => elem.verdict = super::rule::parse_verdict(v.value)?,
                                DATA_VALUE => elem.value = Some(v.value.to_vec()),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            out.push(elem);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_padded_to_registers() {
        let k = key_bytes(&[
            NftKeyValue::Addr("10.1.2.3".parse().unwrap()),
            NftKeyValue::Proto(6),
            NftKeyValue::Port(8080),
        ]);
        assert_eq!(k, [10, 1, 2, 3, 6, 0, 0, 0, 0x1f, 0x90, 0, 0]);
        // ipv4_addr . inet_proto . inet_service, as nft numbers it
        let id = [
            NftKeyField::Ipv4Addr,
            NftKeyField::InetProto,
            NftKeyField::InetService,
        ]
        .iter()
        .fold(0u32, |t, f| (t << TYPE_BITS) | f.type_id());
        assert_eq!(id, (((7 << 6) | 12) << 6) | 13);
        let k = key_bytes(&[NftKeyValue::ifname("veth0").unwrap()]);
        assert_eq!(k, *b"veth0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(NftKeyField::Ifname.key_len(), 16);
        for bad in ["", "0123456789abcdef", "a\0b"] {
            assert_eq!(NftKeyValue::ifname(bad), None, "{bad:?}");
        }
        assert_eq!(
            NftKeyValue::ifname("0123456789abcde").map(|v| KeyText(&[v]).to_string()),
            Some("\"0123456789abcde\"".to_string())
        );
        assert_eq!(
            type_of(&[NftKeyField::Ipv4Addr, NftKeyField::InetService]),
            (7 << 6) | 13
        );
    }

    #[test]
    fn elements_parse_and_garbage_does_not_panic() {
        let mut elem = Vec::new();
        NftElement::new(&[NftKeyValue::Proto(17), NftKeyValue::Port(53)])
            .verdict(NftVerdict::Jump("fwd-1".into()))
            .put(&mut elem);
        let mut attrs = elem_list_attrs("t", "m");
        put_elements(&mut attrs, &elem);
        let got = parse_elements(&attrs).unwrap();
        assert_eq!(
            got,
            [NftMapElement {
                key: vec![17, 0, 0, 0, 0, 53, 0, 0],
                verdict: Some(NftVerdict::Jump("fwd-1".into())),
                ..Default::default()
            }]
        );
        for cut in 0..attrs.len() {
            let _ = parse_elements(&attrs[..cut]);
        }
    }
}
