//! What the walkthrough examples (`tour`, `multinet`, `pod-netns`) share:
//! their `main` (interrupts caught, the lab made, run and removed, the
//! outcome as an exit status), the check for an interrupt between steps,
//! and a namespace printed as `ip -br link`, `ip -br addr` and `ip route`
//! would show it.

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use netns_core::{AddrFilter, Handle, IpFamily, LinkFilter, RouteFilter};

/// A step's result.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// An error once SIGINT, SIGTERM or SIGHUP came (checked between steps, so
/// that the lab is removed on the way out).
pub fn check_interrupt() -> Res<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err("interrupted".into());
    }
    Ok(())
}

/// An example's `main`: SIGINT, SIGTERM and SIGHUP caught (see
/// [`check_interrupt`]), the lab made by `new`, `run` on it, the lab
/// dropped (removing what it made) whatever `run` returned, and the
/// outcome: success, or the error on stderr (`PROG: ...` when the lab
/// could not be made, `PROG failed: ...` when a step failed) and failure.
pub fn main_with<L>(
    prog: &str,
    new: impl FnOnce() -> Res<L>,
    run: impl FnOnce(&mut L) -> Res<()>,
) -> ExitCode {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; the handler's type is what signal() takes.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    let mut lab = match new() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = run(&mut lab);
    drop(lab);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\n{prog} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A command line shown as what a step does, the way a shell user would
/// type it.
pub fn cmd(line: &str) {
    println!("   $ {line}");
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
}

/// The namespace of `h`, titled `name`: each link but `lo` (`ip -br link`,
/// its kind and controller) with its addresses (but loopback and link-local
/// ones), then the main table's IPv4 routes.
pub fn show(name: &str, h: &Handle) -> Res<()> {
    println!("   [{name}]");
    let addrs = h.addrs(&AddrFilter::new())?;
    let name_of = |i: u32| {
        h.link_get(i)
            .map(|l| l.name)
            .unwrap_or_else(|_| i.to_string())
    };
    for l in h.links(&LinkFilter::new())? {
        if l.name == "lo" {
            continue;
        }
        let a: Vec<String> = addrs
            .iter()
            .filter(|a| a.link_index == l.index && !is_link_local(&a.addr()))
            .map(|a| a.prefix.to_string())
            .collect();
        let kind = l.kind.as_deref().unwrap_or("-");
        let ctl = l
            .controller
            .map(|i| format!(" master {}", name_of(i)))
            .unwrap_or_default();
        println!("     {}  {kind}{ctl}  {}", l.brief(), a.join(" "));
    }
    for r in h.routes(&RouteFilter::new().family(IpFamily::V4).table(254))? {
        let dev = r.link_index.map(name_of).unwrap_or_else(|| "-".into());
        let dst = if r.dst.prefix_len() == 0 {
            "default".to_owned()
        } else {
            r.dst.to_string()
        };
        match r.gateway {
            Some(g) => println!("     route {dst} via {g} dev {dev}"),
            None => println!("     route {dst} dev {dev}"),
        }
    }
    Ok(())
}
