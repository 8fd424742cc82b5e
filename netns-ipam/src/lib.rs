//! IP address management with the semantics and on-disk format of the CNI
//! reference `host-local` plugin.
#![deny(missing_docs)]
