//! The plugin skeleton: what Go's `pkg/skel` does around a plugin's
//! callbacks. [`run`] reads the environment and stdin, validates them as
//! skel does (same checks, same codes, same messages), answers VERSION,
//! negotiates the spec version, calls the [`Plugin`] and prints its result
//! in the config's version, or the error object, on stdout.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;

use serde::de::DeserializeOwned;

use crate::args::CniArgs;
use crate::conf::{Attachment, GcConf, NetConf};
use crate::error::{code, Error};
use crate::json;
use crate::result::CniResult;
use crate::version;

/// The CNI command (`CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// ADD: attach the container.
    Add,
    /// DEL: detach it (idempotent).
    Del,
    /// CHECK: verify the attachment against `prevResult`.
    Check,
    /// GC (1.1): release what no attachment in `cni.dev/valid-attachments`
    /// uses.
    Gc,
    /// STATUS (1.1): whether the plugin can serve ADD.
    Status,
    /// VERSION: the spec versions the plugin speaks.
    Version,
}

impl Command {
    fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            "VERSION" => Command::Version,
            _ => return None,
        })
    }

    /// The command's name as CNI_COMMAND spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Gc => "GC",
            Command::Status => "STATUS",
            Command::Version => "VERSION",
        }
    }

    /// ADD, DEL and CHECK are about one attachment (container + ifname).
    fn per_attachment(self) -> bool {
        matches!(self, Command::Add | Command::Del | Command::Check)
    }
}

/// Everything a plugin's callback gets: the environment, validated, and
/// the config from stdin.
#[derive(Debug, Clone)]
pub struct CmdArgs {
    /// The command.
    pub command: Command,
    /// `CNI_CONTAINERID` ("" for GC and STATUS).
    pub container_id: String,
    /// `CNI_NETNS`: the container's network namespace path ("" when the
    /// runtime gave none, which DEL must accept).
    pub netns: String,
    /// `CNI_IFNAME` ("" for GC and STATUS).
    pub ifname: String,
    /// `CNI_ARGS`, raw (read it with [`CmdArgs::cni_args`]).
    pub args: String,
    /// `CNI_PATH`, raw (`:`-separated).
    pub path: String,
    /// `CNI_NETNS_OVERRIDE` is `1` or `true`: a CNI_NETNS that is the
    /// plugin's own namespace is allowed.
    pub netns_override: bool,
    /// The config, as read from stdin.
    pub stdin: Vec<u8>,
    /// The config's shared keys.
    pub conf: NetConf,
    /// The spec version in force: the config's `cniVersion`, or 0.1.0.
    pub version: String,
}

impl CmdArgs {
    /// The plugin's own view of the config: its keys read into `T` with
    /// Go's rules ([`crate::json::decode`]). A config that does not fit
    /// `T` is code 999 with `failed to load netconf: ...`, as the
    /// reference plugins report it.
    pub fn plugin_conf<T: DeserializeOwned>(&self) -> Result<T, Error> {
        json::decode(&self.stdin)
            .map_err(|e| Error::internal(format!("failed to load netconf: {e}")))
    }

    /// CNI_ARGS with the keys the plugin knows (see [`CniArgs::load`]).
    pub fn cni_args(&self, known: &[&str]) -> Result<CniArgs, Error> {
        CniArgs::load(&self.args, known)
    }

    /// `CNI_PATH` split into directories (empty entries dropped).
    pub fn path_dirs(&self) -> Vec<PathBuf> {
        self.path
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect()
    }

    /// `prevResult`, read as the config's version (Go's
    /// `version.ParsePrevResult`), converted to 1.1. `None` when the config
    /// has none.
    pub fn prev_result(&self) -> Result<Option<CniResult>, Error> {
        match &self.conf.prev_result {
            None => Ok(None),
            Some(v) => CniResult::from_value(v, &self.version)
                .map(Some)
                .map_err(|e| e.context("could not parse prevResult")),
        }
    }

    /// The container's namespace (CNI_NETNS), for ADD and CHECK: a path
    /// that cannot be opened as a network namespace is an error, worded as
    /// the reference plugins word it.
    pub fn open_netns(&self) -> Result<netns_core::NetNs, Error> {
        netns_core::NetNs::open(&self.netns)
            .map_err(|e| Error::internal(format!("failed to open netns {:?}: {e}", self.netns)))
    }

