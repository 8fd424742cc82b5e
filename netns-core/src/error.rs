//! The one error type of netns-core.
//!
//! Every fallible call returns [`Error`]: the operation that failed
//! ([`Error::op`], e.g. `link_add`), the object it was about
//! ([`Error::object`], e.g. `veth0 (type veth)`), and what went wrong
//! ([`Error::kind`], an [`ErrorKind`] carrying the data: the errno and the
//! kernel's extended-ack text of a refusal, the reason an argument was
//! rejected, ...). It is shaped like [`std::io::Error`]: match on
//! [`Error::kind`] or use the helpers ([`Error::errno`],
//! [`Error::is_not_found`], ...); the text is for people, never for
//! decisions.
//!
//! ```
//! use netns_core::{Error, ErrorKind};
//! let e = Error::kernel("link_add", "veth0", libc::EEXIST, Some("some text".into()));
//! assert!(e.is_exists());
//! assert!(matches!(e.kind(), ErrorKind::Kernel { errno: libc::EEXIST, .. }));
//! assert_eq!(e.to_string(), "link_add veth0: File exists (os error 17): kernel: some text");
//! ```

use std::fmt;
use std::io;
use std::time::Duration;

/// Result alias used across netns-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of netns-core: an operation, the object it was about, and what
/// went wrong. See the [module docs](self).
#[derive(Debug)]
pub struct Error {
    op: &'static str,
    object: String,
    kind: ErrorKind,
}

/// What went wrong, with its data.
///
/// `#[non_exhaustive]`: new kinds may be added; keep a catch-all arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The kernel refused a netlink request (NLMSG_ERROR with a negative
    /// code, or a dump that ended with an error in NLMSG_DONE).
    Kernel {
        /// The positive errno value.
        errno: i32,
        /// The kernel's extended-ack message (NLMSGERR_ATTR_MSG), if it sent
        /// one.
        extack: Option<String>,
        /// The byte offset in the request of the attribute the kernel
        /// objected to (NLMSGERR_ATTR_OFFS), if it said.
        offset: Option<u32>,
    },

    /// Something the request names does not exist: a device, found missing
    /// by the library's lookup of a name or by the kernel itself (ENODEV),
    /// or another object the library looked for. The same kind whichever
    /// call finds it; `errno` is what a C caller gets (ENODEV for a device).
    NotFound {
        /// The errno: ENODEV for a device, ENOENT otherwise.
        errno: i32,
        /// What is missing, when the library knows (`device "eth9"`,
        /// `parent "eth9"`); `None` when the kernel said so for the object
        /// of the request.
        what: Option<String>,
        /// The kernel's extended-ack message, if it sent one.
        extack: Option<String>,
    },

    /// An argument was rejected before anything was sent to the kernel or
    /// written to disk.
    InvalidArgument {
        /// Why it was rejected.
        reason: String,
    },

    /// The kernel does not support what was asked (a link kind it lacks, for
    /// example).
    Unsupported {
        /// The missing feature, e.g. `link kind "vlan"`.
        feature: String,
        /// The errno the kernel answered with, usually EOPNOTSUPP.
        errno: i32,
        /// The kernel's extended-ack message, if any.
        extack: Option<String>,
    },

    /// A dump was interrupted by concurrent changes (NLM_F_DUMP_INTR) on every
    /// one of the allowed attempts. No partial data is returned.
    DumpInterrupted {
        /// How many attempts were made.
        attempts: u32,
    },

    /// A reply did not fit the receive buffer, even after it grew. Read-only
    /// requests are repeated before this is returned.
    Truncated,

    /// The kernel's reply could not be understood (malformed, or an
    /// unexpected message). This indicates a kernel/library mismatch.
    Protocol {
        /// What was wrong with the reply.
        detail: String,
    },

    /// A system call outside the netlink conversation failed (open, mount,
    /// setns, flock, socket...).
    Io(io::Error),

    /// A wait ([`Handle::wait_link_up`](crate::Handle::wait_link_up), ...)
    /// ran out of time before its condition held.
    TimedOut {
        /// What was waited for.
        waited_for: String,
        /// How long.
        after: Duration,
    },

    /// IPv6 duplicate address detection failed: another host on the link
    /// uses the address (IFA_F_DADFAILED).
    DuplicateAddress {
        /// The address.
        addr: std::net::IpAddr,
    },

    /// A subscription lost events: the kernel dropped notifications because
    /// the socket's receive queue was full (ENOBUFS). The state must be read
    /// again; the subscription itself goes on.
    ResyncNeeded,
}

