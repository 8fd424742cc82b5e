//! The CNI error: a code from the spec's table, a message and details,
//! printed on stdout as the spec's error object.

use std::fmt;

/// The well-known CNI error codes (spec, "Error"; Go's `pkg/types`).
pub mod code {
    /// Incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Unsupported field in the network configuration; the message names
    /// the key and value.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// Container unknown or does not exist: the runtime need not DEL.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Invalid or missing environment variables; the message names them.
    pub const INVALID_ENVIRONMENT: u32 = 4;
    /// I/O failure (reading stdin, for example).
    pub const IO_FAILURE: u32 = 5;
    /// Failed to decode content (bad JSON, an unknown result version).
    pub const DECODING_FAILURE: u32 = 6;
    /// Invalid network configuration.
    pub const INVALID_NETWORK_CONFIG: u32 = 7;
    /// CNI_NETNS is the plugin's own network namespace (Go's skel only).
    pub const INVALID_NETNS: u32 = 8;
    /// Try again later: a transient condition.
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin is not available (cannot serve ADD now).
    pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
    /// STATUS: not available, and existing containers may have limited
    /// connectivity.
    pub const LIMITED_CONNECTIVITY: u32 = 51;
    /// Anything else (Go's `ErrInternal`: every error a plugin returns that
    /// is not a CNI error).
    pub const INTERNAL: u32 = 999;
}

/// A CNI error: what a plugin prints on stdout when a command fails.
///
/// ```
/// use netns_cni::{code, Error};
/// let e = Error::new(code::INVALID_NETWORK_CONFIG, "missing network name");
/// assert_eq!(e.code(), 7);
/// assert_eq!(e.to_json(Some("1.0.0")),
///     "{\n    \"cniVersion\": \"1.0.0\",\n    \"code\": 7,\n    \"msg\": \"missing network name\"\n}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: u32,
    msg: String,
    details: String,
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: u32, msg: impl Into<String>) -> Error {
        Error {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// The same error with `details` (the spec's longer explanation).
    pub fn with_details(mut self, details: impl Into<String>) -> Error {
        self.details = details.into();
        self
    }

    /// Code 999 with the error's text: what Go's skel makes of any error a
    /// plugin returns that is not a CNI error.
    pub fn internal(e: impl fmt::Display) -> Error {
        Error::new(code::INTERNAL, e.to_string())
    }

    /// The same error with `prefix: ` before its message (Go's
    /// `fmt.Errorf("prefix: %v", err)`, which keeps no code: the result is
    /// code 999, as in Go, unless the error was transient (code 11), which
    /// stays so).
    pub fn context(self, prefix: impl fmt::Display) -> Error {
        let code = match self.code {
            code::TRY_AGAIN_LATER => code::TRY_AGAIN_LATER,
            _ => code::INTERNAL,
        };
        Error {
            code,
            msg: format!("{prefix}: {}", self.text()),
            details: String::new(),
        }
    }

    /// The code.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The message.
    pub fn msg(&self) -> &str {
        &self.msg
    }

    /// The details ("" when none).
    pub fn details(&self) -> &str {
        &self.details
    }

    /// Message and details as one line (Go's `Error()`: `msg; details`).
    pub fn text(&self) -> String {
        if self.details.is_empty() {
            self.msg.clone()
        } else {
            format!("{}; {}", self.msg, self.details)
        }
    }

    /// The spec's error object, indented as Go's plugins print it:
    /// `cniVersion` (when known), `code`, `msg`, `details` (when not empty).
    pub fn to_json(&self, cni_version: Option<&str>) -> String {
        #[derive(serde::Serialize)]
        struct Json<'a> {
            #[serde(rename = "cniVersion", skip_serializing_if = "Option::is_none")]
            cni_version: Option<&'a str>,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        crate::json::to_string_pretty(&Json {
            cni_version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl std::error::Error for Error {}

/// A netns-core error keeps its text (operation, object, errno and the
/// kernel's extended-ack message); its code is 11 (try again later) for
/// the transient kinds (a timed-out wait, a dump interrupted on every
/// attempt, lost notifications, EAGAIN/EBUSY/ENOBUFS from the kernel), and
/// 999 for the rest, as Go's plugins report every netlink error.
impl From<netns_core::Error> for Error {
    fn from(e: netns_core::Error) -> Error {
        use netns_core::ErrorKind as K;
        let transient = match e.kind() {
            K::TimedOut { .. } | K::DumpInterrupted { .. } | K::ResyncNeeded => true,
            K::Kernel { errno, .. } => {
                matches!(*errno, libc::EAGAIN | libc::EBUSY | libc::ENOBUFS)
            }
            _ => false,
        };
        let code = if transient {
            code::TRY_AGAIN_LATER
        } else {
            code::INTERNAL
        };
        Error::new(code, e.to_string())
    }
}

/// For DEL, which must succeed when what it removes is gone: a netns-core
/// result whose error says the object does not exist
/// ([`netns_core::Error::is_not_found`]) is `Ok(None)`.
///
/// ```no_run
/// # fn del(h: &netns_core::Handle) -> Result<(), netns_cni::Error> {
/// netns_cni::error::gone_is_ok(h.link_del("eth0"))?;
/// # Ok(()) }
/// ```
pub fn gone_is_ok<T>(r: netns_core::Result<T>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_the_spec_order_and_omits_empty_details() {
        let e = Error::new(4, "required env variables [CNI_NETNS] missing");
        assert_eq!(
            e.to_json(None),
            "{\n    \"code\": 4,\n    \"msg\": \"required env variables [CNI_NETNS] missing\"\n}"
        );
        let e = Error::new(1, "incompatible CNI versions").with_details("x");
        let v: serde_json::Value = serde_json::from_str(&e.to_json(Some("0.4.0"))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"cniVersion": "0.4.0", "code": 1,
                "msg": "incompatible CNI versions", "details": "x"})
        );
        assert_eq!(e.text(), "incompatible CNI versions; x");
    }

    #[test]
    fn context_is_internal_unless_transient() {
        let e = Error::new(7, "bad").context("failed to load netconf");
        assert_eq!((e.code(), e.msg()), (999, "failed to load netconf: bad"));
        let e = Error::new(11, "busy").context("x");
        assert_eq!(e.code(), 11);
    }

    #[test]
    fn core_errors_keep_their_text_and_map_by_kind() {
        let e = netns_core::Error::invalid("link_add", "eth0", "bad name");
        let c = Error::from(e);
        assert_eq!(c.code(), 999);
        assert!(c
            .msg()
            .contains("link_add eth0: invalid argument: bad name"));
        let e = netns_core::Error::kernel("link_add", "br0", libc::EBUSY, Some("busy".into()));
        let c = Error::from(e);
        assert_eq!(c.code(), 11);
        assert!(c.msg().ends_with("kernel: busy"), "{}", c.msg());
    }
}
