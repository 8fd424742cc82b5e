//! A pod with a network namespace of its own inside it: the scenario of
//! make-net (issue 14) step by step, as a BGP router pod uses it, with
//! netns's CNI plugins and a minimal runtime.
//!
//! 1. A lab of namespaces: the Kubernetes node (`node`, where the plugins
//!    run) and the router pod's sandbox (`pod`), in a private netns
//!    directory; make-net's netns directory (its `nsDir`, a stand-in for
//!    the node's /run/netns) and data directories beside it.
//! 2. The networks: the cluster network (netns-bridge on `cni0`,
//!    host-local 10.244.0.0/24) and the NetworkAttachmentDefinition
//!    `customer-1`: make-net with the netid template
//!    `{K8S_POD_NAMESPACE}-{K8S_POD_NAME}`, `peer: pod` and the static
//!    address 10.99.0.2/24.
//! 3. ADD: `eth0` on the cluster network, then `net1` from customer-1 with
//!    the CNI_ARGS Multus passes: make-net makes the namespace
//!    `bgp-demo-router` with `veth0` (10.99.0.2/24) in it, its peer `net1`
//!    in the pod, and a route in the pod to 10.99.0.2 over `net1`. CHECK
//!    of both.
//! 4. The pod's mount namespace, as a container runtime gives a pod one:
//!    the pod's first process (this program again, `__pod-init`) makes a
//!    mount namespace of its own, a tmpfs on its /run, and bind-mounts the
//!    named namespace at /run/netns/bgp there: the hostPath volume of the
//!    router Pod (examples/k8s/make-net). The node's /run/netns is never
//!    touched.
//! 5. The router process, started in the pod (its mount and network
//!    namespaces) as `ip netns exec bgp <listener>`, exactly as the router
//!    Pod's command does with FRR: the listener (this program again,
//!    `__listen`) binds 10.99.0.2:179 and reports which network namespace
//!    it is in: the named one, entered through the pod's own
//!    /run/netns/bgp.
//! 6. TCP from the pod's network namespace to 10.99.0.2:179 over the veth:
//!    answered, the listener seeing the pod's address.
//! 7. From the pod network's side (the node, on `cni0`), with a route to
//!    10.99.0.0/24 via the pod's eth0 address: the connection fails within
//!    a bound and the listener saw nothing. The pod does not route (its
//!    `net.ipv4.ip_forward` is 0, set here explicitly: a new network
//!    namespace copies the host's value, and a pod that forwards would
//!    pass the SYNs on).
//! 8. The router and the pod's first process stop (their stdin closed);
//!    DEL of net1 and eth0; make-net's netns and data directories are
//!    empty, the pod has only `lo`.
//!
//! The example is its own minimal runtime ([`netns_examples::runtime`],
//! shared with the multinet example): it execs the plugin binaries
//! (netns-bridge, make-net) as the CNI spec says, from the directory it
//! was built in (`target/<profile>/examples`), building them first with
//! cargo when they are missing and it runs under `cargo run`. It execs
//! `ip` once, for `ip netns exec bgp ...` in step 5: that interop is what
//! is shown (the namespace make-net made is one iproute2 enters, through
//! a bind mount in another mount namespace); everything else is library
//! calls. Everything lives in namespaces and directories it creates (the
//! "node" is a namespace too), so the real host's network is never
//! touched; all of it is removed at the end, also when a step fails or it
//! is interrupted (SIGINT/SIGTERM are caught and checked between steps).
//!
//! Run as root: `cargo run --example pod-netns`.

use netns_examples::demo::{self, check_interrupt, cmd, show, Res};
use std::ffi::CString;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::Duration;

use netns_core::{Handle, IpNet, LinkFilter, NetNs, NetnsDir, RouteSpec};
use netns_examples::runtime::{plugins_dir, Runtime, Sandbox};
use serde_json::{json, Value};

/// The address make-net gives the named namespace (`addresses`).
const NAMED_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