    /// The container's namespace for DEL, which must succeed when it is
    /// gone: `None` when CNI_NETNS is empty (as containerd sends it), names
    /// nothing (the namespace was removed already), or names an empty
    /// regular file on a filesystem other than nsfs: the mount point of a namespace
    /// that was unmounted and not removed (a runtime or `ip netns del`
    /// stopped between umount and unlink, a netns directory on disk after
    /// a reboot, a non-recursive bind of the directory that lost its nsfs
    /// mounts), through which no namespace can be reached any more (the
    /// reference plugins fail there, and the pod's DEL is retried forever:
    /// openshift/sriov-cni#188). An error for a path that exists and is
    /// another kind of namespace or file, or cannot be opened.
    pub fn open_netns_if_present(&self) -> Result<Option<netns_core::NetNs>, Error> {
        if self.netns.is_empty() {
            return Ok(None);
        }
        match netns_core::NetNs::open(&self.netns) {
            Ok(ns) => Ok(Some(ns)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) if e.is_invalid_argument() && is_unmounted_netns_file(&self.netns) => Ok(None),
            Err(e) => Err(Error::internal(format!(
                "failed to open netns {:?}: {e}",
                self.netns
            ))),
        }
    }

    /// GC's `cni.dev/valid-attachments`.
    pub fn valid_attachments(&self) -> Result<Vec<Attachment>, Error> {
        let gc: GcConf = json::decode(&self.stdin).map_err(|e| {
            Error::new(
                code::DECODING_FAILURE,
                format!("error unmarshall network config: {e}"),
            )
        })?;
        Ok(gc.valid.into_iter().flatten().collect())
    }
}

/// Whether `path` is an empty regular file on a filesystem other than
/// nsfs, as a namespace's mount point is once unmounted (see
/// [`CmdArgs::open_netns_if_present`]). A namespace's bind mount is on
/// nsfs, so this is false for every path a namespace can be reached by;
/// a file with content (`/etc/passwd`) is no mount point: still an error.
fn is_unmounted_netns_file(path: &str) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: an all-zero statfs is a valid value for the out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a writable statfs, both
    // alive for the call.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    meta.is_file() && meta.len() == 0 && rc == 0 && st.f_type != libc::NSFS_MAGIC
}

/// A CNI plugin: the callbacks [`run`] calls. Errors are printed as the
/// spec's error object, results in the config's version.
pub trait Plugin {
    /// The line printed on stderr when the plugin is run without
    /// CNI_COMMAND (`CNI bridge plugin v1.1.1`).
    fn about(&self) -> String;

    /// The spec versions the plugin speaks (VERSION's
    /// `supportedVersions`; a config of another version is refused with
    /// code 1).
    fn supported_versions(&self) -> &'static [&'static str] {
        version::SUPPORTED
    }

    /// Whether the plugin works in CNI_NETNS: then an ADD or DEL whose
    /// CNI_NETNS is the plugin's own namespace is refused with code 8
    /// before anything is done (Go's skel checks after the callback ran),
    /// unless CNI_NETNS_OVERRIDE is set. IPAM plugins say no.
    fn uses_netns(&self) -> bool {
        true
    }

    /// ADD.
    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error>;

    /// DEL: must succeed when what it would remove is already gone.
    fn del(&self, args: &CmdArgs) -> Result<(), Error>;

    /// CHECK.
    fn check(&self, args: &CmdArgs) -> Result<(), Error>;

    /// GC. The default does nothing.
    fn gc(&self, _args: &CmdArgs) -> Result<(), Error> {
        Ok(())
    }

    /// STATUS. The default says ready.
    fn status(&self, _args: &CmdArgs) -> Result<(), Error> {
        Ok(())
    }
}

/// The CNI variables, in skel's order.
const CNI_VARS: [&str; 7] = [
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
    "CNI_NETNS_OVERRIDE",
];

/// Run `plugin` as a process's main does: environment, stdin and stdout of
/// the process; exits with the status ([`run_with`]).
pub fn run(plugin: &dyn Plugin) -> ! {
    let get = |k: &str| std::env::var_os(k);
    let code = run_with(
        plugin,
        &get,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code)
}

