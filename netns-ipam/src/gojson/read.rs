//! The reader (see the module above): serde_json driven with Go's rules.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Go's encoding/json nesting limit (maxNestingDepth).
const GO_MAX_DEPTH: usize = 10_000;
/// serde_json's own recursion limit; deeper documents are parsed on a
/// thread with a stack for them.
const SERDE_DEPTH: usize = 127;
/// The stack of that thread (virtual memory: only what the parse touches
/// is used).
const DEEP_STACK: usize = 256 * 1024 * 1024;
/// How deep a value is kept: below this, containers are read (and their
/// syntax checked) but kept empty. No CNI key is anywhere near this deep.
const BUILD_DEPTH: usize = 64;

/// A JSON value as Go's decoder sees it: object keys in document order,
/// duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum GoValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string (lossily decoded: see the module docs).
    String(String),
    /// An array.
    Array(Vec<GoValue>),
    /// An object: its keys and values in document order.
    Object(Vec<(String, GoValue)>),
}

impl GoValue {
    /// The JSON type's name, as Go's type errors write it (`string`,
    /// `number`, `object`...).
    pub fn kind(&self) -> &'static str {
        match self {
            GoValue::Null => "null",
            GoValue::Bool(_) => "bool",
            GoValue::Number(_) => "number",
            GoValue::String(_) => "string",
            GoValue::Array(_) => "array",
            GoValue::Object(_) => "object",
        }
    }
}

/// A document that could not be read: Go's message where the two parsers
/// agree on one (`invalid character '[' exceeded max depth`), serde_json's
/// otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Read one JSON document (see the module docs).
///
/// ```
/// use netns_ipam::gojson::{read, GoValue};
/// let v = read(b"{\"a\":1,\"A\":2,\"s\":\"x\xffy\"}")?;
/// let GoValue::Object(o) = v else { unreachable!() };
/// assert_eq!(o.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "A", "s"]);
/// assert_eq!(o[2].1, GoValue::String("x\u{fffd}y".into()));
/// # Ok::<(), netns_ipam::gojson::ReadError>(())
/// ```
pub fn read(bytes: &[u8]) -> Result<GoValue, ReadError> {
    let text = String::from_utf8_lossy(bytes);
    let (depth, over) = nesting(text.as_bytes());
    if let Some(c) = over {
        return Err(ReadError(format!(
            "invalid character '{}' exceeded max depth",
            char::from(c)
        )));
    }
    let parse = |text: &str| -> Result<GoValue, ReadError> {
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit();
        let v = Seed(0)
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v));
        v.map_err(|e| ReadError(e.to_string()))
    };
    if depth <= SERDE_DEPTH {
        return parse(&text);
    }
    // serde_json recurses once per level: give it a stack for the depth.
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("netns-gojson".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(s, || parse(&text))
            .map_err(|e| ReadError(format!("cannot parse JSON {depth} levels deep: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(ReadError("the JSON parser failed".into())))
    })
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
/// past Go's limit. A linear scan with no recursion; syntax is left to the
/// parser.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_containers_are_checked_but_kept_empty() {
        let mut doc = "[".repeat(BUILD_DEPTH + 10);
        doc.push('1');
        doc.push_str(&"]".repeat(BUILD_DEPTH + 10));
        let mut v = read(doc.as_bytes()).unwrap();
        let mut levels = 0;
        while let GoValue::Array(mut a) = v {
            levels += 1;
            v = a.pop().unwrap_or(GoValue::Null);
        }
        assert_eq!(levels, BUILD_DEPTH + 1);
        assert_eq!(v, GoValue::Null);
        let broken = doc.replace('1', "1,");
        assert!(read(broken.as_bytes()).is_err());
    }
}