struct ExtackSuffix<'a>(&'a Option<String>);

impl fmt::Display for ExtackSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(m) if !m.is_empty() => write!(f, ": kernel: {m}"),
            _ => Ok(()),
        }
    }
}

fn os_text(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.op, self.object)?;
        match &self.kind {
            ErrorKind::Kernel { errno, extack, .. }
            | ErrorKind::NotFound {
                errno,
                what: None,
                extack,
            } => write!(f, "{}{}", os_text(*errno), ExtackSuffix(extack)),
            ErrorKind::NotFound {
                what: Some(what),
                extack,
                ..
            } => write!(f, "{what} does not exist{}", ExtackSuffix(extack)),
            ErrorKind::InvalidArgument { reason } => write!(f, "invalid argument: {reason}"),
            ErrorKind::Unsupported {
                feature,
                errno,
                extack,
            } => write!(
                f,
                "kernel does not support {feature}: {}{}",
                os_text(*errno),
                ExtackSuffix(extack)
            ),
            ErrorKind::DumpInterrupted { attempts } => write!(
                f,
                "dump interrupted by concurrent changes {attempts} times in a row"
            ),
            ErrorKind::Truncated => f.write_str(
                "unexpected reply from the kernel: reply truncated: did not fit the receive buffer",
            ),
            ErrorKind::Protocol { detail } => {
                write!(f, "unexpected reply from the kernel: {detail}")
            }
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::TimedOut { waited_for, after } => {
                write!(f, "timed out after {after:?} waiting for {waited_for}")
            }
            ErrorKind::DuplicateAddress { addr } => write!(
                f,
                "duplicate address detection failed for {addr}: another host on the link uses it"
            ),
            ErrorKind::ResyncNeeded => write!(
                f,
                "notifications were lost ({}): read the state again",
                os_text(libc::ENOBUFS)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// An error of `op` on `object`.
    pub fn new(op: &'static str, object: impl Into<String>, kind: ErrorKind) -> Self {
        Error {
            op,
            object: object.into(),
            kind,
        }
    }

    /// A kernel refusal. `errno` may be given positive or negative; ENODEV
    /// (no such device) is an [`ErrorKind::NotFound`].
    pub fn kernel(
        op: &'static str,
        object: impl Into<String>,
        errno: i32,
        extack: Option<String>,
    ) -> Self {
        Error::kernel_at(op, object, errno, extack, None)
    }

    /// A kernel refusal with the offset of the attribute it objected to.
    pub(crate) fn kernel_at(
        op: &'static str,
        object: impl Into<String>,
        errno: i32,
        extack: Option<String>,
        offset: Option<u32>,
    ) -> Self {
        let errno = errno.saturating_abs();
        let kind = if errno == libc::ENODEV {
            ErrorKind::NotFound {
                errno,
                what: None,
                extack,
            }
        } else {
            ErrorKind::Kernel {
                errno,
                extack,
                offset,
            }
        };
        Error::new(op, object, kind)
    }

    /// An argument rejected before anything was done.
    pub fn invalid(op: &'static str, object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::new(
            op,
            object,
            ErrorKind::InvalidArgument {
                reason: reason.into(),
            },
        )
    }

    /// A failed system call; `source` should carry a raw OS error.
    pub fn io(op: &'static str, object: impl Into<String>, source: io::Error) -> Self {
        Error::new(op, object, ErrorKind::Io(source))
    }

    /// A device named in a request (in its `role`: device, parent,
    /// controller...) that does not exist: ENODEV.
    pub(crate) fn no_device(
        op: &'static str,
        object: impl Into<String>,
        role: &str,
        name: &str,
    ) -> Self {
        Error::new(
            op,
            object,
            ErrorKind::NotFound {
                errno: libc::ENODEV,
                what: Some(format!("{role} {name:?}")),
                extack: None,
            },
        )
    }

    /// A failed system call, from a nix errno.
    pub(crate) fn nix(op: &'static str, object: impl Into<String>, errno: nix::Error) -> Self {
        Error::io(op, object, io::Error::from_raw_os_error(errno as i32))
    }

    /// A reply the library could not make sense of.
    pub(crate) fn protocol(
        op: &'static str,
        object: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Error::new(
            op,
            object,
            ErrorKind::Protocol {
                detail: detail.into(),
            },
        )
    }

    /// The operation that failed (`link_add`, `netns_create`...).
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// What the operation was about: a link name, a prefix, a namespace...
    pub fn object(&self) -> &str {
        &self.object
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What went wrong, by value.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// The errno behind this error. Every kind has one, so that a C caller
    /// always gets a meaningful code: a kernel refusal its errno, an invalid
    /// argument EINVAL, a missing device ENODEV, an interrupted dump EINTR,
    /// an unreadable reply EPROTO, a timeout ETIMEDOUT, lost notifications
    /// ENOBUFS, a failed duplicate address detection EADDRINUSE. `None` only for an I/O error without an OS code.
    pub fn errno(&self) -> Option<i32> {
        match &self.kind {
            ErrorKind::Kernel { errno, .. }
            | ErrorKind::Unsupported { errno, .. }
            | ErrorKind::NotFound { errno, .. } => Some(*errno),
            ErrorKind::Io(source) => source.raw_os_error(),
            ErrorKind::InvalidArgument { .. } => Some(libc::EINVAL),
            ErrorKind::DumpInterrupted { .. } => Some(libc::EINTR),
            ErrorKind::Truncated | ErrorKind::Protocol { .. } => Some(libc::EPROTO),
            ErrorKind::TimedOut { .. } => Some(libc::ETIMEDOUT),
            ErrorKind::ResyncNeeded => Some(libc::ENOBUFS),
            ErrorKind::DuplicateAddress { .. } => Some(libc::EADDRINUSE),
        }
    }

    /// The byte offset in the request of the attribute the kernel objected to
    /// (NLMSGERR_ATTR_OFFS), if it said.
    pub fn extack_offset(&self) -> Option<u32> {
        match &self.kind {
            ErrorKind::Kernel { offset, .. } => *offset,
            _ => None,
        }
    }

    /// The kernel's extended-ack message, if the kernel sent one.
    pub fn extack(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Kernel { extack, .. }
            | ErrorKind::Unsupported { extack, .. }
            | ErrorKind::NotFound { extack, .. } => extack.as_deref(),
            _ => None,
        }
    }

    /// The object already exists (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// The object does not exist: an [`ErrorKind::NotFound`] (a missing
    /// device, however it was found missing), or an errno that says so:
    /// ENOENT, ENODEV (from a system call), ESRCH (no such route, no such
    /// process), EADDRNOTAVAIL (no such address).
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound { .. })
            || matches!(
                self.errno(),
                Some(libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL)
            )
    }

    /// The caller lacks a privilege (EPERM, EACCES).
    pub fn is_permission(&self) -> bool {
        matches!(self.errno(), Some(libc::EPERM | libc::EACCES))
    }

    /// The kernel lacks the feature: an [`ErrorKind::Unsupported`], or a
    /// refusal with EOPNOTSUPP, EAFNOSUPPORT or EPROTONOSUPPORT.
    pub fn is_unsupported(&self) -> bool {
        match &self.kind {
            ErrorKind::Unsupported { .. } => true,
            ErrorKind::Kernel { errno, .. } => matches!(
                *errno,
                libc::EOPNOTSUPP | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT
            ),
            _ => false,
        }
    }

    /// The argument was rejected before anything was done.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self.kind, ErrorKind::InvalidArgument { .. })
    }

    /// A wait ran out of time.
    pub fn is_timed_out(&self) -> bool {
        matches!(self.kind, ErrorKind::TimedOut { .. })
    }

    /// Notifications were lost: read the state again.
    pub fn is_resync_needed(&self) -> bool {
        matches!(self.kind, ErrorKind::ResyncNeeded)
    }

    /// The same error about another object (used where a lower layer only
    /// knew the request, not the user's name for it).
    pub(crate) fn with_object(mut self, new: impl Into<String>) -> Self {
        self.object = new.into();
        self
    }

    /// A kernel refusal as an [`ErrorKind::Unsupported`] naming `feature`
    /// (other kinds are returned unchanged).
    pub(crate) fn into_unsupported(self, feature: String) -> Self {
        match self.kind {
            ErrorKind::Kernel { errno, extack, .. } => Error::new(
                self.op,
                self.object,
                ErrorKind::Unsupported {
                    feature,
                    errno,
                    extack,
                },
            ),
            _ => self,
        }
    }

    /// The same error of another operation.
    pub(crate) fn with_op(mut self, op: &'static str) -> Self {
        self.op = op;
        self
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind_errno = e.errno().unwrap_or(libc::EIO);
        io::Error::new(io::Error::from_raw_os_error(kind_errno).kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_kernel_with_and_without_extack() {
        let e = Error::kernel("link_add", "veth0", -libc::EEXIST, Some("boom".into()));
        assert_eq!(
            e.to_string(),
            "link_add veth0: File exists (os error 17): kernel: boom"
        );
        let e = Error::kernel("link_del", "x", libc::ENODEV, None);
        assert_eq!(e.to_string(), "link_del x: No such device (os error 19)");
        assert!(e.is_not_found());
        assert_eq!(e.errno(), Some(libc::ENODEV));
    }

    #[test]
    fn a_missing_device_is_one_kind_whoever_finds_it() {
        let by_kernel = Error::kernel("link_set", "x0", libc::ENODEV, None);
        let by_lookup = Error::no_device("addr_add", "10.0.0.1/24 dev x0", "device", "x0");
        for e in [&by_kernel, &by_lookup] {
            assert!(matches!(
                e.kind(),
                ErrorKind::NotFound {
                    errno: libc::ENODEV,
                    ..
                }
            ));
            assert!(e.is_not_found());
            assert!(!e.is_invalid_argument());
            assert_eq!(e.errno(), Some(libc::ENODEV));
        }
        assert_eq!(
            by_lookup.to_string(),
            "addr_add 10.0.0.1/24 dev x0: device \"x0\" does not exist"
        );
    }

    #[test]
    fn helpers_classify() {
        assert!(Error::kernel("a", "b", libc::EPERM, None).is_permission());
        assert!(Error::kernel("a", "b", libc::EOPNOTSUPP, None).is_unsupported());
        assert!(!Error::kernel("a", "b", libc::EEXIST, None).is_unsupported());
        assert!(Error::kernel("a", "b", libc::ESRCH, None).is_not_found());
        let inv = Error::invalid("netns_create", "../x", "contains '/'");
        assert!(inv.is_invalid_argument());
        assert!(!inv.is_not_found());
        assert_eq!(inv.errno(), Some(libc::EINVAL));
        assert_eq!(inv.op(), "netns_create");
        assert_eq!(inv.object(), "../x");
        assert_eq!(
            inv.to_string(),
            "netns_create ../x: invalid argument: contains '/'"
        );
        let io: io::Error = Error::kernel("a", "b", libc::EEXIST, None).into();
        assert_eq!(io.kind(), io::ErrorKind::AlreadyExists);
        let t = Error::new(
            "wait_link_up",
            "eth0",
            ErrorKind::TimedOut {
                waited_for: "carrier".into(),
                after: Duration::from_millis(50),
            },
        );
        assert!(t.is_timed_out());
        assert_eq!(t.errno(), Some(libc::ETIMEDOUT));
        assert_eq!(
            t.to_string(),
            "wait_link_up eth0: timed out after 50ms waiting for carrier"
        );
        assert_eq!(
            Error::new("links", "all", ErrorKind::Truncated).errno(),
            Some(libc::EPROTO)
        );
    }
}