/// Run `plugin` with an environment getter and streams of the caller's:
/// returns the exit status (0, or 1 after an error object was printed).
/// A panic in the plugin is caught and reported as code 999.
pub fn run_with(
    plugin: &dyn Plugin,
    get: &dyn Fn(&str) -> Option<OsString>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let mut version = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        main_inner(plugin, get, stdin, stdout, stderr, &mut version)
    }));
    let outcome = outcome.unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::internal(format!("plugin panicked: {what}")))
    });
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            let _ = stdout.write_all(e.to_json(version.as_deref()).as_bytes());
            let _ = stdout.flush();
            1
        }
    }
}

fn main_inner(
    plugin: &dyn Plugin,
    get: &dyn Fn(&str) -> Option<OsString>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    version_out: &mut Option<String>,
) -> Result<(), Error> {
    let vars = text_env(get)?;
    let var = |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let command = var("CNI_COMMAND");
    if let Err(e) = required(&command, &var) {
        if command.is_empty() {
            let _ = writeln!(stderr, "{}", plugin.about());
            let _ = writeln!(
                stderr,
                "CNI protocol versions supported: {}",
                plugin.supported_versions().join(", ")
            );
            return Ok(());
        }
        return Err(e);
    }
    let mut input = Vec::new();
    if command != "VERSION" {
        stdin
            .read_to_end(&mut input)
            .map_err(|e| Error::new(code::IO_FAILURE, format!("error reading from stdin: {e}")))?;
    }
    if command != "VERSION" {
        let args = validate(plugin, &command, &var, input)?;
        *version_out = Some(args.version.clone());
        return call(plugin, &args, stdout);
    }
    #[derive(serde::Serialize)]
    struct VersionInfo<'a> {
        #[serde(rename = "cniVersion")]
        cni_version: &'a str,
        #[serde(rename = "supportedVersions")]
        supported: &'a [&'a str],
    }
    let text = json::to_string_pretty(&VersionInfo {
        cni_version: version::CURRENT,
        supported: plugin.supported_versions(),
    });
    stdout
        .write_all(text.as_bytes())
        .map_err(|e| Error::new(code::IO_FAILURE, e.to_string()))
}

/// The CNI variables as text; a value that is not UTF-8 is refused naming
/// it (code 4), never taken for absent.
fn text_env(get: &dyn Fn(&str) -> Option<OsString>) -> Result<Vec<(&'static str, String)>, Error> {
    let mut out = Vec::new();
    for k in CNI_VARS {
        if let Some(v) = get(k) {
            let v = v.into_string().map_err(|raw| {
                Error::new(
                    code::INVALID_ENVIRONMENT,
                    format!("environment variable {k} is not valid UTF-8: {raw:?}"),
                )
            })?;
            out.push((k, v));
        }
    }
    Ok(out)
}

/// skel's check for missing variables.
fn required(command: &str, var: &dyn Fn(&str) -> String) -> Result<(), Error> {
    let needed: &[&str] = match command {
        "ADD" | "CHECK" => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
        "DEL" => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
        "GC" | "STATUS" => &["CNI_PATH"],
        _ => &[],
    };
    let mut missing: Vec<&str> = Vec::new();
    if command.is_empty() {
        missing.push("CNI_COMMAND");
    }
    missing.extend(needed.iter().filter(|k| var(k).is_empty()));
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        code::INVALID_ENVIRONMENT,
        format!("required env variables [{}] missing", missing.join(",")),
    ))
}

/// What skel's `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$` accepts.
pub(crate) fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// skel's `ValidateInterfaceName`.
pub fn validate_ifname(n: &str) -> Result<(), Error> {
    let env = code::INVALID_ENVIRONMENT;
    if n.is_empty() {
        return Err(Error::new(env, "interface name is empty"));
    }
    if n.len() > 15 {
        return Err(Error::new(env, "interface name is too long")
            .with_details("interface name should be less than 16 characters"));
    }
    if n == "." || n == ".." {
        return Err(Error::new(env, "interface name is . or .."));
    }
    if n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(Error::new(
            env,
            "interface name contains / or : or whitespace characters",
        ));
    }
    Ok(())
}

