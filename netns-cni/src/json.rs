//! JSON as Go's `encoding/json` reads and writes it, so a config a Go plugin
//! accepts is accepted here with the same meaning, and output reads the
//! same.
//!
//! Reading ([`decode`], [`parse`]):
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

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde::Serialize;

pub use serde_json::Value;

/// Go's encoding/json nesting limit (maxNestingDepth).
const GO_MAX_DEPTH: usize = 10_000;
/// serde_json's own recursion limit; deeper documents are parsed on a
/// thread with a stack for them.
const SERDE_DEPTH: usize = 127;
/// The stack of that thread (virtual memory: only what the parse touches
/// is used).
const DEEP_STACK: usize = 256 * 1024 * 1024;
/// How deep a value is kept: below this, containers are read (and their
/// syntax checked) but kept empty, so what is returned is shallow whatever
/// the input (and can be used and dropped on any thread). No CNI key is
/// anywhere near this deep.
const BUILD_DEPTH: usize = 64;

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

/// A JSON value that keeps object keys in document order, duplicates
/// included, as Go's decoder sees them.
#[derive(Debug, Clone, PartialEq)]
enum GoValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<GoValue>),
    Object(Vec<(String, GoValue)>),
}

/// A [`GoValue`] at nesting depth `.0`: below [`BUILD_DEPTH`], containers
/// are read (their syntax checked) but kept empty.
struct Seed(usize);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = GoValue;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<GoValue, D::Error> {
        struct V(usize);
        impl<'de> Visitor<'de> for V {
            type Value = GoValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<GoValue, E> {
                Ok(GoValue::Null)
            }
            fn visit_none<E>(self) -> Result<GoValue, E> {
                Ok(GoValue::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<GoValue, E> {
                Ok(GoValue::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<GoValue, E> {
                Ok(GoValue::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<GoValue, E> {
                Ok(GoValue::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<GoValue, E> {
                serde_json::Number::from_f64(n)
                    .map(GoValue::Number)
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E>(self, s: &str) -> Result<GoValue, E> {
                Ok(GoValue::String(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<GoValue, E> {
                Ok(GoValue::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<GoValue, A::Error> {
                let mut out = Vec::new();
                if self.0 >= BUILD_DEPTH {
                    while a.next_element::<de::IgnoredAny>()?.is_some() {}
                    return Ok(GoValue::Array(out));
                }
                while let Some(v) = a.next_element_seed(Seed(self.0 + 1))? {
                    out.push(v);
                }
                Ok(GoValue::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<GoValue, A::Error> {
                let mut out = Vec::new();
                if self.0 >= BUILD_DEPTH {
                    while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                    return Ok(GoValue::Object(out));
                }
                while let Some(k) = a.next_key::<String>()? {
                    let v = a.next_value_seed(Seed(self.0 + 1))?;
                    out.push((k, v));
                }
                Ok(GoValue::Object(out))
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// The deepest nesting of `json` outside strings, or the bracket that goes
/// past Go's limit.
fn nesting(json: &[u8]) -> (usize, Option<u8>) {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > GO_MAX_DEPTH {
                    return (depth, Some(b));
                }
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (max, None)
}

/// Parse `bytes` as Go would, on a big stack when the document is deep.
fn read(bytes: &[u8]) -> Result<GoValue, JsonError> {
    let text = String::from_utf8_lossy(bytes);
    let (depth, over) = nesting(text.as_bytes());
    if let Some(c) = over {
        return Err(JsonError(format!(
            "invalid character '{}' exceeded max depth",
            char::from(c)
        )));
    }
    let parse = |text: &str| -> Result<GoValue, JsonError> {
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit();
        let v = Seed(0)
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v));
        v.map_err(|e| JsonError(e.to_string()))
    };
    if depth <= SERDE_DEPTH {
        return parse(&text);
    }
    // serde_json recurses once per level: give it a stack for the depth.
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("netns-cni-json".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(s, || parse(&text))
            .map_err(|e| JsonError(format!("cannot parse JSON {depth} levels deep: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(JsonError("the JSON parser failed".into())))
    })
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
    read(bytes).map(GoValue::into_value)
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
    T::deserialize(&v).map_err(|e| JsonError(e.to_string()))
}

/// Read a [`Value`] into `T` with Go's rules (see the module docs).
pub fn decode_value<T: DeserializeOwned>(v: &Value) -> Result<T, JsonError> {
    let g = GoValue::from_value(v);
    T::deserialize(&g).map_err(|e| JsonError(e.to_string()))
}

impl GoValue {
    /// As a [`Value`] (the last of duplicate keys wins, as in Go).
    fn into_value(self) -> Value {
        match self {
            GoValue::Null => Value::Null,
            GoValue::Bool(b) => Value::Bool(b),
            GoValue::Number(n) => Value::Number(n),
            GoValue::String(s) => Value::String(s),
            GoValue::Array(a) => Value::Array(a.into_iter().map(GoValue::into_value).collect()),
            GoValue::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
        }
    }

    fn from_value(v: &Value) -> GoValue {
        match v {
            Value::Null => GoValue::Null,
            Value::Bool(b) => GoValue::Bool(*b),
            Value::Number(n) => GoValue::Number(n.clone()),
            Value::String(s) => GoValue::String(s.clone()),
            Value::Array(a) => GoValue::Array(a.iter().map(GoValue::from_value).collect()),
            Value::Object(o) => GoValue::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), GoValue::from_value(v)))
                    .collect(),
            ),
        }
    }

    fn unexpected(&self) -> de::Unexpected<'_> {
        match self {
            GoValue::Null => de::Unexpected::Unit,
            GoValue::Bool(b) => de::Unexpected::Bool(*b),
            GoValue::Number(_) => de::Unexpected::Other("number"),
            GoValue::String(s) => de::Unexpected::Str(s),
            GoValue::Array(_) => de::Unexpected::Seq,
            GoValue::Object(_) => de::Unexpected::Map,
        }
    }
}

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
        self.0.next().map(|v| seed.deserialize(v)).transpose()
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
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

impl<'de> Deserializer<'de> for &'de GoValue {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self {
            GoValue::Null => v.visit_unit(),
            GoValue::Bool(b) => v.visit_bool(*b),
            GoValue::Number(n) => n.clone().deserialize_any(v),
            GoValue::String(s) => v.visit_borrowed_str(s),
            GoValue::Array(a) => v.visit_seq(Seq(a.iter())),
            GoValue::Object(o) => v.visit_map(Map::plain(o)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self {
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
        match self {
            GoValue::Object(o) => v.visit_map(Map::for_struct(o, fields)),
            // Go: null leaves a struct as it is.
            GoValue::Null => v.visit_map(Map::for_struct(&[], fields)),
            other => Err(de::Error::invalid_type(other.unexpected(), &v)),
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
        match self {
            GoValue::String(s) => {
                v.visit_enum(de::value::BorrowedStrDeserializer::<Self::Error>::new(s))
            }
            other => Err(de::Error::invalid_type(other.unexpected(), &"a string")),
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
