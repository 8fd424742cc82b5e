//! Checks of the environment .ci/vm/run gives a test binary.
//!
//! ```
//! // a doctest: under the runner env var it is run through the runner too
//! assert!(std::env::var("NETNS_TEST_IN_VM").is_ok(), "doctest ran outside the VM");
//! ```

/// The kernel release the binary is running on.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap().trim().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_test_runs_in_the_vm() {
        assert_eq!(std::env::var("NETNS_TEST_IN_VM").as_deref(), Ok("1"));
        let k = super::kernel_release();
        assert!(k.starts_with("6.1."), "kernel {k}");
        // the build script ran on the host, not in the VM
        assert_ne!(env!("SELFTEST_BUILD_KERNEL"), k);
        println!("unit test on {k}");
    }
}