/// Validate what skel validates, in its order, and build the arguments.
fn validate(
    plugin: &dyn Plugin,
    command: &str,
    var: &dyn Fn(&str) -> String,
    stdin: Vec<u8>,
) -> Result<CmdArgs, Error> {
    // skel reads only the name and the version (code 6 when they do not
    // fit); the other shared keys (`ipam`, `dns`, `capabilities`,
    // `prevResult`...) are the plugin's to read, and the reference
    // plugins' `loadNetConf` refuses a wrong type there with code 999.
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Head {
        #[serde(rename = "cniVersion")]
        cni_version: String,
        name: String,
    }
    let conf: Head = json::decode(&stdin).map_err(|e| {
        Error::new(
            code::DECODING_FAILURE,
            format!("error unmarshall network config: {e}"),
        )
    })?;
    if conf.name.is_empty() {
        return Err(Error::new(
            code::INVALID_NETWORK_CONFIG,
            "missing network name",
        ));
    }
    if !valid_name(&conf.name) {
        return Err(Error::new(
            code::INVALID_NETWORK_CONFIG,
            "invalid characters found in network name",
        )
        .with_details(conf.name));
    }
    let cmd = Command::parse(command);
    let container_id = var("CNI_CONTAINERID");
    let ifname = var("CNI_IFNAME");
    if cmd.is_some_and(Command::per_attachment) {
        if container_id.is_empty() {
            return Err(Error::new(code::UNKNOWN_CONTAINER, "missing containerID"));
        }
        if !valid_name(&container_id) {
            return Err(Error::new(
                code::INVALID_ENVIRONMENT,
                "invalid characters in containerID",
            )
            .with_details(container_id));
        }
        validate_ifname(&ifname)?;
    }
    let Some(cmd) = cmd else {
        return Err(Error::new(
            code::INVALID_ENVIRONMENT,
            format!("unknown CNI_COMMAND: {command}"),
        ));
    };
    let v = if conf.cni_version.is_empty() {
        version::DEFAULT.to_string()
    } else {
        conf.cni_version.clone()
    };
    let supported = plugin.supported_versions();
    let min = match cmd {
        Command::Check => Some("0.4.0"),
        Command::Gc | Command::Status => Some("1.1.0"),
        _ => None,
    };
    if let Some(min) = min {
        let decoding = |e: String| Error::new(code::DECODING_FAILURE, e);
        let what = cmd.as_str();
        if !version::at_least(&v, min).map_err(decoding)? {
            return Err(Error::new(
                code::INCOMPATIBLE_VERSION,
                format!("config version does not allow {what}"),
            ));
        }
        let mut plugin_allows = false;
        for p in supported {
            if version::at_least(p, &v).map_err(decoding)? {
                plugin_allows = true;
                break;
            }
        }
        if !plugin_allows {
            return Err(Error::new(
                code::INCOMPATIBLE_VERSION,
                format!("plugin version does not allow {what}"),
            ));
        }
    }
    if !supported.contains(&v.as_str()) {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        return Err(
            Error::new(code::INCOMPATIBLE_VERSION, "incompatible CNI versions").with_details(
                format!("config is {v:?}, plugin supports [{}]", list.join(" ")),
            ),
        );
    }
    let conf: NetConf = json::decode(&stdin)
        .map_err(|e| Error::internal(format!("failed to load netconf: {e}")))?;
    let over = var("CNI_NETNS_OVERRIDE");
    Ok(CmdArgs {
        command: cmd,
        container_id,
        netns: var("CNI_NETNS"),
        ifname,
        args: var("CNI_ARGS"),
        path: var("CNI_PATH"),
        netns_override: over == "1" || over.eq_ignore_ascii_case("true"),
        stdin,
        conf,
        version: v,
    })
}

/// Whether `path` is the namespace the plugin runs in (skel's
/// `CheckNetNS`); a path that cannot be opened is not.
fn is_own_netns(path: &str) -> bool {
    let (Ok(theirs), Ok(ours)) = (netns_core::NetNs::open(path), netns_core::NetNs::current())
    else {
        return false;
    };
    theirs.is_same(&ours)
}

