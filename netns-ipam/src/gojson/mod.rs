//! JSON read as Go's `encoding/json` reads it: the one reader under this
//! crate's config parser ([`json`](crate::json)) and netns-cni's `json`
//! module, so the two read every document alike. Also Go's `%q`
//! ([`quote`]), which both use to quote `CNI_ARGS` pairs in messages.
//! The reader ([`read`], [`GoValue`]) needs the `json` feature (on by
//! default); [`quote`] is always there.
//!
//! - Bytes that are not UTF-8 inside a string become U+FFFD (outside a
//!   string they are a syntax error, in Go too).
//! - Nesting up to Go's 10,000 levels is accepted; deeper is refused with
//!   Go's words (`invalid character '[' exceeded max depth`). serde_json
//!   alone stops at 128: deeper documents are parsed on a thread with a
//!   stack for them.
//! - Object keys stay in document order, duplicates included, so a caller
//!   can apply Go's rules (the last key wins, keys match a field
//!   case-insensitively).
//! - Containers nested deeper than 64 levels are read (their syntax
//!   checked) but kept empty, so a [`GoValue`] is shallow whatever the
//!   input, and can be used and dropped on any thread.

#[cfg(feature = "json")]
mod read;
#[cfg(feature = "json")]
pub use read::{read, GoValue, ReadError};

/// Go's `%q` of `s` (`strconv.Quote`): in double quotes, with `\"`, `\\`,
/// `\n`, `\r` and `\t`, other ASCII controls as `\x1b`, and the C1
/// controls (U+0080 to U+009F) as `\u0085`. Go escapes a few more
/// characters it deems unprintable (format characters such as U+200B,
/// spaces other than ASCII's); those are written as they are.
///
/// ```
/// assert_eq!(netns_ipam::gojson::quote("a\"b\u{1b}\u{85}é"), r#""a\"b\x1b\u0085é""#);
/// ```
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
