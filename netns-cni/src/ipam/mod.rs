//! IPAM delegation, as Go's `pkg/ipam` / `invoke.DelegateAdd`, `DelegateDel`
//! and `DelegateCheck` do it: the plugin named by `ipam.type` is found in
//! CNI_PATH and run with the caller's environment (CNI_COMMAND set to the
//! command) and the whole config on stdin; its result is read back and
//! converted to 1.1; its error object is returned as it printed it (code,
//! message, details).
//!
//! When `ipam.type` is `host-local` or `netns-host-local`, the allocation
//! is done in process instead ([`host_local`]): netns-ipam with
//! host-local's semantics on host-local's files and lock, so it shares a
//! data directory with host-local processes safely. The result goes
//! through the same version conversion an exec'd plugin's would (printed
//! in the config's version, read back), so the two paths give the same
//! result.

pub mod host_local;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use crate::error::Error;
use crate::result::CniResult;
use crate::skel::{CmdArgs, Command};

/// Whether `ipam_type` is served in process.
pub fn is_in_process(ipam_type: &str) -> bool {
    matches!(ipam_type, "host-local" | "netns-host-local")
}

/// What can be known of the IPAM config before anything is made: for the
/// in-process host-local, its config and resolv.conf are read (the errors
/// ADD would give); an IPAM plugin executed from CNI_PATH tells only when
/// it runs. A main plugin calls this before it makes what other
/// attachments share and ADD does not remove on failure (a bridge).
pub fn precheck(args: &CmdArgs) -> Result<(), Error> {
    if is_in_process(&args.conf.ipam.plugin_type) {
        host_local::precheck(args)
    } else {
        Ok(())
    }
}

/// ADD through the config's IPAM plugin (Go's `ipam.ExecAdd`).
pub fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let t = &args.conf.ipam.plugin_type;
    let (bytes, version) = if is_in_process(t) {
        let r = host_local::add(args)?;
        (
            r.to_json(&args.version)?.into_bytes(),
            args.version.as_str(),
        )
    } else {
        (delegate(t, Command::Add, args)?, args.version.as_str())
    };
    CniResult::parse(&bytes, version).map_err(|e| Error::internal(e.msg()))
}

/// DEL through the config's IPAM plugin (Go's `ipam.ExecDel`).
pub fn del(args: &CmdArgs) -> Result<(), Error> {
    with(args, Command::Del, host_local::del)
}

/// CHECK through the config's IPAM plugin (Go's `ipam.ExecCheck`).
pub fn check(args: &CmdArgs) -> Result<(), Error> {
    with(args, Command::Check, host_local::check)
}

/// GC through the config's IPAM plugin.
pub fn gc(args: &CmdArgs) -> Result<(), Error> {
    with(args, Command::Gc, host_local::gc)
}

/// STATUS through the config's IPAM plugin (Go's `ipam.ExecStatus`).
pub fn status(args: &CmdArgs) -> Result<(), Error> {
    with(args, Command::Status, host_local::status)
}

fn with(
    args: &CmdArgs,
    cmd: Command,
    in_process: fn(&CmdArgs) -> Result<(), Error>,
) -> Result<(), Error> {
    let t = &args.conf.ipam.plugin_type;
    if is_in_process(t) {
        return in_process(args);
    }
    delegate(t, cmd, args).map(|_| ())
}

/// Go's `invoke.FindInPath`: the first regular file named `plugin` in
/// `dirs`.
pub fn find_in_path(plugin: &str, dirs: &[PathBuf]) -> Result<PathBuf, Error> {
    if plugin.is_empty() {
        return Err(Error::internal("no plugin name provided"));
    }
    if plugin.contains('/') {
        return Err(Error::internal(format!("invalid plugin name: {plugin}")));
    }
    if dirs.is_empty() {
        return Err(Error::internal("no paths provided"));
    }
    for d in dirs {
        let full = d.join(plugin);
        if std::fs::metadata(&full).is_ok_and(|m| m.is_file()) {
            return Ok(full);
        }
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::internal(format!(
        "failed to find plugin {plugin:?} in path [{}]",
        list.join(" ")
    )))
}

