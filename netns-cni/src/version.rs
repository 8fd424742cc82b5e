//! CNI spec versions: the ones this crate speaks, parsing and comparing
//! them as Go's `pkg/version` does.

/// Every spec version netns-cni reads and writes, oldest first.
pub const SUPPORTED: &[&str] = &[
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

/// The newest spec version: what results are built as, and what VERSION
/// reports as its own `cniVersion`.
pub const CURRENT: &str = "1.1.0";

/// The version a config means when it has no `cniVersion`.
pub const DEFAULT: &str = "0.1.0";

/// Parse a version as Go's `version.ParseVersion`: one to three parts of
/// decimal integers (`"1"`, `"0.4"`, `"1.0.0"`); `""` is 0.1.0.
///
/// ```
/// use netns_cni::version::parse;
/// assert_eq!(parse("1.0.0"), Ok((1, 0, 0)));
/// assert_eq!(parse("0.4"), Ok((0, 4, 0)));
/// assert_eq!(parse(""), Ok((0, 1, 0)));
/// assert!(parse("1.0.0.0").is_err());
/// assert!(parse("v1").is_err());
/// ```
pub fn parse(v: &str) -> Result<(i64, i64, i64), String> {
    if v.is_empty() {
        return Ok((0, 1, 0));
    }
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() >= 4 {
        return Err(format!("invalid version {v:?}: too many parts"));
    }
    let num = |i: usize, what: &str| -> Result<i64, String> {
        match parts.get(i) {
            None => Ok(0),
            Some(p) => atoi(p).ok_or_else(|| {
                format!("failed to convert {what} version part {p:?}: strconv.Atoi: parsing {p:?}: invalid syntax")
            }),
        }
    };
    Ok((num(0, "major")?, num(1, "minor")?, num(2, "micro")?))
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether `v` is at least `min` (Go's `version.GreaterThanOrEqualTo`).
///
/// ```
/// assert_eq!(netns_cni::version::at_least("0.4.0", "0.4.0"), Ok(true));
/// assert_eq!(netns_cni::version::at_least("0.3.1", "0.4.0"), Ok(false));
/// ```
pub fn at_least(v: &str, min: &str) -> Result<bool, String> {
    Ok(parse(v)? >= parse(min)?)
}

/// The result family a version belongs to (which wire format it uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// 0.1.0 and 0.2.0: `ip4` / `ip6`.
    V02,
    /// 0.3.0, 0.3.1 and 0.4.0: `interfaces`, `ips` with `version`.
    V04,
    /// 1.0.0 and 1.1.0.
    V1,
}

impl Family {
    pub(crate) fn of(v: &str) -> Option<Family> {
        match v {
            "" | "0.1.0" | "0.2.0" => Some(Family::V02),
            "0.3.0" | "0.3.1" | "0.4.0" => Some(Family::V04),
            "1.0.0" | "1.1.0" => Some(Family::V1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_gos() {
        assert_eq!(parse("+1.-0"), Ok((1, 0, 0)));
        assert!(parse("1..0").is_err());
        assert!(parse("1.x").unwrap_err().contains("minor"));
        assert!(parse("99999999999999999999").is_err());
        assert_eq!(at_least("1.1.0", "1.0.0"), Ok(true));
        assert!(at_least("x", "1.0.0").is_err());
    }
}
