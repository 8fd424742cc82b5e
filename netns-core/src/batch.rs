//! Batching: many change requests in as few `sendmsg` calls as the socket
//! buffers allow, one outcome per request.
//!
//! ```no_run
//! use netns_core::Handle;
//! let h = Handle::new()?;
//! let mut b = h.batch();
//! b.link_set_up("veth0");
//! b.link_set_up("no-such-link");
//! b.link_del("veth9");
//! let outcomes = b.execute()?;          // Err only if the socket failed
//! assert_eq!(outcomes.len(), 3);         // one per request, in order
//! # Ok::<(), netns_core::Error>(())
//! ```
//!
//! Object modules add the request kinds (`impl Batch` blocks next to their
//! `impl Handle` blocks), each built by the same code as the single call.

use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, Result};
use crate::socket::Verb;
use crate::Handle;

/// A request checked and built, or the reason it could not be.
struct Pending {
    op: &'static str,
    object: String,
    request: Result<(RouteNetlinkMessage, Verb)>,
}

/// Change requests collected to be sent together; see the module docs.
/// Made by [`Handle::batch`].
#[must_use = "a batch does nothing until execute() is called"]
pub struct Batch<'h> {
    pub(crate) handle: &'h Handle,
    pending: Vec<Pending>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("requests", &self.pending.len())
            .finish()
    }
}

impl Handle {
    /// Start a batch of change requests on this handle.
    #[doc(alias = "ip -batch")]
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            handle: self,
            pending: Vec::new(),
        }
    }
}

impl<'h> Batch<'h> {
    /// Add a request (object modules call this). A request that failed to
    /// build keeps its place and reports its error from [`Batch::execute`].
    pub(crate) fn push(
        &mut self,
        op: &'static str,
        object: impl Into<String>,
        request: Result<(RouteNetlinkMessage, Verb)>,
    ) -> &mut Self {
        self.pending.push(Pending {
            op,
            object: object.into(),
            request,
        });
        self
    }

    /// The number of requests collected.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no request was collected.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Send every request and return one outcome per request, in the order
    /// they were added. The kernel handles each request on its own: a refused
    /// one does not stop the others, and its error carries the kernel's
    /// errno and extended-ack text like a single call's. The outer error is
    /// for the socket itself failing (then some requests may have been
    /// applied).
    pub fn execute(self) -> Result<Vec<Result<()>>> {
        let mut outcomes: Vec<Option<Result<()>>> = Vec::with_capacity(self.pending.len());
        let mut to_send = Vec::new();
        let mut labels = Vec::new();
        for p in self.pending {
            match p.request {
                Ok(r) => {
                    to_send.push(r);
                    labels.push((outcomes.len(), p.op, p.object));
                    outcomes.push(None);
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        if !to_send.is_empty() {
            let sent = self.handle.sock().batch("batch", to_send)?;
            for ((slot, op, object), outcome) in labels.into_iter().zip(sent) {
                outcomes[slot] = Some(outcome.map_err(|nack| nack.into_error(op, &object)));
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(Error::protocol(
                        "batch",
                        "batch",
                        "request without an outcome",
                    ))
                })
            })
            .collect())
    }
}
