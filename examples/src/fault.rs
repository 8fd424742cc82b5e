//! Test-only fault injection: [`point`] marks a step of a plugin's ADD
//! after which the node shows something new (an IPAM reservation, a link
//! made, moved or renamed, an address, a route, a sysctl, an nftables
//! rule, a namespace...). With nothing in the environment it only counts.
//!
//! # The environment (for tests only, never set by a runtime)
//!
//! - `NETNS_TEST_KILL_AT=N` (a number from 1): the N-th point this process
//!   passes sends SIGKILL to the process itself: a real kill, no unwinding,
//!   no exit handlers, no undo, as a node's OOM killer or a runtime's
//!   timeout would do it. A name instead of a number kills at the point of
//!   that name (netns-portmap's `before-nat`, `after-nat`...).
//! - `NETNS_TEST_KILL_IN=PROG` (optional): only the process whose program
//!   (the file name of argv\[0\]) is PROG acts on `NETNS_TEST_KILL_AT`; a
//!   delegated IPAM plugin inherits its caller's environment, so this says
//!   which of the two is meant.
//!
//! Before the kill it prints `PROG: NETNS_TEST_KILL_AT=N: killed after step
//! N (NAME)` to stderr, for the test's messages. A test learns how many
//! steps an ADD has by raising N until the ADD is no longer killed.

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the step to kill at.
pub const KILL_AT: &str = "NETNS_TEST_KILL_AT";

/// The variable naming the program that acts on [`KILL_AT`].
pub const KILL_IN: &str = "NETNS_TEST_KILL_IN";

/// The points passed so far in this process.
static PASSED: AtomicU32 = AtomicU32::new(0);

/// This process's program name: the file name of argv\[0\].
fn program() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// A step of ADD is done: SIGKILL this process if [`KILL_AT`] names it
/// (by its number among the points this process passed, or by `name`).
pub fn point(name: &str) {
    let n = PASSED.fetch_add(1, Ordering::Relaxed).saturating_add(1);
    let Some(at) = std::env::var_os(KILL_AT) else {
        return;
    };
    let prog = program();
    if std::env::var_os(KILL_IN).is_some_and(|p| p != prog.as_str()) {
        return;
    }
    let hit = match at.to_str().and_then(|s| s.parse::<u32>().ok()) {
        Some(k) => k == n,
        None => at == name,
    };
    if hit {
        eprintln!(
            "{prog}: {KILL_AT}={}: killed after step {n} ({name})",
            at.to_string_lossy()
        );
        // SAFETY: kill(2) with our own pid and a constant signal touches
        // no memory.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
