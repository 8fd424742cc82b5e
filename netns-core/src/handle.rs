//! [`Handle`]: one NETLINK_ROUTE socket bound to one network namespace.

use std::sync::{Mutex, MutexGuard};

use crate::error::Result;
use crate::ns::NetNs;
use crate::socket::NlSocket;

/// A netlink handle: one NETLINK_ROUTE socket bound to one network namespace.
///
/// [`Handle::new`] binds it to the calling thread's namespace;
/// [`Handle::new_in`] (or [`NetNs::handle`]) opens the socket inside another
/// namespace on a short-lived helper thread. A socket stays in the namespace
/// it was opened in, so afterwards the handle works from any thread, with no
/// setns at all.
///
/// The object operations (`link_add`, `addr_add`, `route_replace`, ...) are
/// implemented in the object modules. A `Handle` is `Send + Sync`; calls from
/// several threads are serialised on its socket (open several handles for
/// parallel requests).
///
/// ```no_run
/// use netns_core::{Handle, NetNs};
/// let ns = NetNs::named("red")?;
/// let h = ns.handle()?; // the socket lives in "red"; this thread does not move
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Handle {
    sock: Mutex<NlSocket>,
}

impl Handle {
    /// A handle on the calling thread's network namespace.
    pub fn new() -> Result<Handle> {
        Ok(Handle {
            sock: Mutex::new(NlSocket::open()?),
        })
    }

    /// A handle on `ns`: the socket is opened by a helper thread that enters
    /// `ns` and exits.
    ///
    /// Equivalent to vishvananda/netlink's `NewHandleAt`.
    #[doc(alias = "NewHandleAt")]
    #[doc(alias = "ip -n")]
    pub fn new_in(ns: &NetNs) -> Result<Handle> {
        let sock = ns.run(NlSocket::open)??;
        Ok(Handle {
            sock: Mutex::new(sock),
        })
    }

    /// How many times a listing interrupted by concurrent changes
    /// (NLM_F_DUMP_INTR) is attempted before
    /// an [`ErrorKind::DumpInterrupted`](crate::ErrorKind::DumpInterrupted) is returned.
    /// At least 1; the default is 5.
    pub fn set_dump_attempts(&self, attempts: u32) {
        self.sock().set_dump_attempts(attempts);
    }

    /// The current dump attempt limit.
    pub fn dump_attempts(&self) -> u32 {
        self.sock().dump_attempts()
    }

    /// The netlink port id of this handle's socket.
    pub fn port_id(&self) -> u32 {
        self.sock().port()
    }

    /// Shrink the receive buffer (tests of the truncation path only).
    #[doc(hidden)]
    pub fn debug_set_recv_buffer(&self, bytes: usize) {
        self.sock().debug_set_recv_buffer(bytes);
    }

    /// The socket, locked. A poisoned lock is taken over: the socket layer
    /// skips replies left over from an interrupted request.
    pub(crate) fn sock(&self) -> MutexGuard<'_, NlSocket> {
        self.sock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handle_and_netns_are_send_sync() {
        fn is<T: Send + Sync>() {}
        is::<super::Handle>();
        is::<crate::NetNs>();
    }
}
