//! nsip: a small `ip` on top of netns-core, so the library can be driven from
//! a shell and compared with iproute2 line for line.
//!
//! ```text
//! nsip [--netns-dir DIR] [-n NAME|PATH] [-j] [-d] [-br] OBJECT COMMAND ...
//!   netns add NAME | del NAME | list [--links] | attach NAME PID | identify [PID]
//!         | exec NAME [--] CMD [ARGS...] | set NAME NSID|auto
//!   link  add | set | del | show      (ip link grammar)
//!   addr  add | del | show            (ip addr grammar)
//!   route add | replace | del | show | get   (ip route grammar)
//!   neigh add | replace | del | show  (ip neigh grammar)
//!   nat   list | masquerade | forward | del | flush   (netns-core's NAT, table inet netns-nat)
//! ```
//!
//! Errors are printed on stderr (the library's error, with the kernel's
//! message) and the exit status is 2 (1 for a usage error), as with `ip`.

mod args;
mod l3_cmd;
mod link_cmd;
mod nat_cmd;
mod netns_cmd;

use std::process::ExitCode;

use args::{usage, Args, Res, Usage};
use netns_core::{Handle, IpFamily, NetNs, NetnsDir};

const USAGE: &str =
    "usage: nsip [--netns-dir DIR] [-n NAME|PATH] [-j] [-d] [-br] [-4|-6] OBJECT COMMAND ...
objects:
  netns add NAME | del NAME | list [--links] | attach NAME PID | identify [PID]
        | exec NAME [--] CMD [ARGS...] | set NAME NSID|auto
  link  add [link PARENT] [name] NAME [mtu N] [address MAC] [txqueuelen N] [up]
            [master C] [group N] [netns NS] type KIND [OPTIONS]
        set [dev] NAME [up|down] [mtu N] [address MAC] [name NEW] [alias TEXT]
            [master C|nomaster] [netns NS] [txqueuelen N] [group N]
        del [dev] NAME | del group N
        show [[dev] NAME] [type KIND] [master NAME]
  kinds: veth peer name PEER [netns NS] | bridge [vlan_filtering 0|1] | dummy
         bond [mode balance-rr|active-backup|802.3ad|...] [miimon MS] | vrf table ID
         macvlan|macvtap mode private|vepa|bridge|passthru|source
         vlan id N [protocol 802.1Q|802.1ad] | ipvlan mode l2|l3|l3s [bridge|private|vepa]
         vxlan id VNI [remote|group ADDR] [local ADDR] [dstport P] [dev NAME]
               [learning|nolearning] [ttl N]
  addr  add|replace|del PREFIX dev NAME [brd +|ADDR] [label L] [scope S] [peer P]
            [nodad] [noprefixroute] [valid_lft N|forever] [preferred_lft N|forever]
        show [[dev] NAME]
  route add|replace|append|del [TYPE] DST|default [via GW] [dev NAME] [src ADDR]
            [metric M] [table T] [scope S] [proto P] [onlink]
            [nexthop via GW [dev NAME] [weight W]]...
        show [table T|all] [dev NAME] | get ADDR
  neigh add|replace|del ADDR [lladdr MAC] dev NAME [nud STATE] [router] [proxy]
        show [dev NAME] [proxy]
  nat   list                                (like nft list table inet netns-nat)
        masquerade OWNER SRC[,SRC...] [except NET[,NET...]]
        forward OWNER PROTO HOSTPORT[@HOSTIP] TO:PORT [PROTO HOSTPORT[@HOSTIP] TO:PORT]...
                [hairpin NET[,NET...]|all]
        del OWNER [masquerade|forward]
        flush                               (the whole table inet netns-nat, nothing else)
        OWNER is NETWORK/CONTAINER/IFNAME; PROTO tcp|udp|sctp; TO:PORT ADDR:PORT or [ADDR6]:PORT
        e.g. nat masquerade cni0/c1/eth0 10.88.0.2 except 10.88.0.0/16
             nat forward cni0/c1/eth0 tcp 8080 10.88.0.2:80 hairpin 10.88.0.0/16,127.0.0.0/8";