/// BGP's port: what the router listens on.
const PORT: u16 = 179;

/// The name the pod gives the named namespace in its own /run/netns.
const IN_POD: &str = "bgp";

/// The pod, as Kubernetes names it (make-net's netid template is filled
/// in from these).
const POD_NAMESPACE: &str = "bgp-demo";
const POD_NAME: &str = "router";
const CONTAINER_ID: &str = "5e1f0c9a7d3b2a8e4c6f1d0b9a8e7c6d5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c";

/// A connect that must work: milliseconds in practice; only a failure
/// waits for the bound.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connect that must fail: the pod drops the SYNs (it does not route),
/// so only the bound ends it.
const NO_CONNECTION_WAIT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------
// The lab: namespaces, directories and processes, removed on drop

struct Lab {
    root: PathBuf,
    dir: NetnsDir,
    /// make-net's `nsDir`.
    named_dir: NetnsDir,
    names: Vec<String>,
    /// The processes started in the pod: killed and reaped if still there.
    children: Vec<(&'static str, Child)>,
    /// The runtime and the attachments not yet deleted: DEL on the way out.
    runtime: Option<Runtime>,
    attached: Vec<(Value, PathBuf, String)>,
}

impl Lab {
    fn new() -> Res<Lab> {
        let root = std::env::temp_dir().join(format!("netns-pod-netns-{}", std::process::id()));
        fs::create_dir(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        Ok(Lab {
            dir: NetnsDir::new(root.join("netns")),
            named_dir: NetnsDir::new(root.join("node-run-netns")),
            root,
            names: Vec::new(),
            children: Vec::new(),
            runtime: None,
            attached: Vec::new(),
        })
    }

    fn namespace(&mut self, name: &str) -> Res<(NetNs, Handle, PathBuf)> {
        let ns = self.dir.create(name)?;
        self.names.push(name.to_owned());
        let h = ns.handle()?;
        h.link_set_up("lo")?;
        Ok((ns, h, self.dir.path_of(name)?))
    }

    fn sub(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn add(&mut self, conf: &Value, netns: &Path, ifname: &str) -> Res<Value> {
        let rt = self.runtime.as_mut().ok_or("no runtime")?;
        let r = rt.add(conf, &sandbox(netns), ifname);
        // Whatever ADD did, DEL undoes (a failed ADD too, as runtimes do).
        self.attached
            .push((conf.clone(), netns.to_path_buf(), ifname.to_owned()));
        r
    }

    fn check(&self, conf: &Value, netns: &Path, ifname: &str) -> Res<()> {
        let rt = self.runtime.as_ref().ok_or("no runtime")?;
        rt.check(conf, &sandbox(netns), ifname)
    }

    /// DEL of the last attachment still there.
    fn del_last(&mut self) -> Res<()> {
        let rt = self.runtime.as_mut().ok_or("no runtime")?;
        if let Some((conf, netns, ifname)) = self.attached.last() {
            rt.del(conf, &sandbox(netns), ifname)?;
            self.attached.pop();
        }
        Ok(())
    }
}

fn sandbox(netns: &Path) -> Sandbox<'_> {
    Sandbox {
        container_id: CONTAINER_ID,
        netns,
        args: CNI_ARGS,
    }
}

/// What Multus passes as CNI_ARGS for the router pod ([`POD_NAMESPACE`],
/// [`POD_NAME`] and its UID).
const CNI_ARGS: &str = concat!(
    "IgnoreUnknown=true;K8S_POD_NAMESPACE=bgp-demo;K8S_POD_NAME=router;",
    "K8S_POD_UID=0b8c3f4e-6d2a-4f51-9a7e-5c1d2e3f4a5b"
);

impl Drop for Lab {
    fn drop(&mut self) {
        println!("\n== cleanup");
        for (what, mut c) in self.children.drain(..).rev() {
            let _ = c.kill();
            match c.wait() {
                Ok(_) => println!("   stopped the {what} (pid {})", c.id()),
                Err(e) => eprintln!("   wait for the {what}: {e}"),
            }
        }
        while !self.attached.is_empty() {
            if let Err(e) = self.del_last() {
                eprintln!("   {e}");
                self.attached.pop();
            }
        }
        for name in self.names.drain(..).rev() {
            match self.dir.delete(&name) {
                Ok(()) => println!("   deleted namespace {name}"),
                Err(e) => eprintln!("   {e}"),
            }
        }
        // Both netns directories were made shared bind mounts (as `ip netns
        // add` does with /run/netns): undone (with any name left in them),
        // and the directories removed.
        let mut ok = true;
        for d in [&self.named_dir, &self.dir] {
            if let Err(e) = d.remove() {
                eprintln!("   {e}");
                ok = false;
            }
        }
        if ok {
            match fs::remove_dir_all(&self.root) {
                Ok(()) => println!("   removed {}", self.root.display()),
                Err(e) => eprintln!("   remove {}: {e}", self.root.display()),
            }
        } else {
            eprintln!("   left {}", self.root.display());
        }
    }
}

// ---------------------------------------------------------------------------
// Showing things

fn print_result(r: &Value) {
    for i in r["interfaces"].as_array().into_iter().flatten() {
        println!(
            "     -> interface {} mac {} sandbox {}",
            i["name"].as_str().unwrap_or("?"),
            i["mac"].as_str().unwrap_or("-"),
            i["sandbox"].as_str().unwrap_or("(the node)")
        );
    }
    for ip in r["ips"].as_array().into_iter().flatten() {
        println!(
            "     -> ip {} on interface {}",
            ip["address"].as_str().unwrap_or("?"),
            ip["interface"]
        );
    }
}

fn first_ip(result: &Value) -> Res<IpAddr> {
    let a = result["ips"][0]["address"]
        .as_str()
        .ok_or_else(|| format!("a result without an address: {result}"))?;
    let ip = a.split('/').next().unwrap_or_default();
    Ok(ip.parse()?)
}

fn find_in_path(tool: &str) -> Res<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{tool} is not in PATH (iproute2 is needed for step 5)").into())
}

// ---------------------------------------------------------------------------
// The processes in the pod

/// A process started in the pod, with the line it printed when ready.
struct Started {
    pid: u32,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
    ready: String,
}

/// Start `cmd` (stdin and stdout piped) in `ns` and wait for its first
/// line, its "ready" (no sleep: it prints once it is set up). The child is
/// kept in the lab, so it is stopped on the way out whatever happens.
fn start(lab: &mut Lab, ns: &NetNs, what: &'static str, cmd: &mut Command) -> Res<Started> {
    let mut child = ns
        .run(|| cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn())?
        .map_err(|e| format!("start the {what}: {e}"))?;
    let pid = child.id();
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    lab.children.push((what, child));
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        return Err(format!("the {what}'s pipes").into());
    };
    let mut out = BufReader::new(stdout);
    let mut ready = String::new();
    out.read_line(&mut ready)?;
    if !ready.starts_with("ready") {
        return Err(format!("the {what} did not start (it said {ready:?})").into());
    }
    Ok(Started {
        pid,
        stdin,
        out,
        ready: ready.trim_end().to_owned(),
    })
}