fn call(plugin: &dyn Plugin, args: &CmdArgs, stdout: &mut dyn Write) -> Result<(), Error> {
    if matches!(args.command, Command::Add | Command::Del)
        && plugin.uses_netns()
        && !args.netns_override
        && !args.netns.is_empty()
        && is_own_netns(&args.netns)
    {
        return Err(Error::new(
            code::INVALID_NETNS,
            "plugin's netns and netns from CNI_NETNS should not be the same",
        ));
    }
    match args.command {
        Command::Add => {
            let result = plugin.add(args)?;
            let text = result.to_json(&args.version)?;
            // No trailing newline, as the Go plugins print.
            stdout
                .write_all(text.as_bytes())
                .map_err(|e| Error::new(code::IO_FAILURE, e.to_string()))
        }
        Command::Del => plugin.del(args),
        Command::Check => plugin.check(args),
        Command::Gc => plugin.gc(args),
        Command::Status => plugin.status(args),
        Command::Version => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Echo;
    impl Plugin for Echo {
        fn about(&self) -> String {
            "CNI echo plugin".into()
        }
        fn uses_netns(&self) -> bool {
            false
        }
        fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
            if args.conf.plugin_type == "panic" {
                panic!("boom");
            }
            // A chained plugin: what came before it, passed on.
            if let Some(prev) = args.prev_result()? {
                return Ok(prev);
            }
            let mut r = CniResult::new();
            r.ips.push(crate::IpConfig {
                interface: None,
                address: "10.0.0.2/24".parse().map_err(Error::internal)?,
                gateway: None,
            });
            Ok(r)
        }
        fn del(&self, _: &CmdArgs) -> Result<(), Error> {
            Ok(())
        }
        fn check(&self, _: &CmdArgs) -> Result<(), Error> {
            Err(Error::new(code::INTERNAL, "checked"))
        }
    }

    fn run_env(env: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
        let map: HashMap<String, OsString> = env
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let get = |k: &str| map.get(k).cloned();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = run_with(&Echo, &get, &mut stdin.as_bytes(), &mut out, &mut err);
        (
            rc,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    fn add_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/opt/cni/bin"),
        ]
    }

    fn err_of(out: &str) -> (u64, String) {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        (
            v["code"].as_u64().unwrap(),
            v["msg"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn add_prints_the_result_in_the_configs_version() {
        let (rc, out, _) = run_env(
            &add_env(),
            r#"{"cniVersion":"0.3.1","name":"n","type":"echo"}"#,
        );
        assert_eq!(rc, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["cniVersion"], "0.3.1");
        assert_eq!(v["ips"][0]["version"], "4");
    }

    #[test]
    fn skel_checks_in_skels_order_with_its_codes() {
        let conf = r#"{"cniVersion":"1.0.0","name":"n"}"#;
        let (rc, _, err) = run_env(&[], conf);
        assert_eq!(rc, 0);
        assert!(err.starts_with("CNI echo plugin\nCNI protocol versions supported: 0.1.0,"));
        let (rc, out, _) = run_env(&[("CNI_COMMAND", "ADD")], conf);
        assert_eq!(rc, 1);
        assert_eq!(
            err_of(&out),
            (
                4,
                "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing"
                    .into()
            )
        );
        let mut env = add_env();
        env[1].1 = "bad/id";
        assert_eq!(err_of(&run_env(&env, conf).1).0, 4);
        let mut env = add_env();
        env[3].1 = "eth0:1";
        assert_eq!(err_of(&run_env(&env, conf).1).0, 4);
        assert_eq!(err_of(&run_env(&add_env(), "{").1).0, 6);
        assert_eq!(
            err_of(&run_env(&add_env(), "{}").1),
            (7, "missing network name".into())
        );
        assert_eq!(err_of(&run_env(&add_env(), r#"{"name":"a b"}"#).1).0, 7);
        // skel reads the name and the version: a wrong type there is 6; in
        // the other shared keys, the reference plugins' loadNetConf's 999.
        assert_eq!(err_of(&run_env(&add_env(), r#"{"name":5}"#).1).0, 6);
        assert_eq!(
            err_of(&run_env(&add_env(), r#"{"name":"n","cniVersion":1}"#).1).0,
            6
        );
        for bad in [r#""ipam":"x""#, r#""dns":5"#, r#""capabilities":[]"#] {
            let (code, msg) = err_of(&run_env(&add_env(), &format!(r#"{{"name":"n",{bad}}}"#)).1);
            assert_eq!(code, 999, "{bad}: {msg}");
            assert!(msg.starts_with("failed to load netconf: "), "{bad}: {msg}");
        }
        let (_, out, _) = run_env(&add_env(), r#"{"cniVersion":"9.9.9","name":"n"}"#);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["code"], 1);
        assert!(v["details"]
            .as_str()
            .unwrap()
            .starts_with(r#"config is "9.9.9", plugin supports ["0.1.0""#));
        let mut env = add_env();
        env[0].1 = "FROB";
        assert_eq!(
            err_of(&run_env(&env, conf).1),
            (4, "unknown CNI_COMMAND: FROB".into())
        );
        let mut env = add_env();
        env[0].1 = "CHECK";
        let (_, out, _) = run_env(&env, r#"{"cniVersion":"0.3.1","name":"n"}"#);
        assert_eq!(
            err_of(&out),
            (1, "config version does not allow CHECK".into())
        );
        let (_, out, _) = run_env(&env, conf);
        assert_eq!(err_of(&out), (999, "checked".into()));
        let gc = [("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")];
        let (_, out, _) = run_env(&gc, conf);
        assert_eq!(err_of(&out), (1, "config version does not allow GC".into()));
        let (rc, out, _) = run_env(&gc, r#"{"cniVersion":"1.1.0","name":"n"}"#);
        assert_eq!((rc, out.as_str()), (0, ""));
    }

    #[test]
    fn a_chained_plugin_passes_prev_result_on_in_the_configs_version() {
        let conf = r#"{"cniVersion":"0.4.0","name":"n","type":"tuning","prevResult":{
            "cniVersion":"0.4.0",
            "interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/run/netns/x"}],
            "ips":[{"version":"4","interface":0,"address":"10.0.0.2/24","gateway":"10.0.0.1"}],
            "routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.0.0.53"]}}}"#;
        let (rc, out, _) = run_env(&add_env(), conf);
        assert_eq!(rc, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let prev: serde_json::Value = serde_json::from_str(conf).unwrap();
        assert_eq!(v, prev["prevResult"]);
        // A prevResult of another version than the config is refused.
        let at = conf.rfind(r#""cniVersion":"0.4.0""#).unwrap();
        let bad = format!(
            "{}{}{}",
            &conf[..at],
            r#""cniVersion":"1.0.0""#,
            &conf[at + r#""cniVersion":"0.4.0""#.len()..]
        );
        let (rc, out, _) = run_env(&add_env(), &bad);
        assert_eq!(rc, 1);
        let (code, msg) = err_of(&out);
        assert_eq!(code, 999);
        assert!(
            msg.starts_with("could not parse prevResult: result type supports"),
            "{msg}"
        );
    }

    #[test]
    fn version_ignores_stdin_and_answers_current() {
        let (rc, out, _) = run_env(&[("CNI_COMMAND", "VERSION")], "garbage");
        assert_eq!(rc, 0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["cniVersion"], "1.1.0");
        assert_eq!(v["supportedVersions"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn not_utf8_is_refused_naming_the_variable() {
        use std::os::unix::ffi::OsStringExt;
        let get = |k: &str| match k {
            "CNI_COMMAND" => Some(OsString::from("ADD")),
            "CNI_IFNAME" => Some(OsString::from_vec(b"eth\xff".to_vec())),
            _ => None,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = run_with(&Echo, &get, &mut &b""[..], &mut out, &mut err);
        assert_eq!(rc, 1);
        let (code, msg) = err_of(&String::from_utf8_lossy(&out));
        assert_eq!(code, 4);
        assert!(msg.contains("CNI_IFNAME"), "{msg}");
    }

    #[test]
    fn a_panic_is_an_error_object() {
        let (rc, out, _) = run_env(
            &add_env(),
            r#"{"cniVersion":"1.0.0","name":"n","type":"panic"}"#,
        );
        assert_eq!(rc, 1);
        let (code, msg) = err_of(&out);
        assert_eq!(code, 999);
        assert!(msg.contains("boom"), "{msg}");
    }
}
