//! Property tests: random operation sequences through `Allocator` (over
//! `MemoryStore` and over `FileStore`) against a deliberately naive model of
//! host-local: a literal transcription of its iterator (one probe per
//! candidate), its duplicate check and its rollback.

// The VM tier leaves this binary out: what `netns_testutil::host_only!`
// expands to (this crate does not depend on netns-testutil).
#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: property tests of pure IPAM code, no kernel involved\0";

mod prop_common;

use netns_ipam::{Allocator, FileStore, MemoryStore};
use prop_common::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_matches_model(which in 0usize..4, ops in proptest::collection::vec(op(), 1..60)) {
        let mut h = Mem(Allocator::new(range_sets(which), MemoryStore::new()));
        run_sequence(&mut h, which, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn file_store_matches_model(which in 0usize..4, ops in proptest::collection::vec(op(), 1..40)) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "netns-ipam-prop-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let sets = range_sets(which);
        let a = Allocator::new(sets.clone(), FileStore::open(&root, "net").unwrap());
        let mut h = Disk { root, sets, a };
        run_sequence(&mut h, which, &ops)?;
    }
}
