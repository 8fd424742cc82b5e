//! A minimal Multus-like runtime for the walkthrough examples (multinet,
//! pod-netns): what a container runtime and Multus do for one pod's
//! networks, and nothing more. For each attachment it runs
//! the network's plugin as the CNI spec says (the plugin found in CNI_PATH
//! by its `type`; CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
//! CNI_ARGS and CNI_PATH in its environment; the network config on stdin,
//! with `name` and `cniVersion`; the result on stdout), keeps each ADD's
//! result (libcni keeps it in its cache dir; here in memory) and hands it
//! back as `prevResult` to CHECK and DEL, as libcni does.
//!
//! The exec itself is netns-cni's (`netns_cni::ipam::exec`, what the
//! plugins use to delegate to an IPAM plugin: libcni's `RawExec`, its
//! error object decoding included). It runs on a thread inside the node's
//! namespace ([`NetNs::run`]), so the plugin, a child of that thread, has
//! its host side there: the real host's network is never touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netns_cni::{CmdArgs, Command, NetConf};
use netns_core::NetNs;
use serde_json::Value;

use crate::demo::Res;

/// One attachment as the runtime names it: (network, container id,
/// interface), libcni's cache key.
type Key = (String, String, String);

/// The runtime: where the plugins are, where they run, what ADD returned.
pub struct Runtime {
    /// CNI_PATH: the one directory of the plugins.
    plugins: PathBuf,
    /// Where the plugins' host side is.
    node: NetNs,
    /// Each attachment's ADD result, for CHECK and DEL.
    results: BTreeMap<Key, Value>,
}

/// What the runtime attaches: a pod's sandbox and its Multus identity.
pub struct Sandbox<'a> {
    /// CNI_CONTAINERID.
    pub container_id: &'a str,
    /// CNI_NETNS: the pod's network namespace.
    pub netns: &'a Path,
    /// CNI_ARGS, `K=V;K=V`.
    pub args: &'a str,
}

impl Runtime {
    /// A runtime execing the plugins in `plugins` (CNI_PATH) from inside
    /// `node`.
    pub fn new(plugins: PathBuf, node: NetNs) -> Runtime {
        Runtime {
            plugins,
            node,
            results: BTreeMap::new(),
        }
    }

    /// The attachments ADDed and not yet deleted.
    pub fn attachments(&self) -> Vec<Key> {
        self.results.keys().cloned().collect()
    }

    /// ADD `conf` (one plugin's network config) to `ifname` of `sb`: the
    /// plugin's result.
    pub fn add(&mut self, conf: &Value, sb: &Sandbox<'_>, ifname: &str) -> Res<Value> {
        let out = self.invoke(Command::Add, conf, sb, ifname, None)?;
        let result: Value = serde_json::from_slice(&out)
            .map_err(|e| format!("the plugin's result is not JSON ({e})"))?;
        self.results.insert(key(conf, sb, ifname), result.clone());
        Ok(result)
    }

    /// CHECK the attachment against its ADD result.
    pub fn check(&self, conf: &Value, sb: &Sandbox<'_>, ifname: &str) -> Res<()> {
        let prev = self
            .results
            .get(&key(conf, sb, ifname))
            .ok_or("CHECK of an attachment that was never ADDed")?;
        self.invoke(Command::Check, conf, sb, ifname, Some(prev))
            .map(|_| ())
    }

    /// DEL the attachment (with its ADD result, if there is one).
    pub fn del(&mut self, conf: &Value, sb: &Sandbox<'_>, ifname: &str) -> Res<()> {
        let k = key(conf, sb, ifname);
        let prev = self.results.get(&k).cloned();
        self.invoke(Command::Del, conf, sb, ifname, prev.as_ref())?;
        self.results.remove(&k);
        Ok(())
    }

