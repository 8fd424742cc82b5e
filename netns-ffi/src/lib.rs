//! The stable C ABI of netns. See `include/netns.h`.
#![deny(missing_docs)]
