//! JSON as Go's `encoding/json` reads and writes it, so a config a Go plugin
//! accepts is accepted here with the same meaning, and output reads the
//! same.
//!
//! Reading ([`decode`], [`parse`]) goes through netns-ipam's
//! [`gojson`] reader, the one under its host-local
//! config parser, so both read a document alike:
//! - bytes that are not UTF-8 inside a string become U+FFFD (outside a
//!   string they are a syntax error, in Go too);
//! - nesting up to Go's 10,000 levels is accepted, deeper is refused with
//!   Go's words (serde_json alone stops at 128);
//! - in [`decode`], an object key matches a struct field case-insensitively
//!   when no field has exactly that name (Go's rule), the last of several
//!   keys for one field wins, and `null` leaves a field at its default.
//!   Unknown keys are ignored, as in Go, unless the struct says otherwise.
//!   Containers nested deeper than 64 levels are read (their syntax
//!   checked) but kept empty.
//!   Give plugin config structs `#[serde(default)]`: Go has no required
//!   fields.
//!
//! Writing ([`to_string_pretty`]): Go's `json.MarshalIndent(v, "", "    ")`,
//! which is serde_json's pretty printer with a 4-space indent plus Go's
//! HTML-safe escapes (`<`, `>`, `&`, U+2028 and U+2029 as `\u003c`...).

use std::fmt;

use netns_ipam::gojson::{self, GoValue};
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde::Serialize;

pub use serde_json::Value;

/// A JSON document that could not be read: Go's message where the two
/// parsers agree on one (`invalid character '[' exceeded max depth`),
/// serde_json's otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

/// Parse `bytes` as Go would ([`gojson::read`], the reader netns-ipam's
/// config parser uses too).
fn read(bytes: &[u8]) -> Result<GoValue, JsonError> {
    gojson::read(bytes).map_err(|e| JsonError(e.to_string()))
}

/// Read a JSON document into a [`Value`] (as Go reads it into
/// `interface{}`: the last of duplicate keys wins).
///
/// ```
/// let v = netns_cni::json::parse(b"{\"a\":1,\"a\":2,\"s\":\"x\xffy\"}")?;
/// assert_eq!(v["a"], 2);
/// assert_eq!(v["s"], "x\u{fffd}y");
/// # Ok::<(), netns_cni::json::JsonError>(())
/// ```
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    read(bytes).map(into_value)
}

/// Read a JSON document into `T` with Go's rules (see the module docs).
///
/// ```
/// #[derive(serde::Deserialize, Default)]
/// #[serde(default)]
/// struct Conf { #[serde(rename = "isGateway")] is_gateway: bool, mtu: u32, bridge: String }
/// let c: Conf = netns_cni::json::decode(br#"{"ISGATEWAY": true, "mtu": null, "Bridge": "a", "bridge": "b"}"#)?;
/// assert!(c.is_gateway);
/// assert_eq!((c.mtu, c.bridge.as_str()), (0, "b"));
/// # Ok::<(), netns_cni::json::JsonError>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let v = read(bytes)?;
    T::deserialize(Go(&v)).map_err(|e| JsonError(e.to_string()))
}

/// Read a [`Value`] into `T` with Go's rules (see the module docs).
pub fn decode_value<T: DeserializeOwned>(v: &Value) -> Result<T, JsonError> {
    let g = from_value(v);
    T::deserialize(Go(&g)).map_err(|e| JsonError(e.to_string()))
}

/// `v` as a [`Value`] (the last of duplicate keys wins, as in Go).
fn into_value(v: GoValue) -> Value {
    match v {
        GoValue::Null => Value::Null,
        GoValue::Bool(b) => Value::Bool(b),
        GoValue::Number(n) => Value::Number(n),
        GoValue::String(s) => Value::String(s),
        GoValue::Array(a) => Value::Array(a.into_iter().map(into_value).collect()),
        GoValue::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, into_value(v))).collect())
        }
    }
}

