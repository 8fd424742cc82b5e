//! A minimal Multus-like runtime: what a container runtime and Multus do
//! for one pod's networks, and nothing more. For each attachment it runs
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

use crate::Res;

/// One attachment as the runtime names it: (network, container id,
/// interface), libcni's cache key.
type Key = (String, String, String);

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
    pub container_id: &'a str,
    pub netns: &'a Path,
    /// CNI_ARGS, `K=V;K=V`.
    pub args: &'a str,
}

impl Runtime {
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
