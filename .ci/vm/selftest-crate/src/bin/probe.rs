// Run by the integration test through CARGO_BIN_EXE_probe (a path in the
// host's target dir, visible in the guest through the 9p share).
fn main() {
    println!("probe on {}", netns_vm_selftest::kernel_release());
    std::process::exit(7);
}