/// Stop a started process: its stdin closed, it exits; reaped.
fn stop(lab: &mut Lab, s: Started) -> Res<()> {
    drop(s.stdin);
    let Some(i) = lab.children.iter().position(|(_, c)| c.id() == s.pid) else {
        return Err("not a child of the lab".into());
    };
    let (what, mut c) = lab.children.remove(i);
    let status = c.wait()?;
    if !status.success() {
        return Err(format!("the {what} exited with {status}").into());
    }
    println!("   the {what} (pid {}) exited: {status}", s.pid);
    Ok(())
}

// ---------------------------------------------------------------------------
// The walkthrough

fn run(lab: &mut Lab) -> Res<()> {
    println!("== 1. the lab: a node and the router pod's sandbox");
    let (node, nh, _) = lab.namespace("node")?;
    let (pod, ph, pod_path) = lab.namespace("pod")?;
    let plugins = plugins_dir(&["netns-bridge", "make-net"], "pod-netns")?;
    println!("   plugins (CNI_PATH): {}", plugins.display());
    println!(
        "   namespaces node and pod in {}; make-net's nsDir (the node's /run/netns) is {}",
        lab.dir.path().display(),
        lab.named_dir.path().display()
    );
    lab.runtime = Some(Runtime::new(plugins, node.try_clone()?));
    check_interrupt()?;

    println!("\n== 2. the networks");
    let cluster = json!({
        "cniVersion": "1.0.0", "name": "cluster", "type": "netns-bridge",
        "bridge": "cni0", "isGateway": true,
        "ipam": {"type": "host-local", "subnet": "10.244.0.0/24",
                 "dataDir": lab.sub("ipam").display().to_string()}
    });
    // The NetworkAttachmentDefinition's config (examples/k8s/make-net has
    // it with the node's defaults for nsDir and dataDir).
    let customer = json!({
        "cniVersion": "0.4.0", "name": "customer-1", "type": "make-net",
        "netid": "{K8S_POD_NAMESPACE}-{K8S_POD_NAME}",
        "peer": "pod",
        "addresses": [format!("{NAMED_ADDR}/24")],
        "nsDir": lab.named_dir.path().display().to_string(),
        "dataDir": lab.sub("make-net").display().to_string()
    });
    println!("   cluster: {cluster}");
    println!("   customer-1 (the NetworkAttachmentDefinition): {customer}");
    let netid = format!("{POD_NAMESPACE}-{POD_NAME}");
    check_interrupt()?;

    println!("\n== 3. ADD: eth0 on the cluster network, net1 from customer-1");
    let r = lab.add(&cluster, &pod_path, "eth0")?;
    print_result(&r);
    let pod_ip = first_ip(&r)?;
    let r = lab.add(&customer, &pod_path, "net1")?;
    print_result(&r);
    println!("   make-net filled in netid: {netid}");
    let named_path = lab.named_dir.path_of(&netid)?;
    let named = NetNs::open(&named_path)?;
    println!(
        "   $ ip netns list   (in the nsDir {})\n     {}",
        lab.named_dir.path().display(),
        lab.named_dir.list()?.join(" ")
    );
    show(&netid, &named.handle()?)?;
    show("pod", &ph)?;
    lab.check(&cluster, &pod_path, "eth0")?;
    lab.check(&customer, &pod_path, "net1")?;
    println!("   OK: CHECK of eth0 and net1");
    check_interrupt()?;

    println!("\n== 4. the pod's mount namespace, with the named namespace at /run/netns/{IN_POD}");
    // This very program, for its helper modes: by /proc, since the build
    // of the plugins above may have replaced the file it was started from.
    let me = PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    cmd(&format!(
        "(the pod's first process: unshare --mount; mount -t tmpfs pod-run /run; \
         mount --bind {} /run/netns/{IN_POD})",
        named_path.display()
    ));
    let mut init = Command::new(&me);
    init.arg("__pod-init").arg(&named_path);
    let init = start(lab, &pod, "pod's first process", &mut init)?;
    println!("   pod's first process (pid {}): {}", init.pid, init.ready);
    let host_run_netns = Path::new("/run/netns").join(IN_POD);
    if host_run_netns.symlink_metadata().is_ok() {
        println!(
            "   (the node has its own {} too, not ours: the pod's is in its mount namespace)",
            host_run_netns.display()
        );
    } else {
        println!(
            "   OK: the node has no {}: the pod's is in its own mount namespace",
            host_run_netns.display()
        );
    }
    check_interrupt()?;

    println!("\n== 5. the router in the pod: ip netns exec {IN_POD} <listener>");
    let ip = find_in_path("ip")?;
    let listen_at = SocketAddr::new(IpAddr::V4(NAMED_ADDR), PORT);
    cmd(&format!(
        "nsenter --mount=/proc/{}/ns/mnt --net={} ip netns exec {IN_POD} pod-netns __listen {listen_at}",
        init.pid,
        pod_path.display()
    ));
    let mnt = fs::File::open(format!("/proc/{}/ns/mnt", init.pid))?;
    let mnt_fd = mnt.as_raw_fd();
    let mut router = Command::new(&ip);
    router
        .args(["netns", "exec", IN_POD])
        .arg(&me)
        .arg("__listen")
        .arg(listen_at.to_string());
    // SAFETY: between fork and exec only setns(2), async-signal-safe, on
    // a descriptor the parent keeps open until spawn returns.
    unsafe {
        router.pre_exec(move || {
            if libc::setns(mnt_fd, libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut router = start(lab, &pod, "router", &mut router)?;
    drop(mnt);
    println!("   router (pid {}): {}", router.pid, router.ready);
    let want = format!("ready {listen_at} netns {}", named.inode());
    if router.ready != want {
        return Err(format!(
            "the router is not in the named namespace: {:?}, expected {want:?}",
            router.ready
        )
        .into());
    }
    println!(
        "   OK: the router runs in {netid} (netns inode {}), entered as /run/netns/{IN_POD} in the pod",
        named.inode()
    );
    check_interrupt()?;

    println!("\n== 6. TCP from the pod to {listen_at}, over the veth");
    let from_pod = |router: &mut Started| -> Res<()> {
        let mut c = pod
            .run(|| TcpStream::connect_timeout(&listen_at, CONNECT_TIMEOUT))?
            .map_err(|e| format!("TCP pod -> {listen_at}: {e}"))?;
        let mut answer = String::new();
        c.read_to_string(&mut answer)?;
        let mut seen = String::new();
        router.out.read_line(&mut seen)?;
        let want = format!("accepted from {pod_ip}:");
        if answer != "bgp\n" || !seen.starts_with(&want) {
            return Err(format!(
                "pod -> {listen_at}: answer {answer:?}, the router said {seen:?}; \
                 expected \"bgp\\n\" and {want:?}..."
            )
            .into());
        }
        println!(
            "   OK: TCP pod ({pod_ip}) -> {listen_at}: answered {:?}, the router: {}",
            answer.trim_end(),
            seen.trim_end()
        );
        Ok(())
    };
    from_pod(&mut router)?;
    check_interrupt()?;

    println!("\n== 7. from the pod network's side (the node on cni0): no way in");
    let net: IpNet = "10.99.0.0/24".parse()?;
    cmd(&format!("ip route add {net} via {pod_ip}   (in the node)"));
    nh.route_add(&RouteSpec::new(net).via(pod_ip))?;
    cmd("sysctl -w net.ipv4.ip_forward=0   (in the pod: a pod does not route)");
    pod.run(|| fs::write("/proc/sys/net/ipv4/ip_forward", "0"))??;
    let r = node.run(|| TcpStream::connect_timeout(&listen_at, NO_CONNECTION_WAIT))?;
    if r.is_ok() {
        return Err(format!("the node reached {listen_at}: the named namespace is exposed").into());
    }
    let why = r.err().map(|e| e.to_string()).unwrap_or_default();
    println!("   OK: TCP node -> {listen_at} via the pod's eth0 fails ({why})");
    // The router reports each connection: the next it reports is the pod's.
    from_pod(&mut router)?;
    println!("   OK: the router saw nothing from the node");
    nh.route_del(&RouteSpec::new(net).via(pod_ip))?;
    check_interrupt()?;

    println!("\n== 8. the pod stops; DEL of net1 and eth0");
    stop(lab, router)?;
    stop(lab, init)?;
    lab.del_last()?;
    lab.del_last()?;
    let left = lab.named_dir.list()?;
    if !left.is_empty() {
        return Err(format!("make-net's nsDir still has {left:?}").into());
    }
    println!("   OK: make-net's nsDir is empty");
    // The records are named by netid; `.lock` is the directory's lock.
    let records: Vec<String> = fs::read_dir(lab.sub("make-net"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    if !records.is_empty() {
        return Err(format!("make-net left owner records {records:?}").into());
    }
    println!("   OK: no owner record left in make-net's dataDir");
    let links: Vec<String> = ph
        .links(&LinkFilter::new())?
        .into_iter()
        .map(|l| l.name)
        .collect();
    if links != ["lo"] {
        return Err(format!("the pod still has {links:?}").into());
    }
    println!("   OK: pod has only lo");
    println!("\nAll steps passed.");
    Ok(())
}

// ---------------------------------------------------------------------------
// The processes this program is, besides the walkthrough

/// `__pod-init NSFILE`: the pod's first process. A mount namespace of its
/// own (private: nothing propagates to the node), a tmpfs on /run (the
/// pod's own), NSFILE bind-mounted at /run/netns/bgp; prints "ready" and
/// waits for its stdin to close.
fn pod_init(nsfile: &str) -> Res<()> {
    fn mount(src: &str, dst: &str, fstype: Option<&str>, flags: libc::c_ulong) -> Res<()> {
        let c = |s: &str| CString::new(s).map_err(|e| format!("{s:?}: {e}"));
        let (src_c, dst_c) = (c(src)?, c(dst)?);
        let ty = fstype.map(c).transpose()?;
        // SAFETY: NUL-terminated strings that outlive the call; no data.
        let r = unsafe {
            libc::mount(
                src_c.as_ptr(),
                dst_c.as_ptr(),
                ty.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
                flags,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(format!("mount {src} {dst}: {}", io::Error::last_os_error()).into());
        }
        Ok(())
    }
    // SAFETY: a plain syscall; this process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!("unshare(CLONE_NEWNS): {}", io::Error::last_os_error()).into());
    }
    mount("none", "/", None, libc::MS_REC | libc::MS_PRIVATE)?;
    mount("pod-run", "/run", Some("tmpfs"), 0)?;
    fs::create_dir("/run/netns")?;
    let at = format!("/run/netns/{IN_POD}");
    fs::File::create(&at)?;
    mount(nsfile, &at, None, libc::MS_BIND)?;
    println!("ready: /run/netns/{IN_POD} is {nsfile} in this mount namespace");
    io::stdout().flush()?;
    io::copy(&mut io::stdin(), &mut io::sink())?;
    Ok(())
}

/// `__listen ADDR:PORT`: the router's stand-in. Binds, prints `ready ADDR
/// netns INODE` (the network namespace it runs in), then for each
/// connection prints `accepted from PEER` and answers "bgp"; exits when
/// its stdin closes.
fn listen(at: &str) -> Res<()> {
    let at: SocketAddr = at.parse()?;
    let l = TcpListener::bind(at)?;
    let ino = fs::metadata("/proc/self/ns/net")?.ino();
    println!("ready {at} netns {ino}");
    io::stdout().flush()?;
    std::thread::spawn(|| {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
    for c in l.incoming() {
        let mut c = c?;
        println!("accepted from {}", c.peer_addr()?);
        io::stdout().flush()?;
        c.write_all(b"bgp\n")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let helper = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["__pod-init", nsfile] => Some(pod_init(nsfile)),
        ["__listen", at] => Some(listen(at)),
        [] => None,
        _ => {
            eprintln!("usage: pod-netns   (as root; the walkthrough, nothing to pass)");
            return ExitCode::FAILURE;
        }
    };
    if let Some(r) = helper {
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pod-netns {}: {e}", args[0]);
                ExitCode::FAILURE
            }
        };
    }
    demo::main_with("pod-netns", Lab::new, run)
}
