// Build scripts run on the host, never through the target runner: this one
// records that it ran on the host kernel (the selftest checks the runner log
// never saw a build-script binary).
fn main() {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("cargo:rustc-env=SELFTEST_BUILD_KERNEL={}", release.trim());
    println!("cargo:rerun-if-changed=build.rs");
}
