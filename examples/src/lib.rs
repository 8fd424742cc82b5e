//! Shared helpers for the netns example programs (see the `[[example]]` targets).
