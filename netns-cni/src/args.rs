//! CNI_ARGS: `K=V;K2=V2`, read as Go's `types.LoadArgs` reads it into a
//! plugin's args struct.

use netns_ipam::gojson::quote;

use crate::error::Error;

/// Parsed CNI_ARGS.
///
/// A plugin names the keys it knows (Go: the fields of its args struct,
/// matched case-sensitively); any other key is an error unless
/// `IgnoreUnknown` is `1` or `true` (any case), as runtimes send it. Every
/// pair must be exactly `K=V`.
///
/// ```
/// use netns_cni::CniArgs;
/// let a = CniArgs::load("IgnoreUnknown=1;K8S_POD_NAME=web;MAC=02:00:00:00:00:01", &["MAC"])?;
/// assert_eq!(a.get("MAC"), Some("02:00:00:00:00:01"));
/// assert_eq!(a.get("K8S_POD_NAME"), None); // not a known key
/// let e = CniArgs::load("K8S_POD_NAME=web", &["MAC"]).unwrap_err();
/// assert_eq!(e.msg(), r#"ARGS: unknown args ["K8S_POD_NAME=web"]"#);
/// # Ok::<(), netns_cni::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pairs: Vec<(String, String)>,
    ignore_unknown: bool,
}

impl CniArgs {
    /// The keys kubelet, CRI runtimes and Multus send (with
    /// `IgnoreUnknown=true`): pass them in `known` to read them.
    pub const K8S_KEYS: &'static [&'static str] = &[
        "K8S_POD_NAMESPACE",
        "K8S_POD_NAME",
        "K8S_POD_INFRA_CONTAINER_ID",
        "K8S_POD_UID",
    ];

    /// Parse `raw`, accepting the keys in `known` (and `IgnoreUnknown`).
    /// Errors are Go's messages, code 999 (Go plugins return them as plain
    /// errors).
    pub fn load(raw: &str, known: &[&str]) -> Result<CniArgs, Error> {
        let mut out = CniArgs::default();
        if raw.is_empty() {
            return Ok(out);
        }
        let mut unknown = Vec::new();
        for pair in raw.split(';') {
            let kv: Vec<&str> = pair.split('=').collect();
            let [k, v] = kv.as_slice() else {
                return Err(Error::internal(format!(
                    "ARGS: invalid pair {}",
                    quote(pair)
                )));
            };
            if *k == "IgnoreUnknown" {
                out.ignore_unknown = match v.to_lowercase().as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    other => {
                        return Err(Error::internal(format!(
                            "ARGS: error parsing value of pair {}: boolean unmarshal error: invalid input {other}",
                            quote(pair)
                        )))
                    }
                };
                continue;
            }
            if !known.contains(k) {
                unknown.push(quote(pair));
                continue;
            }
            out.pairs.retain(|(name, _)| name != k);
            out.pairs.push((k.to_string(), v.to_string()));
        }
        if !unknown.is_empty() && !out.ignore_unknown {
            return Err(Error::internal(format!(
                "ARGS: unknown args [{}]",
                unknown.join(" ")
            )));
        }
        Ok(out)
    }

    /// The value of a known key (`None` if absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `IgnoreUnknown` was set true.
    pub fn ignore_unknown(&self) -> bool {
        self.ignore_unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_is_gos() {
        assert_eq!(CniArgs::load("", &[]).unwrap(), CniArgs::default());
        let e = CniArgs::load("MAC", &["MAC"]).unwrap_err();
        assert_eq!((e.code(), e.msg()), (999, r#"ARGS: invalid pair "MAC""#));
        let e = CniArgs::load("MAC=a=b", &["MAC"]).unwrap_err();
        assert_eq!(e.msg(), r#"ARGS: invalid pair "MAC=a=b""#);
        let e = CniArgs::load("IgnoreUnknown=yes", &[]).unwrap_err();
        assert_eq!(
            e.msg(),
            r#"ARGS: error parsing value of pair "IgnoreUnknown=yes": boolean unmarshal error: invalid input yes"#
        );
        // IgnoreUnknown may come after the unknown keys; TRUE in any case.
        let a = CniArgs::load("A=1;B=2;IgnoreUnknown=TRUE", &[]).unwrap();
        assert!(a.ignore_unknown());
        let e = CniArgs::load("A=1;B=2", &[]).unwrap_err();
        assert_eq!(e.msg(), r#"ARGS: unknown args ["A=1" "B=2"]"#);
        // Keys are case-sensitive, as Go's FieldByName; the last value wins.
        assert!(CniArgs::load("mac=x", &["MAC"]).is_err());
        let a = CniArgs::load("MAC=x;MAC=y;", &["MAC"]);
        assert!(a.is_err(), "a trailing ; is an empty pair");
        let a = CniArgs::load("MAC=x;MAC=y", &["MAC"]).unwrap();
        assert_eq!(a.get("MAC"), Some("y"));
        assert_eq!(a.get("IP"), None);
        // What Multus sends.
        let a = CniArgs::load(
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;\
             K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;MAC=x",
            CniArgs::K8S_KEYS,
        )
        .unwrap();
        assert_eq!(a.get("K8S_POD_NAME"), Some("web-0"));
        assert_eq!(a.get("K8S_POD_UID"), Some("u-1"));
        assert_eq!(a.get("MAC"), None);
    }
}