/// Global options and the namespace commands run in.
pub struct Ctx {
    pub dir: NetnsDir,
    pub netns: Option<String>,
    pub json: bool,
    pub details: bool,
    pub brief: bool,
    pub family: Option<IpFamily>,
}

impl Ctx {
    /// A handle in the namespace given with -n, or the current one.
    pub fn handle(&self) -> Res<Handle> {
        Ok(match &self.netns {
            Some(n) => self.named_or_path(n)?.handle()?,
            None => Handle::new()?,
        })
    }

    /// A namespace as `ip -n` and `ip netns exec` take it: a path if it
    /// contains a `/`, else a name in the netns directory.
    pub fn named_or_path(&self, s: &str) -> Res<NetNs> {
        Ok(if s.contains('/') {
            NetNs::open(s)?
        } else {
            self.dir.open(s)?
        })
    }

    /// A namespace given as `netns NS`: a name in the netns directory, a PID,
    /// or a path.
    pub fn netns_arg(&self, s: &str) -> Res<NetNs> {
        Ok(if s.contains('/') {
            NetNs::open(s)?
        } else if let Ok(pid) = s.parse::<i32>() {
            NetNs::from_pid(pid)?
        } else {
            self.dir.open(s)?
        })
    }
}

fn run(argv: Vec<String>) -> Res<ExitCode> {
    let mut a = Args::new(argv);
    let mut ctx = Ctx {
        dir: NetnsDir::default(),
        netns: None,
        json: false,
        details: false,
        brief: false,
        family: None,
    };
    loop {
        match a.peek() {
            Some("--netns-dir") => {
                a.next();
                ctx.dir = NetnsDir::new(a.value("--netns-dir")?);
            }
            Some("-n" | "-netns" | "--netns") => {
                a.next();
                ctx.netns = Some(a.value("-n")?);
            }
            Some("-j" | "-json" | "--json") => {
                a.next();
                ctx.json = true;
            }
            Some("-d" | "-details") => {
                a.next();
                ctx.details = true;
            }
            Some("-br" | "-brief") => {
                a.next();
                ctx.brief = true;
            }
            Some("-4") => {
                a.next();
                ctx.family = Some(IpFamily::V4);
            }
            Some("-6") => {
                a.next();
                ctx.family = Some(IpFamily::V6);
            }
            Some("-h" | "--help" | "help") => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => break,
        }
    }
    match a.next().as_deref() {
        Some("netns") => netns_cmd::run(&ctx, &mut a),
        Some("link" | "l") => link_cmd::run(&ctx, &mut a).map(|()| ExitCode::SUCCESS),
        Some("addr" | "address" | "a") => l3_cmd::addr(&ctx, &mut a).map(|()| ExitCode::SUCCESS),
        Some("route" | "r" | "ro") => l3_cmd::route(&ctx, &mut a).map(|()| ExitCode::SUCCESS),
        Some("neigh" | "neighbour" | "neighbor" | "n") => {
            l3_cmd::neigh(&ctx, &mut a).map(|()| ExitCode::SUCCESS)
        }
        Some("nat") => nat_cmd::run(&ctx, &mut a).map(|()| ExitCode::SUCCESS),
        Some(other) => usage(format!("unknown object \"{other}\"")),
        None => usage("missing object"),
    }
}

fn main() -> ExitCode {
    // Arguments are read as bytes: one that is not UTF-8 is a usage error
    // naming it, never a panic.
    let mut argv = Vec::new();
    for (i, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(s) => argv.push(s),
            Err(raw) => {
                eprintln!(
                    "nsip: argument {} ({:?}) is not valid UTF-8\n{USAGE}",
                    i + 1,
                    raw
                );
                return ExitCode::from(1);
            }
        }
    }
    match run(argv) {
        Ok(code) => code,
        Err(e) if e.is::<Usage>() => {
            eprintln!("nsip: {e}\n{USAGE}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("nsip: {e}");
            ExitCode::from(2)
        }
    }
}