fn from_value(v: &Value) -> GoValue {
    match v {
        Value::Null => GoValue::Null,
        Value::Bool(b) => GoValue::Bool(*b),
        Value::Number(n) => GoValue::Number(n.clone()),
        Value::String(s) => GoValue::String(s.clone()),
        Value::Array(a) => GoValue::Array(a.iter().map(from_value).collect()),
        Value::Object(o) => {
            GoValue::Object(o.iter().map(|(k, v)| (k.clone(), from_value(v))).collect())
        }
    }
}

fn unexpected(v: &GoValue) -> de::Unexpected<'_> {
    match v {
        GoValue::Null => de::Unexpected::Unit,
        GoValue::Bool(b) => de::Unexpected::Bool(*b),
        GoValue::Number(_) => de::Unexpected::Other("number"),
        GoValue::String(s) => de::Unexpected::Str(s),
        GoValue::Array(_) => de::Unexpected::Seq,
        GoValue::Object(_) => de::Unexpected::Map,
    }
}

/// A [`GoValue`] as a serde [`Deserializer`] with Go's rules.
#[derive(Clone, Copy)]
struct Go<'a>(&'a GoValue);

/// Go's key folding: `bytes.EqualFold` (simple Unicode case folding).
fn fold_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

struct Seq<'a>(std::slice::Iter<'a, GoValue>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = serde_json::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0.next().map(|v| seed.deserialize(Go(v))).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'a> {
    entries: std::vec::IntoIter<(&'a str, &'a GoValue)>,
    value: Option<&'a GoValue>,
}

