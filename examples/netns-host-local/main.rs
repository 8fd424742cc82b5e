//! `netns-host-local`: a drop-in replacement for the CNI reference
//! `host-local` IPAM plugin, built on netns-ipam.
//!
//! Install it as `host-local` (or under its own name and set `ipam.type`):
//! a runtime or a main plugin (bridge, macvlan...) delegates to it exactly as
//! to host-local. Same config, same CNI_* environment, same data directory
//! (`ipam.dataDir`, default /var/lib/cni/networks) and files, so the two can
//! even share a directory. Commands: ADD, DEL, CHECK, GC, STATUS, VERSION;
//! CNI versions 0.1.0 to 1.1.0, results in the requested version's format,
//! errors as the spec's JSON on stdout with the CNI error codes and exit
//! status 1. Like host-local it ignores `ipam.type`.
//!
//! ```text
//! cargo build --release --example netns-host-local
//! CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/x CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin \
//!   target/release/examples/netns-host-local <<< \
//!   '{"cniVersion":"1.0.0","name":"n","ipam":{"type":"host-local","subnet":"10.0.0.0/24","dataDir":"/tmp/d"}}'
//! ```

mod cni;

fn main() {
    let code = cni::main(
        &|k| std::env::var_os(k),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
