//! The one error type of netns-core.
//!
//! Every fallible call returns [`Error`]. A refusal by the kernel is an
//! [`Error::Kernel`] carrying the operation, the object it was about, the errno
//! and the kernel's extended-ack message; arguments that cannot be right are
//! refused with [`Error::InvalidArgument`] before anything is sent or touched.
//!
//! ```
//! use netns_core::Error;
//! let e = Error::kernel("link_add", "veth0", libc::EEXIST, Some("some text".into()));
//! assert!(e.is_exists());
//! assert_eq!(e.to_string(), "link_add veth0: File exists (os error 17): kernel: some text");
//! ```

use std::fmt;
use std::io;

/// Result alias used across netns-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in netns-core.
///
/// The enum is `#[non_exhaustive]`: match on the helpers ([`Error::errno`],
/// [`Error::is_exists`], ...) rather than on every variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused a netlink request (NLMSG_ERROR with a negative code,
    /// or a dump that ended with an error in NLMSG_DONE).
    #[error("{op} {object}: {}{}", io::Error::from_raw_os_error(*.errno), ExtackSuffix(.extack))]
    Kernel {
        /// The library operation, e.g. `link_add`.
        op: &'static str,
        /// What the operation was about: a link name, a prefix, a namespace...
        object: String,
        /// The positive errno value.
        errno: i32,
        /// The kernel's extended-ack message (NLMSGERR_ATTR_MSG), if it sent one.
        extack: Option<String>,
        /// The byte offset in the request of the attribute the kernel objected
        /// to (NLMSGERR_ATTR_OFFS), if it said.
        offset: Option<u32>,
    },

    /// A system call outside netlink failed (open, mount, setns, flock...).
    #[error("{op} {object}: {source}")]
    Os {
        /// The library operation, e.g. `netns_create`.
        op: &'static str,
        /// What the operation was about: usually a path.
        object: String,
        /// The underlying OS error (always has a raw errno).
        #[source]
        source: io::Error,
    },

    /// An argument was rejected before anything was sent to the kernel or
    /// written to disk.
    #[error("{op} {object}: invalid argument: {reason}")]
    InvalidArgument {
        /// The library operation.
        op: &'static str,
        /// The offending value, as given.
        object: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The kernel does not support what was asked (a link kind it lacks, for
    /// example). `errno` is what the kernel answered, usually EOPNOTSUPP.
    #[error("{op} {object}: kernel does not support {feature}: {}{}", io::Error::from_raw_os_error(*.errno), ExtackSuffix(.extack))]
    Unsupported {
        /// The library operation.
        op: &'static str,
        /// What the operation was about.
        object: String,
        /// The missing feature, e.g. `link kind "vlan"`.
        feature: String,
        /// The errno the kernel answered with.
        errno: i32,
        /// The kernel's extended-ack message, if any.
        extack: Option<String>,
    },

    /// A dump was interrupted by concurrent changes (NLM_F_DUMP_INTR) on every
    /// one of the allowed attempts. No partial data is returned.
    #[error("{op} {object}: dump interrupted by concurrent changes {attempts} times in a row")]
    DumpInterrupted {
        /// The library operation.
        op: &'static str,
        /// What was being listed.
        object: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// The kernel's reply could not be understood (malformed, truncated, or an
    /// unexpected message). This indicates a kernel/library mismatch.
    #[error("{op} {object}: unexpected reply from the kernel: {detail}")]
    Protocol {
        /// The library operation.
        op: &'static str,
        /// What the operation was about.
        object: String,
        /// What was wrong with the reply.
        detail: String,
    },

    /// The object does not exist (a lookup that found nothing, where the kernel
    /// itself did not answer with an errno).
    #[error("{op} {object}: not found")]
    NotFound {
        /// The library operation.
        op: &'static str,
        /// What was looked for.
        object: String,
    },
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

impl Error {
    /// A kernel refusal. `errno` may be given positive or negative.
    pub fn kernel(
        op: &'static str,
        object: impl Into<String>,
        errno: i32,
        extack: Option<String>,
    ) -> Self {
        Error::Kernel {
            op,
            object: object.into(),
            errno: errno.saturating_abs(),
            extack,
            offset: None,
        }
    }

    /// An argument rejected before anything was done.
    pub fn invalid(op: &'static str, object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            object: object.into(),
            reason: reason.into(),
        }
    }

    /// A failed system call; `source` should carry a raw OS error.
    pub fn os(op: &'static str, object: impl Into<String>, source: io::Error) -> Self {
        Error::Os {
            op,
            object: object.into(),
            source,
        }
    }

    /// A failed system call, from a nix errno.
    pub(crate) fn nix(op: &'static str, object: impl Into<String>, errno: nix::Error) -> Self {
        Error::os(op, object, io::Error::from_raw_os_error(errno as i32))
    }

    /// A reply the library could not make sense of.
    pub(crate) fn protocol(
        op: &'static str,
        object: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Error::Protocol {
            op,
            object: object.into(),
            detail: detail.into(),
        }
    }

    /// The errno behind this error, if there is one. Invalid arguments report
    /// EINVAL, not-found lookups ENOENT (ENODEV for links is reported as is).
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } | Error::Unsupported { errno, .. } => Some(*errno),
            Error::Os { source, .. } => source.raw_os_error(),
            Error::InvalidArgument { .. } => Some(libc::EINVAL),
            Error::NotFound { .. } => Some(libc::ENOENT),
            Error::DumpInterrupted { .. } => Some(libc::EINTR),
            Error::Protocol { .. } => Some(libc::EPROTO),
        }
    }

    /// The byte offset in the request of the attribute the kernel objected to
    /// (NLMSGERR_ATTR_OFFS), if it said.
    pub fn extack_offset(&self) -> Option<u32> {
        match self {
            Error::Kernel { offset, .. } => *offset,
            _ => None,
        }
    }

    /// The kernel's extended-ack message, if the kernel sent one.
    pub fn extack(&self) -> Option<&str> {
        match self {
            Error::Kernel { extack, .. } | Error::Unsupported { extack, .. } => extack.as_deref(),
            _ => None,
        }
    }

    /// The operation that failed (`link_add`, `netns_create`...).
    pub fn op(&self) -> &'static str {
        match self {
            Error::Kernel { op, .. }
            | Error::Os { op, .. }
            | Error::InvalidArgument { op, .. }
            | Error::Unsupported { op, .. }
            | Error::DumpInterrupted { op, .. }
            | Error::Protocol { op, .. }
            | Error::NotFound { op, .. } => op,
        }
    }

    /// The object already exists (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// The object does not exist: ENOENT, ENODEV (no such device), ESRCH (no
    /// such process, or no such route on some kernels), EADDRNOTAVAIL (no such
    /// address).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL)
        )
    }

    /// The caller lacks a privilege (EPERM, EACCES).
    pub fn is_permission(&self) -> bool {
        matches!(self.errno(), Some(libc::EPERM | libc::EACCES))
    }

    /// The kernel lacks the feature (EOPNOTSUPP, EAFNOSUPPORT,
    /// EPROTONOSUPPORT), or the error is an explicit [`Error::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
            || matches!(
                self,
                Error::Kernel {
                    errno: libc::EOPNOTSUPP | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT,
                    ..
                }
            )
    }

    /// The argument was rejected before anything was done.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, Error::InvalidArgument { .. })
    }

    /// Rewrite the object of a kernel error (used where a lower layer only
    /// knew the request, not the user's name for it).
    pub(crate) fn with_object(mut self, new: impl Into<String>) -> Self {
        match &mut self {
            Error::Kernel { object, .. }
            | Error::Os { object, .. }
            | Error::InvalidArgument { object, .. }
            | Error::Unsupported { object, .. }
            | Error::DumpInterrupted { object, .. }
            | Error::Protocol { object, .. }
            | Error::NotFound { object, .. } => *object = new.into(),
        }
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
    fn helpers_classify() {
        assert!(Error::kernel("a", "b", libc::EPERM, None).is_permission());
        assert!(Error::kernel("a", "b", libc::EOPNOTSUPP, None).is_unsupported());
        assert!(!Error::kernel("a", "b", libc::EEXIST, None).is_unsupported());
        let inv = Error::invalid("netns_create", "../x", "contains '/'");
        assert!(inv.is_invalid_argument());
        assert!(!inv.is_not_found());
        assert_eq!(inv.errno(), Some(libc::EINVAL));
        assert_eq!(
            inv.to_string(),
            "netns_create ../x: invalid argument: contains '/'"
        );
        let io: io::Error = Error::kernel("a", "b", libc::EEXIST, None).into();
        assert_eq!(io.kind(), io::ErrorKind::AlreadyExists);
    }
}
