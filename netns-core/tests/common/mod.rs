//! Helpers shared by the integration tests of netns-core.

/// A request refused before anything was sent: an invalid argument, or,
/// for a device that does not exist, the not-found kind with ENODEV
/// (the same kind whichever call finds the device missing).
pub fn assert_refused(e: &netns_core::Error, why: &str) {
    if why.contains("does not exist") {
        assert!(e.is_not_found(), "{e}");
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    } else {
        assert!(e.is_invalid_argument(), "{e}");
    }
    assert!(e.to_string().contains(why), "{e} (wanted {why:?})");
}
