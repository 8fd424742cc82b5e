//! netns-core
#![deny(missing_docs)]