/// Run the plugin `plugin` (found in CNI_PATH) for `cmd` with `args`'
/// environment and config; its stdout on success.
pub fn delegate(plugin: &str, cmd: Command, args: &CmdArgs) -> Result<Vec<u8>, Error> {
    let path = find_in_path(plugin, &args.path_dirs())?;
    exec(&path, cmd, args, &args.stdin)
}

/// Run the plugin at `path` as libcni's `RawExec` does: `cmd` in
/// CNI_COMMAND, the other CNI variables from `args`, the rest of the
/// environment inherited, `stdin` on its stdin. Its stderr is passed on
/// (to this process's stderr) when it succeeds; when it fails, its error
/// object is the error (or, when it printed none, a message with its
/// stderr, code 0, as Go's invoke makes it).
pub fn exec(path: &Path, cmd: Command, args: &CmdArgs, stdin: &[u8]) -> Result<Vec<u8>, Error> {
    let mut attempts = 0;
    let mut child = loop {
        let spawned = Process::new(path)
            .env("CNI_COMMAND", cmd.as_str())
            .env("CNI_CONTAINERID", &args.container_id)
            .env("CNI_NETNS", &args.netns)
            .env("CNI_IFNAME", &args.ifname)
            .env("CNI_ARGS", &args.args)
            .env("CNI_PATH", &args.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(c) => break c,
            // A plugin being replaced in place: libcni retries 5 times, a
            // second apart.
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempts < 5 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            Err(e) => {
                return Err(Error::internal(format!(
                    "netplugin failed with no error message: fork/exec {}: {}",
                    path.display(),
                    netns_ipam::go_os_message(&e)
                )))
            }
        }
    };
    // Feed stdin from a thread while this one drains stdout and stderr, so
    // a big config cannot deadlock against a full pipe.
    let input = child.stdin.take();
    let output = std::thread::scope(|s| {
        s.spawn(move || {
            if let Some(mut w) = input {
                // A plugin that exits without reading stdin gives EPIPE.
                let _ = w.write_all(stdin);
            }
        });
        child.wait_with_output()
    })
    .map_err(|e| Error::internal(format!("netplugin failed: {e}")))?;
    if output.status.success() {
        if !output.stderr.is_empty() {
            let _ = std::io::stderr().write_all(&output.stderr);
        }
        return Ok(output.stdout);
    }
    Err(plugin_error(&output.status, &output.stdout, &output.stderr))
}

/// libcni's `pluginErr`.
fn plugin_error(status: &std::process::ExitStatus, stdout: &[u8], stderr: &[u8]) -> Error {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Wire {
        code: u32,
        msg: String,
        details: String,
    }
    use std::os::unix::process::ExitStatusExt;
    let status = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal: {s}"),
        (None, None) => status.to_string(),
    };
    if stdout.is_empty() {
        if stderr.is_empty() {
            return Error::new(
                0,
                format!("netplugin failed with no error message: {status}"),
            );
        }
        return Error::new(
            0,
            format!(
                "netplugin failed: {}",
                netns_ipam::gojson::quote(&String::from_utf8_lossy(stderr))
            ),
        );
    }
    match crate::json::decode::<Wire>(stdout) {
        Ok(w) => Error::new(w.code, w.msg).with_details(w.details),
        Err(e) => Error::new(
            0,
            format!(
                "netplugin failed but error parsing its diagnostic message {}: {e}",
                netns_ipam::gojson::quote(&String::from_utf8_lossy(stdout))
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_in_path_is_gos() {
        let dirs = vec![PathBuf::from("/nonexistent-a"), PathBuf::from("/bin")];
        assert_eq!(
            find_in_path("nope-plugin", &dirs).unwrap_err().msg(),
            "failed to find plugin \"nope-plugin\" in path [/nonexistent-a /bin]"
        );
        assert_eq!(find_in_path("sh", &dirs).unwrap(), PathBuf::from("/bin/sh"));
        assert!(find_in_path("../sh", &dirs).is_err());
        assert!(find_in_path("", &dirs).is_err());
        assert!(find_in_path("sh", &[]).is_err());
        // A directory is not a plugin.
        assert!(find_in_path("bin", &[PathBuf::from("/")]).is_err());
    }
}