    fn invoke(
        &self,
        cmd: Command,
        conf: &Value,
        sb: &Sandbox<'_>,
        ifname: &str,
        prev: Option<&Value>,
    ) -> Res<Vec<u8>> {
        let ty = conf["type"]
            .as_str()
            .ok_or("a network config without a type")?;
        let plugin = netns_cni::ipam::find_in_path(ty, std::slice::from_ref(&self.plugins))?;
        let mut stdin = conf.clone();
        if let Some(p) = prev {
            stdin["prevResult"] = p.clone();
        }
        let stdin = serde_json::to_vec(&stdin)?;
        let args = CmdArgs {
            command: cmd,
            container_id: sb.container_id.to_owned(),
            netns: sb.netns.display().to_string(),
            ifname: ifname.to_owned(),
            args: sb.args.to_owned(),
            path: self.plugins.display().to_string(),
            netns_override: false,
            stdin: stdin.clone(),
            conf: NetConf::default(),
            version: conf["cniVersion"].as_str().unwrap_or("1.0.0").to_owned(),
        };
        let input = format!(
            "{ty} < {}{}",
            conf["name"].as_str().unwrap_or("?"),
            if prev.is_some() { " (+prevResult)" } else { "" }
        );
        if cmd == Command::Add {
            println!(
                "   $ CNI_COMMAND=ADD CNI_CONTAINERID={} CNI_NETNS={} CNI_IFNAME={ifname} \\\n       \
                 CNI_ARGS='{}' CNI_PATH={} {input}",
                sb.container_id,
                sb.netns.display(),
                sb.args,
                self.plugins.display(),
            );
        } else {
            println!(
                "   $ CNI_COMMAND={} ... CNI_NETNS={} CNI_IFNAME={ifname} ... {input}",
                cmd.as_str(),
                sb.netns.display(),
            );
        }
        let out = self
            .node
            .run(|| netns_cni::ipam::exec(&plugin, cmd, &args, &stdin))?
            .map_err(|e| {
                format!(
                    "{} {} of {} on {ifname}: CNI error {}: {}",
                    ty,
                    cmd.as_str(),
                    conf["name"].as_str().unwrap_or("?"),
                    e.code(),
                    e.msg()
                )
            })?;
        Ok(out)
    }
}

fn key(conf: &Value, sb: &Sandbox<'_>, ifname: &str) -> Key {
    (
        conf["name"].as_str().unwrap_or_default().to_owned(),
        sb.container_id.to_owned(),
        ifname.to_owned(),
    )
}

/// The plugins `needed` (the examples of netns-examples) in the directory
/// the running example was built in (`target/<profile>/examples`); built
/// with cargo first, in that profile, if some are missing and cargo runs
/// the example (`CARGO` set), else an error saying how to build them.
/// `example` is the running example's name, for that message.
pub fn plugins_dir(needed: &[&str], example: &str) -> Res<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("the example's directory")?.to_path_buf();
    let missing = |d: &Path| -> Vec<String> {
        needed
            .iter()
            .filter(|n| !d.join(n).is_file())
            .map(|n| (*n).to_owned())
            .collect()
    };
    let absent = missing(&dir);
    if absent.is_empty() {
        return Ok(dir);
    }
    // target/<profile>/examples: the profile cargo built us with.
    let profile_dir = dir.parent().ok_or("the profile directory")?;
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = profile_dir.parent().ok_or("the target directory")?;
    let mut args: Vec<String> = vec![
        "build".into(),
        "--manifest-path".into(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into(),
        "-p".into(),
        "netns-examples".into(),
        "--examples".into(),
        "--target-dir".into(),
        target.display().to_string(),
    ];
    match profile.as_str() {
        "debug" => {}
        "release" => args.push("--release".into()),
        p => args.extend(["--profile".into(), p.to_owned()]),
    }
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Err(format!(
            "the plugins {absent:?} are missing from {}: build them with \
             `cargo build -p netns-examples --examples` (with --release for a release build), \
             or run this with `cargo run --example {example}`, which does",
            dir.display()
        )
        .into());
    };
    println!("   the plugins {absent:?} are missing: building them");
    println!("   $ {} {}", cargo.to_string_lossy(), args.join(" "));
    let status = std::process::Command::new(&cargo).args(&args).status()?;
    if !status.success() {
        return Err(format!("cargo build of the plugins failed ({status})").into());
    }
    let absent = missing(&dir);
    if !absent.is_empty() {
        return Err(format!(
            "{absent:?} still missing from {} after the build",
            dir.display()
        )
        .into());
    }
    Ok(dir)
}
