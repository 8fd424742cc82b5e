//! 8 driver processes at a time, 25 pods each, on one bridge: every ADD
//! succeeds with an address no other pod has, then every DEL, and nothing
//! is left. Half the pods get their address in process (netns-bridge's
//! host-local), half from the reference host-local executed from CNI_PATH,
//! on the same data directory: the two never hand out one address twice.

netns_testutil::host_only!("needs go and the reference plugins, which the VM image lacks");

mod cni_common;

use std::collections::BTreeSet;
use std::sync::Barrier;

use cni_common::*;
use netns_testutil::{in_private_netns, ip};
use serde_json::json;

const WORKERS: usize = 8;
const PODS: usize = 25;

#[test]
fn eight_runtimes_times_25_pods_on_one_bridge() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        // The reference host-local under another name, so that netns-bridge
        // executes it instead of allocating in process.
        let bin = TempDir::new("bin");
        std::os::unix::fs::symlink(
            reference_dir().join("host-local"),
            bin.path().join("ref-host-local"),
        )
        .expect("symlink");
        let conf = |ipam: &str| {
            json!({"cniVersion": "1.0.0", "name": "t", "plugins": [{
                "type": "netns-bridge", "bridge": "cni-t0", "isGateway": true,
                "ipam": {"type": ipam, "subnet": "10.78.0.0/16", "dataDir": data.s()}}]})
        };
        let mut paths = our_path();
        paths.insert(0, bin.path().to_path_buf());
        let in_process = Network::new(conf("host-local"), paths.clone());
        let exec = Network::new(conf("ref-host-local"), paths);
        // Everyone's ADDs are done before anyone's DELs: the reservations
        // are all there at once.
        let all_added = Barrier::new(WORKERS);
        let ips: Vec<Vec<String>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let net = if w % 2 == 0 { &in_process } else { &exec };
                    let all_added = &all_added;
                    s.spawn(move || {
                        let pods: Vec<(String, Pod)> = (0..PODS)
                            .map(|i| {
                                let id = format!("w{w}p{i}");
                                let pod = Pod::new(&id);
                                (id, pod)
                            })
                            .collect();
                        let mut ips = Vec::new();
                        for (id, pod) in &pods {
                            let add = net.add(pod, id, "eth0");
                            add.expect_ok();
                            ips.extend(add.ips());
                        }
                        all_added.wait();
                        for (id, pod) in &pods {
                            net.del(pod, id, "eth0").expect_ok();
                            assert_eq!(pod.ifnames(), ["lo"], "{id} after DEL");
                        }
                        ips
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let all: Vec<&String> = ips.iter().flatten().collect();
        let unique: BTreeSet<&String> = all.iter().copied().collect();
        assert_eq!(all.len(), WORKERS * PODS);
        assert_eq!(unique.len(), all.len(), "an address was handed out twice");
        // Nothing left: the bridge alone on the host, host-local's lock and
        // cursor alone in its directory.
        assert_eq!(Snapshot::here().ifnames(), ["cni-t0", "lo"]);
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}