impl<'a> Map<'a> {
    /// Every entry, in order (for maps: the last duplicate wins on insert).
    fn plain(o: &'a [(String, GoValue)]) -> Map<'a> {
        let entries: Vec<_> = o.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Map {
            entries: entries.into_iter(),
            value: None,
        }
    }

    /// The entries as Go assigns them to a struct's `fields`: each key
    /// names the field it matches exactly, else one it matches
    /// case-insensitively; `null` assigns nothing; of several keys for one
    /// field the last wins.
    fn for_struct(o: &'a [(String, GoValue)], fields: &'static [&'static str]) -> Map<'a> {
        let mut entries: Vec<(&'a str, &'a GoValue)> = Vec::new();
        for (k, v) in o {
            if matches!(v, GoValue::Null) {
                continue;
            }
            let name: &'a str = match fields.iter().find(|f| **f == k.as_str()) {
                Some(f) => f,
                None => match fields.iter().find(|f| fold_eq(f, k)) {
                    Some(f) => f,
                    None => k.as_str(),
                },
            };
            entries.retain(|(n, _)| *n != name);
            entries.push((name, v));
        }
        Map {
            entries: entries.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = serde_json::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Go(v)),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

impl<'de> Deserializer<'de> for Go<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            GoValue::Null => v.visit_unit(),
            GoValue::Bool(b) => v.visit_bool(*b),
            GoValue::Number(n) => n.clone().deserialize_any(v),
            GoValue::String(s) => v.visit_borrowed_str(s),
            GoValue::Array(a) => v.visit_seq(Seq(a.iter())),
            GoValue::Object(o) => v.visit_map(Map::plain(o)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            GoValue::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            GoValue::Object(o) => v.visit_map(Map::for_struct(o, fields)),
            // Go: null leaves a struct as it is.
            GoValue::Null => v.visit_map(Map::for_struct(&[], fields)),
            other => Err(de::Error::invalid_type(unexpected(other), &v)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            GoValue::String(s) => {
                v.visit_enum(de::value::BorrowedStrDeserializer::<Self::Error>::new(s))
            }
            other => Err(de::Error::invalid_type(unexpected(other), &"a string")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// Go's `json.MarshalIndent(v, "", "    ")` output of `v` (no trailing
/// newline).
///
/// ```
/// let s = netns_cni::json::to_string_pretty(&serde_json::json!({"a": ["<b>"], "c": {}}));
/// assert_eq!(s, "{\n    \"a\": [\n        \"\\u003cb\\u003e\"\n    ],\n    \"c\": {}\n}");
/// ```
pub fn to_string_pretty<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter::new());
    if v.serialize(&mut ser).is_err() {
        // Only a map with non-string keys can fail: none of ours.
        return String::from("{}");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's pretty printer with Go's indent and HTML-safe escapes.
struct GoFormatter<'a>(serde_json::ser::PrettyFormatter<'a>);

impl GoFormatter<'_> {
    fn new() -> Self {
        GoFormatter(serde_json::ser::PrettyFormatter::with_indent(b"    "))
    }
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            self.0.$name(w $(, $arg)*)
        }
    )*};
}

impl serde_json::ser::Formatter for GoFormatter<'_> {
    delegate! {
        begin_array(), end_array(), begin_array_value(first: bool), end_array_value(),
        begin_object(), end_object(), begin_object_key(first: bool), end_object_key(),
        begin_object_value(), end_object_value(),
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Inner {
        id: Option<u32>,
        #[serde(rename = "minID")]
        min_id: Option<u32>,
    }

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Conf {
        name: String,
        #[serde(rename = "hairpinMode")]
        hairpin_mode: bool,
        mtu: u32,
        trunk: Vec<Inner>,
        extra: Option<Value>,
    }

    #[test]
    fn go_key_rules_apply_at_every_level() {
        let c: Conf = decode(
            br#"{"NAME":"a","name":"b","HairpinMode":true,"mtu":null,
                 "Trunk":[{"ID":5},{"minid":1}],"extra":{"k":[1,"x"]},"unknown":1}"#,
        )
        .unwrap();
        assert_eq!(c.name, "b");
        assert!(c.hairpin_mode);
        assert_eq!(c.mtu, 0);
        assert_eq!(
            c.trunk,
            vec![
                Inner {
                    id: Some(5),
                    min_id: None
                },
                Inner {
                    id: None,
                    min_id: Some(1)
                }
            ]
        );
        assert_eq!(c.extra, Some(serde_json::json!({"k": [1, "x"]})));
        // The last key for a field wins even when it is the folded one.
        let c: Conf = decode(br#"{"name":"a","NAME":"b"}"#).unwrap();
        assert_eq!(c.name, "b");
    }

    #[test]
    fn type_errors_are_errors() {
        assert!(decode::<Conf>(br#"{"mtu":"1500"}"#).is_err());
        assert!(decode::<Conf>(br#"{"mtu":1.5}"#).is_err());
        assert!(decode::<Conf>(br#"{"mtu":-1}"#).is_err());
        assert!(decode::<Conf>(br#"{"hairpinMode":"true"}"#).is_err());
        assert!(decode::<Conf>(br#"["name"]"#).is_err());
        assert!(decode::<Conf>(b"{").is_err());
        assert_eq!(decode::<Conf>(b"null").unwrap(), Conf::default());
        assert!(decode::<Conf>(b"{} x").is_err());
    }

    fn deep(levels: usize) -> Vec<u8> {
        format!(
            r#"{{"name":"n","x":{}{}}}"#,
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
        .into_bytes()
    }

    #[test]
    fn nesting_up_to_gos_limit_is_read_and_beyond_it_refused_as_go_words_it() {
        for levels in [200, 10_000] {
            let c: Conf = decode(&deep(levels)).unwrap();
            assert_eq!(c.name, "n");
            assert_eq!(parse(&deep(levels)).unwrap()["name"], "n");
        }
        let e = decode::<Conf>(&deep(10_001)).unwrap_err();
        assert_eq!(e.to_string(), "invalid character '[' exceeded max depth");
        let text = format!(r#"{{"name":"n","x":"{}"}}"#, "[".repeat(20_000));
        assert_eq!(decode::<Conf>(text.as_bytes()).unwrap().name, "n");
    }

    #[test]
    fn bytes_that_are_not_utf8_read_as_go_reads_them() {
        let c: Conf = decode(b"{\"name\":\"n\xff\"}").unwrap();
        assert_eq!(c.name, "n\u{fffd}");
        assert!(decode::<Conf>(b"{\"name\":\"n\",\xff\"x\":1}").is_err());
    }

    #[test]
    fn output_is_gos_marshal_indent() {
        #[derive(Serialize)]
        struct S {
            b: Vec<u8>,
            a: &'static str,
        }
        let s = to_string_pretty(&S {
            b: vec![],
            a: "x&y\u{2028}",
        });
        assert_eq!(s, "{\n    \"b\": [],\n    \"a\": \"x\\u0026y\\u2028\"\n}");
    }
}
