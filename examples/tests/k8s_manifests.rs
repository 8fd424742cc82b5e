//! The Kubernetes manifests of examples/k8s/ (issue 13), checked so that
//! they cannot rot. Every manifest file under examples/k8s/ (the directory
//! is walked: a new `.yaml`, `.yml` or `.json` file is picked up) and every
//! YAML document in it:
//!
//! - parses (YAML 1.2, yaml-rust2), with no plain scalar that YAML 1.1,
//!   which kubectl and the API server read (sigs.k8s.io/yaml), would read
//!   differently (`yes`, `on`, `0755`, `1:30`: quote them), and names its
//!   `apiVersion`, `kind`, `metadata.name`, a namespace for namespaced
//!   kinds (one that the manifests create, or `kube-system`), once;
//! - every NetworkAttachmentDefinition's `spec.config` is a CNI config
//!   (one plugin, or a conflist whose plugins get the list's `name` and
//!   `cniVersion` as libcni gives them) whose plugins each pass the
//!   plugin's own config parser, the code the plugin runs on the node
//!   (compiled in here from the plugin's `conf.rs`, as tests/bridge_conf.rs
//!   does: `conf::parse` of netns-vlan, netns-ipvlan, netns-macvlan and
//!   make-net, the
//!   checks that need no kernel; `conf::load` of netns-bridge and
//!   netns-portmap, which need none), with the CNI_ARGS Multus passes; and
//!   whose `ipam` passes netns-ipam's host-local parser
//!   (`netns_ipam::json::parse_ipam_config`, what netns-host-local and the
//!   plugins' in-process IPAM run). A plugin or IPAM type with no parser
//!   here fails; NADs that share a CNI `name` (one allocation directory on
//!   a node) have the same `ipam`;
//! - every Pod's `k8s.v1.cni.cncf.io/networks` annotation parses as Multus
//!   parses it (the JSON list, or the comma-separated short form), names
//!   NADs that the manifests define, and gives valid, distinct interface
//!   names (`netns_cni::validate_ifname`, not eth0);
//! - every Pod selecting a NAD with make-net (issue 14) mounts, as a
//!   hostPath volume at /run/netns/NAME in a container, exactly the
//!   namespace make-net makes for that pod (`nsDir`/`netid` from make-net's
//!   own `conf::parse` with that pod's CNI_ARGS); a netid the pod's UID
//!   goes into cannot be written in a manifest and is refused; a hostPath
//!   in such a nsDir that is not the pod's namespace is refused; a
//!   container's `ip netns exec NAME` names one of its mounts;
//! - the installer DaemonSet's `NETNS_PLUGINS` holds every plugin and IPAM
//!   type the NADs use, each an `[[example]]` of examples/Cargo.toml and
//!   each copied by examples/k8s/Containerfile into the init container's
//!   `NETNS_SRC`; `NETNS_DEST` is the hostPath /opt/cni/bin; the DaemonSet
//!   tolerates control-plane nodes; and its install script, run here with
//!   `sh` on temporary directories, installs each plugin through a rename,
//!   leaves up-to-date ones alone and installs nothing when one is missing.
//!
//! The negative tests feed the same checks the real manifests with one
//! thing broken (a VLAN id of 4095, an unknown macvlan mode, no master, a
//! range outside its subnet, a NAD that does not exist...) and check the
//! problem is found, with the plugin's own message where a plugin's parser
//! found it: the checks can fail.

#[allow(dead_code)]
#[path = "../netns-bridge/conf.rs"]
mod bridge_conf;
#[allow(dead_code)]
#[path = "../netns-ipvlan/conf.rs"]
mod ipvlan_conf;
#[allow(dead_code)]
#[path = "../netns-macvlan/conf.rs"]
mod macvlan_conf;
#[allow(dead_code)]
#[path = "../make-net/conf.rs"]
mod make_net_conf;
#[allow(dead_code)]
#[path = "../netns-portmap/conf.rs"]
mod portmap_conf;
#[allow(dead_code)]
#[path = "../netns-vlan/conf.rs"]
mod vlan_conf;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use netns_cni::{CmdArgs, Command, NetConf};
use netns_testutil::TempDir;
use serde_json::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Yaml, YamlLoader};

netns_testutil::host_only!("parses the Kubernetes manifests; no kernel involved");

const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";
const NAD_API_VERSION: &str = "k8s.cni.cncf.io/v1";
const NAD_KIND: &str = "NetworkAttachmentDefinition";

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn k8s_dir() -> PathBuf {
    examples_dir().join("k8s")
}

// ---------------------------------------------------------------------
// Reading the manifests.

/// One YAML document of one manifest file, as JSON (what the API server
/// stores).
#[derive(Clone, Debug)]
struct Doc {
    file: String,
    index: usize,
    v: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.v["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.v["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn namespace(&self) -> Option<&str> {
        self.v["metadata"]["namespace"].as_str()
    }

    fn what(&self) -> String {
        let ns = self
            .namespace()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!(
            "{}, document {} ({} {ns}{})",
            self.file,
            self.index + 1,
            self.kind(),
            self.name()
        )
    }
}

/// The manifests and the files they are checked against.
#[derive(Clone, Debug)]
struct Manifests {
    /// (path under examples/k8s/, text), sorted by path.
    files: Vec<(String, String)>,
    /// examples/k8s/Containerfile.
    containerfile: String,
    /// The `[[example]]` names of examples/Cargo.toml.
    examples: BTreeSet<String>,
}

fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, root, out);
        } else if is_manifest(&p) {
            let text =
                fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            let rel = p.strip_prefix(root).expect("under the root");
            out.push((rel.display().to_string(), text));
        }
    }
}

/// `[[example]]` names, read from the manifest's own lines (`name = "x"`
/// in an `[[example]]` table).
fn cargo_examples(toml: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_example = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_example = line == "[[example]]";
        } else if in_example {
            if let Some(v) = line.strip_prefix("name") {
                let v = v.trim_start().trim_start_matches('=').trim();
                out.insert(v.trim_matches('"').to_string());
            }
        }
    }
    out
}

impl Manifests {
    fn read() -> Manifests {
        let mut files = Vec::new();
        walk(&k8s_dir(), &k8s_dir(), &mut files);
        let containerfile =
            fs::read_to_string(k8s_dir().join("Containerfile")).expect("read k8s/Containerfile");
        let toml = fs::read_to_string(examples_dir().join("Cargo.toml")).expect("Cargo.toml");
        Manifests {
            files,
            containerfile,
            examples: cargo_examples(&toml),
        }
    }

    /// The manifests with `from` replaced by `to` in `file`, where it
    /// occurs exactly once (so that a test breaks what it means to).
    fn with(&self, file: &str, from: &str, to: &str) -> Manifests {
        let mut m = self.clone();
        let (_, text) = m
            .files
            .iter_mut()
            .find(|(f, _)| f == file)
            .unwrap_or_else(|| panic!("no manifest {file}"));
        assert_eq!(text.matches(from).count(), 1, "{from:?} once in {file}");
        *text = text.replacen(from, to, 1);
        m
    }

    /// The manifests with one more file.
    fn plus(&self, file: &str, text: &str) -> Manifests {
        let mut m = self.clone();
        m.files.push((file.to_string(), text.to_string()));
        m
    }
}

/// Plain scalars that YAML 1.1 (kubectl's reader) and YAML 1.2 (this
/// test's) read differently.
#[derive(Default)]
struct Yaml11Traps {
    found: Vec<(String, usize)>,
}

fn yaml11_differs(s: &str) -> bool {
    const BOOLS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    let digits = s.trim_start_matches(['-', '+']);
    let octal = digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let sexagesimal = digits.contains(':')
        && digits
            .split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'_'));
    BOOLS.contains(&s) || octal || sexagesimal
}

impl MarkedEventReceiver for Yaml11Traps {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if let Event::Scalar(v, TScalarStyle::Plain, _, None) = ev {
            if yaml11_differs(&v) {
                self.found.push((v, mark.line()));
            }
        }
    }
}

fn yaml_to_json(y: &Yaml, at: &str) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => {
            let f: f64 = r.parse().map_err(|_| format!("{at}: real {r:?}"))?;
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| format!("{at}: {r:?} is not a JSON number"))?
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, y)| yaml_to_json(y, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(h) => {
            let mut o = serde_json::Map::new();
            for (k, v) in h {
                let Yaml::String(k) = k else {
                    return Err(format!("{at}: a key that is not a string: {k:?}"));
                };
                o.insert(k.clone(), yaml_to_json(v, &format!("{at}.{k}"))?);
            }
            Value::Object(o)
        }
        Yaml::Alias(_) => return Err(format!("{at}: an alias (keep manifests alias-free)")),
        Yaml::BadValue => return Err(format!("{at}: a value YAML could not read")),
    })
}

/// Kinds the manifests may use that have no namespace.
const CLUSTER_KINDS: &[&str] = &["Namespace", "ClusterRole", "ClusterRoleBinding"];

/// Every document of every file, with the problems found reading them.
fn docs(m: &Manifests, problems: &mut Vec<String>) -> Vec<Doc> {
    let mut out = Vec::new();
    for (file, text) in &m.files {
        let yamls = match YamlLoader::load_from_str(text) {
            Ok(y) => y,
            Err(e) => {
                problems.push(format!("{file}: not YAML: {e}"));
                continue;
            }
        };
        let mut traps = Yaml11Traps::default();
        if let Err(e) = Parser::new_from_str(text).load(&mut traps, true) {
            problems.push(format!("{file}: not YAML: {e}"));
        }
        for (v, line) in traps.found {
            problems.push(format!(
                "{file}:{line}: plain {v:?} reads differently in YAML 1.1 (kubectl) and 1.2: quote it"
            ));
        }
        if yamls.iter().all(Yaml::is_null) {
            problems.push(format!("{file}: no document"));
        }
        for (index, y) in yamls.iter().enumerate() {
            if y.is_null() {
                continue; // an empty document (a trailing `---`)
            }
            let v = match yaml_to_json(y, "") {
                Ok(v) => v,
                Err(e) => {
                    problems.push(format!("{file}, document {}: {e}", index + 1));
                    continue;
                }
            };
            out.push(Doc {
                file: file.clone(),
                index,
                v,
            });
        }
    }
    let mut seen = BTreeMap::new();
    for d in &out {
        for key in ["apiVersion", "kind"] {
            if d.v[key].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{}: no {key}", d.what()));
            }
        }
        if d.name().is_empty() {
            problems.push(format!("{}: no metadata.name", d.what()));
        }
        if !CLUSTER_KINDS.contains(&d.kind()) && d.namespace().is_none() {
            problems.push(format!(
                "{}: no metadata.namespace (say where it goes)",
                d.what()
            ));
        }
        let id = (d.kind().to_string(), d.namespace(), d.name().to_string());
        if let Some(first) = seen.insert(id, d.what()) {
            problems.push(format!("{}: defined twice (first in {first})", d.what()));
        }
    }
    let namespaces: BTreeSet<&str> = out
        .iter()
        .filter(|d| d.kind() == "Namespace")
        .map(Doc::name)
        .chain(["kube-system"])
        .collect();
    for d in &out {
        if let Some(ns) = d.namespace() {
            if !namespaces.contains(ns) {
                problems.push(format!(
                    "{}: namespace {ns} is not one the manifests create",
                    d.what()
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------
// The CNI configs of the NetworkAttachmentDefinitions.

/// skel's `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$` for network names.
fn valid_network_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The CNI_ARGS Multus gives a delegate.
fn multus_cni_args(pod_ns: &str, pod: &str) -> String {
    format!(
        "IgnoreUnknown=true;K8S_POD_NAMESPACE={pod_ns};K8S_POD_NAME={pod};\
         K8S_POD_INFRA_CONTAINER_ID=0123456789abcdef;K8S_POD_UID=00000000-0000-0000-0000-000000000000"
    )
}

/// The arguments of an ADD with this plugin config on stdin, as the
/// plugin's skeleton builds them from the environment Multus (through
/// libcni) gives it; the checks skel makes of the config are made here.
fn cmd_args(config: &[u8], ifname: &str, cni_args: &str) -> Result<CmdArgs, String> {
    let conf: NetConf = netns_cni::json::decode(config)
        .map_err(|e| format!("error unmarshall network config: {e}"))?;
    if conf.name.is_empty() {
        return Err("missing network name".into());
    }
    if !valid_network_name(&conf.name) {
        return Err(format!(
            "invalid characters found in network name {:?}",
            conf.name
        ));
    }
    if conf.cni_version.is_empty() {
        return Err("no cniVersion (it would mean 0.1.0)".into());
    }
    if !netns_cni::version::SUPPORTED.contains(&conf.cni_version.as_str()) {
        return Err(format!(
            "cniVersion {:?} is not one the plugins speak",
            conf.cni_version
        ));
    }
    Ok(CmdArgs {
        command: Command::Add,
        container_id: "0123456789abcdef".into(),
        netns: "/var/run/netns/cni-00000000-0000-0000-0000-000000000000".into(),
        ifname: ifname.into(),
        args: cni_args.into(),
        path: "/opt/cni/bin".into(),
        netns_override: false,
        stdin: config.to_vec(),
        version: conf.cni_version.clone(),
        conf,
    })
}

/// The plugin's own parser, by type: what the plugin runs first on the
/// node, minus what needs the kernel.
fn check_plugin(plugin_type: &str, args: &CmdArgs) -> Result<(), String> {
    let r = match plugin_type {
        "netns-vlan" => vlan_conf::parse(args).map(drop),
        "netns-ipvlan" => ipvlan_conf::parse(args).map(drop),
        "netns-macvlan" => macvlan_conf::parse(args).map(drop),
        "netns-bridge" => bridge_conf::load(args).map(drop),
        "netns-portmap" => portmap_conf::load(args).map(drop),
        "make-net" => make_net_conf::parse(args).map(drop),
        other => {
            return Err(format!(
                "no config parser for plugin type {other:?} in tests/k8s_manifests.rs \
                 (a netns plugin: compile its conf.rs in and add it to check_plugin)"
            ))
        }
    };
    r.map_err(|e| format!("{plugin_type}: {e}"))
}

/// The IPAM section, by type, with the IPAM plugin's parser.
fn check_ipam(ipam_type: &str, args: &CmdArgs) -> Result<(), String> {
    match ipam_type {
        "netns-host-local" => netns_ipam::json::parse_ipam_config(&args.stdin, &args.args)
            .map(drop)
            .map_err(|e| format!("{ipam_type}: {e}")),
        other => Err(format!(
            "no config parser for IPAM type {other:?} in tests/k8s_manifests.rs"
        )),
    }
}

/// What the NADs use, for the DaemonSet's check.
#[derive(Default, Debug)]
struct Used {
    /// Plugin and IPAM types, with the first NAD using each.
    types: BTreeMap<String, String>,
    /// (namespace, name) of each NAD.
    nads: BTreeSet<(String, String)>,
    /// (namespace, name) -> the CNI configs of its plugins, as checked.
    configs: BTreeMap<(String, String), Vec<Value>>,
}

/// One NAD: its shape (the CRD's schema: `spec.config`, a string) and
/// each of its plugins' configs through the plugin's parser.
fn check_nad(d: &Doc, used: &mut Used, problems: &mut Vec<String>) {
    let what = d.what();
    if d.v["apiVersion"] != NAD_API_VERSION {
        problems.push(format!("{what}: apiVersion is not {NAD_API_VERSION}"));
    }
    let spec = d.v["spec"].as_object();
    if let Some(extra) = spec.and_then(|s| s.keys().find(|k| *k != "config")) {
        problems.push(format!("{what}: spec.{extra} is not in the CRD's schema"));
    }
    let Some(text) = d.v["spec"]["config"].as_str() else {
        problems.push(format!("{what}: spec.config is not a string"));
        return;
    };
    let config = match netns_cni::json::parse(text.as_bytes()) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            problems.push(format!("{what}: spec.config is not a JSON object"));
            return;
        }
        Err(e) => {
            problems.push(format!("{what}: spec.config is not JSON: {e}"));
            return;
        }
    };
    let key = (
        d.namespace().unwrap_or_default().to_string(),
        d.name().to_string(),
    );
    used.nads.insert(key.clone());
    // libcni's conflist: each plugin gets the list's name and cniVersion.
    let plugins: Vec<Value> = match config.get("plugins") {
        None => vec![Value::Object(config.clone())],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if let Some(o) = p.as_object_mut() {
                    for k in ["name", "cniVersion"] {
                        o.insert(k.into(), config.get(k).cloned().unwrap_or(Value::Null));
                    }
                }
                p
            })
            .collect(),
        Some(_) => {
            problems.push(format!("{what}: plugins is not a list of plugins"));
            return;
        }
    };
    let cni_args = multus_cni_args(&key.0, "k8s-manifests");
    for (i, p) in plugins.iter().enumerate() {
        let at = if config.contains_key("plugins") {
            format!("{what}: plugins[{i}]")
        } else {
            what.clone()
        };
        let bytes = serde_json::to_vec(p).expect("JSON");
        let args = match cmd_args(&bytes, "net1", &cni_args) {
            Ok(a) => a,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        let t = args.conf.plugin_type.clone();
        if t.is_empty() {
            problems.push(format!("{at}: no plugin type"));
            continue;
        }
        used.types.entry(t.clone()).or_insert_with(|| what.clone());
        if let Err(e) = check_plugin(&t, &args) {
            problems.push(format!("{at}: {e}"));
        }
        let ipam = args.conf.ipam.plugin_type.clone();
        if !ipam.is_empty() {
            used.types
                .entry(ipam.clone())
                .or_insert_with(|| what.clone());
            if let Err(e) = check_ipam(&ipam, &args) {
                problems.push(format!("{at}: {e}"));
            }
        }
        used.configs.entry(key.clone()).or_default().push(p.clone());
    }
}

fn check_nads(docs: &[Doc], problems: &mut Vec<String>) -> Used {
    let mut used = Used::default();
    for d in docs.iter().filter(|d| d.kind() == NAD_KIND) {
        check_nad(d, &mut used, problems);
    }
    // One CNI name is one allocation directory on a node: one ipam.
    let mut by_name: BTreeMap<String, (&(String, String), &Value)> = BTreeMap::new();
    for (nad, configs) in &used.configs {
        for c in configs {
            let Some(name) = c["name"].as_str() else {
                continue;
            };
            if c["ipam"].is_null() {
                continue;
            }
            if let Some((first, ipam)) = by_name.get(name) {
                if *ipam != &c["ipam"] {
                    problems.push(format!(
                        "NetworkAttachmentDefinitions {}/{} and {}/{} share the CNI name {name:?} \
                         (one allocation directory on a node) but not their ipam",
                        first.0, first.1, nad.0, nad.1
                    ));
                }
            } else {
                by_name.insert(name.to_string(), (nad, &c["ipam"]));
            }
        }
    }
    used
}

// ---------------------------------------------------------------------
// The pods' network annotations.

/// One attachment a pod asks for.
#[derive(Debug, PartialEq, Eq)]
struct Selection {
    namespace: Option<String>,
    name: String,
    interface: Option<String>,
}

/// Multus's `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$` for the short form's items.
fn multus_item(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The annotation as Multus reads it: a JSON list when it holds any of
/// `[{"`, else `[NAMESPACE/]NAME[@INTERFACE]`, comma separated.
fn parse_networks(annotation: &str) -> Result<Vec<Selection>, String> {
    if annotation.contains(['[', '{', '"']) {
        let v: Value =
            netns_cni::json::parse(annotation.as_bytes()).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Array(list) = v else {
            return Err("JSON, but not a list".into());
        };
        let mut out = Vec::new();
        for (i, e) in list.iter().enumerate() {
            let Some(o) = e.as_object() else {
                return Err(format!("[{i}] is not an object"));
            };
            let text = |k: &str| -> Result<Option<String>, String> {
                match o.get(k) {
                    None => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(format!("[{i}].{k} is not a string")),
                }
            };
            let Some(name) = text("name")?.filter(|n| !n.is_empty()) else {
                return Err(format!("[{i}] has no name"));
            };
            out.push(Selection {
                namespace: text("namespace")?.filter(|n| !n.is_empty()),
                name,
                interface: text("interface")?.filter(|n| !n.is_empty()),
            });
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for item in annotation.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let (namespace, rest) = match item.split('/').collect::<Vec<_>>()[..] {
            [n] => (None, n),
            [ns, n] => (Some(ns.trim().to_string()), n),
            _ => return Err(format!("{item:?}: invalid network object (failed at '/')")),
        };
        let (name, interface) = match rest.split('@').collect::<Vec<_>>()[..] {
            [n] => (n.trim().to_string(), None),
            [n, i] => (n.trim().to_string(), Some(i.trim().to_string())),
            _ => return Err(format!("{item:?}: invalid network object (failed at '@')")),
        };
        for part in [
            namespace.as_deref(),
            Some(name.as_str()),
            interface.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if !multus_item(part) {
                return Err(format!(
                    "{item:?}: {part:?} is not lower case alphanumeric and '-' (Multus's short form)"
                ));
            }
        }
        out.push(Selection {
            namespace,
            name,
            interface,
        });
    }
    Ok(out)
}

/// Every pod: its networks parse, exist, and have good interface names.
/// Returns the number of attachments checked.
fn check_pods(docs: &[Doc], used: &Used, problems: &mut Vec<String>) -> usize {
    let mut checked = 0;
    for d in docs.iter().filter(|d| d.kind() == "Pod") {
        let what = d.what();
        let Some(annotation) = d.v["metadata"]["annotations"][NETWORKS_ANNOTATION].as_str() else {
            continue;
        };
        let sel = match parse_networks(annotation) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{what}: {NETWORKS_ANNOTATION}: {e}"));
                continue;
            }
        };
        if sel.is_empty() {
            problems.push(format!("{what}: {NETWORKS_ANNOTATION} names no network"));
        }
        let mut names = BTreeSet::from(["eth0".to_string()]);
        for (i, s) in sel.iter().enumerate() {
            let ns = s
                .namespace
                .clone()
                .unwrap_or_else(|| d.namespace().unwrap_or("default").to_string());
            if !used.nads.contains(&(ns.clone(), s.name.clone())) {
                problems.push(format!(
                    "{what}: network {ns}/{} is no NetworkAttachmentDefinition of the manifests",
                    s.name
                ));
            }
            // Multus names the ones without an interface net1, net2...
            let ifname = s
                .interface
                .clone()
                .unwrap_or_else(|| format!("net{}", i + 1));
            if let Err(e) = netns_cni::validate_ifname(&ifname) {
                problems.push(format!("{what}: interface {ifname:?}: {e}"));
            }
            if !names.insert(ifname.clone()) {
                problems.push(format!(
                    "{what}: interface {ifname:?} twice (eth0 is the cluster network's)"
                ));
            }
            checked += 1;
        }
    }
    checked
}

// ---------------------------------------------------------------------
// make-net's namespaces and the pods that enter them.

/// A pod UID other than [`multus_cni_args`]'s, to see whether a netid
/// depends on it.
const OTHER_UID: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";

/// The namespaces (`nsDir`/`netid`) make-net makes for the pod `d` on its
/// attachments, by make-net's own parser with the pod's CNI_ARGS, and
/// their `nsDir`s.
fn make_net_namespaces(
    d: &Doc,
    sel: &[Selection],
    used: &Used,
    problems: &mut Vec<String>,
) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let what = d.what();
    let pod_ns = d.namespace().unwrap_or("default");
    let (mut made, mut dirs) = (BTreeSet::new(), BTreeSet::new());
    for (i, s) in sel.iter().enumerate() {
        let ns = s.namespace.clone().unwrap_or_else(|| pod_ns.to_string());
        let Some(configs) = used.configs.get(&(ns.clone(), s.name.clone())) else {
            continue; // reported by check_pods
        };
        let ifname = s
            .interface
            .clone()
            .unwrap_or_else(|| format!("net{}", i + 1));
        for c in configs.iter().filter(|c| c["type"] == "make-net") {
            let bytes = serde_json::to_vec(c).expect("JSON");
            let args = multus_cni_args(pod_ns, d.name());
            let parse = |cni_args: &str| {
                let a = cmd_args(&bytes, &ifname, cni_args)?;
                make_net_conf::parse(&a).map_err(|e| format!("make-net: {e}"))
            };
            let other = args.replace("00000000-0000-0000-0000-000000000000", OTHER_UID);
            match (parse(&args), parse(&other)) {
                (Ok(a), Ok(b)) if a.netid != b.netid => problems.push(format!(
                    "{what}: network {ns}/{}: netid {:?} depends on the pod's UID, which no \
                     manifest can name in a hostPath",
                    s.name,
                    c["netid"].as_str().unwrap_or_default()
                )),
                (Ok(a), Ok(_)) => {
                    made.insert(Path::new(&a.ns_dir).join(&a.netid));
                    dirs.insert(PathBuf::from(&a.ns_dir));
                }
                (Err(e), _) | (_, Err(e)) => {
                    problems.push(format!("{what}: network {ns}/{}: {e}", s.name))
                }
            }
        }
    }
    (made, dirs)
}

/// Every pod on a make-net network mounts the namespace make-net makes
/// for it, and no other namespace of make-net's directories, at
/// /run/netns/NAME; `ip netns exec NAME` in a container's command names
/// one of its mounts. Returns the number of such mounts checked.
fn check_make_net_pods(docs: &[Doc], used: &Used, problems: &mut Vec<String>) -> usize {
    let mut checked = 0;
    for d in docs.iter().filter(|d| d.kind() == "Pod") {
        let what = d.what();
        let Some(annotation) = d.v["metadata"]["annotations"][NETWORKS_ANNOTATION].as_str() else {
            continue;
        };
        let Ok(sel) = parse_networks(annotation) else {
            continue; // reported by check_pods
        };
        let (made, dirs) = make_net_namespaces(d, &sel, used, problems);
        if dirs.is_empty() {
            continue;
        }
        let spec = &d.v["spec"];
        let host_paths: BTreeMap<&str, &str> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?, v["hostPath"]["path"].as_str()?)))
            .collect();
        let mut mounted = BTreeSet::new();
        let containers = ["initContainers", "containers"]
            .iter()
            .flat_map(|k| spec[*k].as_array().cloned().unwrap_or_default());
        for c in containers {
            let cname = c["name"].as_str().unwrap_or("?").to_string();
            let mut names = BTreeSet::new();
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let Some(host) = m["name"].as_str().and_then(|n| host_paths.get(n)) else {
                    continue;
                };
                let host = Path::new(host);
                if !host.parent().is_some_and(|p| dirs.contains(p)) {
                    continue;
                }
                if !made.contains(host) {
                    problems.push(format!(
                        "{what}: container {cname} mounts hostPath {}, which is not the \
                         namespace make-net makes for this pod ({made:?})",
                        host.display()
                    ));
                    continue;
                }
                let at = Path::new(m["mountPath"].as_str().unwrap_or_default());
                if at.parent() != Some(Path::new("/run/netns")) {
                    problems.push(format!(
                        "{what}: container {cname} mounts {} at {}, not /run/netns/NAME \
                         (where ip netns exec looks)",
                        host.display(),
                        at.display()
                    ));
                } else if let Some(n) = at.file_name() {
                    names.insert(n.to_string_lossy().into_owned());
                }
                mounted.insert(host.to_path_buf());
                checked += 1;
            }
            let command: Vec<&str> = ["command", "args"]
                .iter()
                .flat_map(|k| c[*k].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            if let Some(i) = command
                .windows(3)
                .position(|w| w == ["ip", "netns", "exec"])
            {
                match command.get(i + 3) {
                    Some(n) if names.contains(*n) => {}
                    n => problems.push(format!(
                        "{what}: container {cname} runs ip netns exec {n:?}, which it does \
                         not mount at /run/netns ({names:?})"
                    )),
                }
            }
        }
        for m in made.difference(&mounted) {
            problems.push(format!(
                "{what}: make-net makes {} for this pod, but no container mounts it (hostPath)",
                m.display()
            ));
        }
    }
    checked
}

// ---------------------------------------------------------------------
// The installer DaemonSet and its image.

/// The installer: the DaemonSet's init container with `NETNS_PLUGINS`.
#[derive(Debug)]
struct Installer {
    what: String,
    plugins: Vec<String>,
    env: BTreeMap<String, String>,
    script: String,
}

fn installers(docs: &[Doc], problems: &mut Vec<String>) -> Vec<Installer> {
    let mut out = Vec::new();
    for d in docs.iter().filter(|d| d.kind() == "DaemonSet") {
        let what = d.what();
        let pod = &d.v["spec"]["template"]["spec"];
        let inits = pod["initContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for c in inits {
            let env: BTreeMap<String, String> = c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    Some((
                        e["name"].as_str()?.to_string(),
                        e["value"].as_str()?.to_string(),
                    ))
                })
                .collect();
            let Some(plugins) = env.get("NETNS_PLUGINS") else {
                continue;
            };
            let what = format!("{what}, init container {}", c["name"]);
            let plugins: Vec<String> = plugins.split_whitespace().map(String::from).collect();
            let script = match c["command"].as_array().map(Vec::as_slice) {
                Some([sh, dash_c, script]) if sh == "/bin/sh" && dash_c == "-c" => {
                    script.as_str().unwrap_or_default().to_string()
                }
                _ => {
                    problems.push(format!("{what}: command is not [/bin/sh, -c, SCRIPT]"));
                    String::new()
                }
            };
            // NETNS_DEST is where the node's /opt/cni/bin is mounted.
            let dest = env.get("NETNS_DEST").cloned().unwrap_or_default();
            let mount = c["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["mountPath"] == dest.as_str());
            let host_path = mount.and_then(|m| {
                pod["volumes"]
                    .as_array()?
                    .iter()
                    .find(|v| v["name"] == m["name"])
                    .and_then(|v| v["hostPath"]["path"].as_str())
            });
            if host_path != Some("/opt/cni/bin") {
                problems.push(format!(
                    "{what}: NETNS_DEST {dest:?} is not the node's /opt/cni/bin (hostPath)"
                ));
            }
            let tolerates_control_plane = pod["tolerations"].as_array().is_some_and(|ts| {
                ts.iter().any(|t| {
                    (t["operator"] == "Exists" && t["key"].is_null())
                        || t["key"] == "node-role.kubernetes.io/control-plane"
                })
            });
            if !tolerates_control_plane {
                problems.push(format!("{what}: does not tolerate control-plane nodes"));
            }
            out.push(Installer {
                what,
                plugins,
                env,
                script,
            });
        }
    }
    if out.is_empty() {
        problems.push("no DaemonSet with an init container setting NETNS_PLUGINS".into());
    }
    out
}

/// The Containerfile's COPY: (sources, destination).
fn containerfile_copy(text: &str) -> Option<(Vec<String>, String)> {
    let mut joined = String::new();
    let mut lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
    for l in lines.by_ref() {
        if l.trim_start().starts_with("COPY ") {
            joined.push_str(l);
            break;
        }
    }
    while joined.trim_end().ends_with('\\') {
        let t = joined.trim_end().trim_end_matches('\\').to_string();
        joined = t;
        joined.push(' ');
        joined.push_str(lines.next()?);
    }
    let mut words: Vec<String> = joined
        .split_whitespace()
        .skip(1)
        .filter(|w| !w.starts_with("--"))
        .map(String::from)
        .collect();
    let dest = words.pop()?;
    Some((words, dest))
}

fn check_installers(
    installers: &[Installer],
    used: &Used,
    m: &Manifests,
    problems: &mut Vec<String>,
) {
    let copy = containerfile_copy(&m.containerfile);
    if copy.is_none() {
        problems.push("k8s/Containerfile: no COPY of the plugins".into());
    }
    for inst in installers {
        let what = &inst.what;
        for (t, nad) in &used.types {
            if !inst.plugins.contains(t) {
                problems.push(format!(
                    "{what}: NETNS_PLUGINS does not install {t}, which {nad} uses"
                ));
            }
        }
        for p in &inst.plugins {
            if !m.examples.contains(p) {
                problems.push(format!(
                    "{what}: {p} is no [[example]] of examples/Cargo.toml"
                ));
            }
        }
        if let Some((sources, dest)) = &copy {
            for p in &inst.plugins {
                if !sources.contains(p) {
                    problems.push(format!("k8s/Containerfile: COPY does not copy {p}"));
                }
            }
            let src = inst.env.get("NETNS_SRC").map(String::as_str);
            if src != Some(dest.trim_end_matches('/')) {
                problems.push(format!(
                    "{what}: NETNS_SRC {src:?} is not the Containerfile's COPY destination {dest:?}"
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------
// All of it.

#[derive(Debug)]
struct Report {
    docs: Vec<Doc>,
    used: Used,
    attachments: usize,
    /// Pods' mounts of make-net's namespaces, checked.
    netns_mounts: usize,
    installers: Vec<Installer>,
    problems: Vec<String>,
}

fn check(m: &Manifests) -> Report {
    let mut problems = Vec::new();
    let docs = docs(m, &mut problems);
    let used = check_nads(&docs, &mut problems);
    let attachments = check_pods(&docs, &used, &mut problems);
    let netns_mounts = check_make_net_pods(&docs, &used, &mut problems);
    let installers = installers(&docs, &mut problems);
    check_installers(&installers, &used, m, &mut problems);
    Report {
        docs,
        used,
        attachments,
        netns_mounts,
        installers,
        problems,
    }
}

fn assert_clean(r: &Report) {
    assert!(
        r.problems.is_empty(),
        "problems in examples/k8s:\n  {}",
        r.problems.join("\n  ")
    );
}

/// The broken manifests are found out, with `needle` in a problem.
#[track_caller]
fn assert_problem(m: &Manifests, needle: &str) {
    let r = check(m);
    assert!(
        r.problems.iter().any(|p| p.contains(needle)),
        "expected a problem with {needle:?}, got:\n  {}",
        r.problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------
// The manifests as they are.

#[test]
fn every_manifest_is_found_and_parses() {
    let m = Manifests::read();
    let files: BTreeSet<&str> = m.files.iter().map(|(f, _)| f.as_str()).collect();
    for f in [
        "install.yaml",
        "namespace.yaml",
        "vlan/networks.yaml",
        "vlan/pod.yaml",
        "macvlan/networks.yaml",
        "macvlan/pod.yaml",
        "make-net/namespace.yaml",
        "make-net/networks.yaml",
        "make-net/router.yaml",
    ] {
        assert!(files.contains(f), "{f} not found in {files:?}");
    }
    let r = check(&m);
    assert_clean(&r);
    // At least these: a new manifest is checked like the others.
    let count = |k: &str| r.docs.iter().filter(|d| d.kind() == k).count();
    assert!(
        count(NAD_KIND) >= 4,
        "vlan10, vlan20 and their macvlan twins"
    );
    assert!(count("Pod") >= 2);
    assert!(count("DaemonSet") >= 1);
    assert!(count("Namespace") >= 1);
}

#[test]
fn every_network_attachment_passes_its_plugins_own_parsers() {
    let r = check(&Manifests::read());
    assert_clean(&r);
    let types: BTreeSet<&str> = r.used.types.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "make-net",
            "netns-host-local",
            "netns-macvlan",
            "netns-vlan"
        ]),
        "the types the NADs use, each checked by its parser"
    );
    // The scenario: VLANs 10 and 20, each its own network and range.
    let vlan10 = &r.used.configs[&("vlan-demo".into(), "vlan10".into())][0];
    assert_eq!(vlan10["type"], "netns-vlan");
    assert_eq!(vlan10["vlanId"], 10);
    assert_eq!(vlan10["cniVersion"], "1.0.0");
    assert_eq!(vlan10["ipam"]["ranges"][0][0]["subnet"], "10.10.0.0/24");
    let vlan20 = &r.used.configs[&("vlan-demo".into(), "vlan20".into())][0];
    assert_eq!(vlan20["vlanId"], 20);
    assert_eq!(vlan20["ipam"]["ranges"][0][0]["subnet"], "10.20.0.0/24");
    let mac10 = &r.used.configs[&("vlan-demo".into(), "vlan10-macvlan".into())][0];
    assert_eq!(mac10["type"], "netns-macvlan");
    assert_eq!(mac10["master"], "eth1.10");
}

#[test]
fn every_pod_selects_networks_of_the_manifests_with_good_interface_names() {
    let r = check(&Manifests::read());
    assert_clean(&r);
    assert_eq!(
        r.attachments, 5,
        "two pods, net1 and net2 each; the router's net1"
    );
}

#[test]
fn the_installer_installs_every_plugin_the_networks_use() {
    let r = check(&Manifests::read());
    assert_clean(&r);
    assert_eq!(r.installers.len(), 1);
    let plugins: BTreeSet<&str> = r.installers[0].plugins.iter().map(String::as_str).collect();
    for t in r.used.types.keys() {
        assert!(plugins.contains(t.as_str()), "{t} installed");
    }
}

#[test]
fn multus_short_and_json_forms_parse_as_multus_reads_them() {
    let want = |ns: Option<&str>, n: &str, i: Option<&str>| Selection {
        namespace: ns.map(String::from),
        name: n.into(),
        interface: i.map(String::from),
    };
    assert_eq!(
        parse_networks("a@net1, other/b@net2,c").unwrap(),
        [
            want(None, "a", Some("net1")),
            want(Some("other"), "b", Some("net2")),
            want(None, "c", None)
        ]
    );
    assert_eq!(
        parse_networks(r#"[{"name":"a","namespace":"x","interface":"net9"}]"#).unwrap(),
        [want(Some("x"), "a", Some("net9"))]
    );
    for bad in [
        "a@b@c",
        "x/y/z",
        "Net@net1",
        "a@net_1",
        r#"[{"interface":"net1"}]"#,
        "{}",
    ] {
        assert!(parse_networks(bad).is_err(), "{bad:?} refused");
    }
}

// ---------------------------------------------------------------------
// The install script, run.

fn run_install(inst: &Installer, src: &Path, dest: &Path) -> std::process::Output {
    Process::new("sh")
        .arg("-c")
        .arg(&inst.script)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("NETNS_PLUGINS", inst.env["NETNS_PLUGINS"].as_str())
        .env("NETNS_SRC", src)
        .env("NETNS_DEST", dest)
        .output()
        .expect("run sh")
}

fn ino(p: &Path) -> u64 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .ino()
}

#[test]
fn the_install_script_renames_into_place_and_leaves_up_to_date_plugins_alone() {
    let r = check(&Manifests::read());
    assert_clean(&r);
    let inst = &r.installers[0];
    let work = TempDir::new("k8s-install");
    let (src, dest) = (work.path().join("src"), work.path().join("dest"));
    fs::create_dir(&src).unwrap();
    fs::create_dir(&dest).unwrap();
    for p in &inst.plugins {
        fs::write(src.join(p), format!("#!/bin/false {p} 2\n")).unwrap();
    }
    // An older netns-vlan, not executable; a plugin of someone else's.
    let old = dest.join("netns-vlan");
    fs::write(&old, "#!/bin/false netns-vlan 1\n").unwrap();
    fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
    let old_ino = ino(&old);
    fs::write(dest.join("bridge"), "reference bridge\n").unwrap();

    let out = run_install(inst, &src, &dest);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "install: {out:?}");
    for p in &inst.plugins {
        let f = dest.join(p);
        assert_eq!(
            fs::read_to_string(&f).unwrap(),
            format!("#!/bin/false {p} 2\n")
        );
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o7777, 0o755, "{p}");
        assert!(
            stdout.contains(&format!("installed {}", f.display())),
            "{stdout}"
        );
    }
    assert_ne!(
        ino(&old),
        old_ino,
        "netns-vlan replaced by a rename, not rewritten in place"
    );
    let mut left: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut want: Vec<String> = inst.plugins.clone();
    want.push("bridge".into());
    want.sort();
    assert_eq!(left, want, "the plugins, the other file, no temporary file");
    assert_eq!(
        fs::read_to_string(dest.join("bridge")).unwrap(),
        "reference bridge\n"
    );

    // Again: every plugin is up to date, none is touched.
    let inodes: Vec<u64> = inst.plugins.iter().map(|p| ino(&dest.join(p))).collect();
    let out = run_install(inst, &src, &dest);
    assert!(out.status.success(), "second install: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for p in &inst.plugins {
        assert!(stdout.contains(&format!("{} is up to date", dest.join(p).display())));
    }
    let again: Vec<u64> = inst.plugins.iter().map(|p| ino(&dest.join(p))).collect();
    assert_eq!(inodes, again);
}

#[test]
fn the_install_script_installs_nothing_when_a_plugin_is_missing() {
    let r = check(&Manifests::read());
    assert_clean(&r);
    let inst = &r.installers[0];
    let work = TempDir::new("k8s-install-missing");
    let (src, dest) = (work.path().join("src"), work.path().join("dest"));
    fs::create_dir(&src).unwrap();
    fs::create_dir(&dest).unwrap();
    let missing = "netns-ipvlan";
    assert!(inst.plugins.iter().any(|p| p == missing));
    for p in inst.plugins.iter().filter(|p| *p != missing) {
        fs::write(src.join(p), "x").unwrap();
    }
    let out = run_install(inst, &src, &dest);
    assert!(!out.status.success(), "install without {missing}: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{missing} is not in the image")),
        "{stderr}"
    );
    assert_eq!(fs::read_dir(&dest).unwrap().count(), 0, "nothing installed");
}

// ---------------------------------------------------------------------
// Broken manifests: the checks find them, with the plugins' messages.

const VLAN: &str = "vlan/networks.yaml";
const MACVLAN: &str = "macvlan/networks.yaml";

#[test]
fn a_vlan_id_of_4095_is_refused_by_netns_vlan() {
    let m = Manifests::read().with(VLAN, r#""vlanId": 10,"#, r#""vlanId": 4095,"#);
    assert_problem(
        &m,
        "(NetworkAttachmentDefinition vlan-demo/vlan10): netns-vlan: \
         invalid VLAN ID 4095 (must be between 1 and 4094 inclusive)",
    );
}

#[test]
fn a_vlan_without_master_is_refused_by_netns_vlan() {
    let m = Manifests::read().with(
        VLAN,
        r#""master": "eth1",
      "vlanId": 20,"#,
        r#""vlanId": 20,"#,
    );
    assert_problem(
        &m,
        "vlan-demo/vlan20): netns-vlan: \"master\" field is required",
    );
}

#[test]
fn an_unknown_macvlan_mode_is_refused_by_netns_macvlan() {
    let m = Manifests::read().with(
        MACVLAN,
        r#""master": "eth1.20",
      "mode": "bridge","#,
        r#""master": "eth1.20",
      "mode": "bogus","#,
    );
    assert_problem(
        &m,
        "vlan-demo/vlan20-macvlan): netns-macvlan: unknown macvlan mode: \"bogus\"",
    );
}

#[test]
fn a_range_outside_its_subnet_is_refused_by_host_local() {
    let m = Manifests::read().with(
        VLAN,
        r#""rangeStart": "10.20.0.10","#,
        r#""rangeStart": "10.30.0.10","#,
    );
    let r = check(&m);
    let p: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.contains("vlan-demo/vlan20): netns-host-local: "))
        .collect();
    assert_eq!(p.len(), 1, "{:?}", r.problems);
    assert!(p[0].contains("10.30.0.10"), "{}", p[0]);
}

#[test]
fn a_plugin_type_without_a_parser_here_fails() {
    // The reference plugin's name: not checked, so not accepted.
    let m = Manifests::read().with(
        VLAN,
        r#""type": "netns-vlan",
      "master": "eth1",
      "vlanId": 10,"#,
        r#""type": "vlan",
      "master": "eth1",
      "vlanId": 10,"#,
    );
    assert_problem(
        &m,
        "vlan-demo/vlan10): no config parser for plugin type \"vlan\"",
    );
    let m = Manifests::read().with(
        MACVLAN,
        r#""master": "eth1.10",
      "mode": "bridge",
      "ipam": {
        "type": "netns-host-local","#,
        r#""master": "eth1.10",
      "mode": "bridge",
      "ipam": {
        "type": "whereabouts","#,
    );
    assert_problem(&m, "no config parser for IPAM type \"whereabouts\"");
}

#[test]
fn a_config_without_name_or_version_is_refused() {
    let m = Manifests::read().with(VLAN, r#""name": "vlan10","#, "");
    assert_problem(&m, "vlan-demo/vlan10): missing network name");
    let m = Manifests::read().with(
        VLAN,
        r#""cniVersion": "1.0.0",
      "name": "vlan20","#,
        r#""name": "vlan20","#,
    );
    assert_problem(&m, "vlan-demo/vlan20): no cniVersion");
    let m = Manifests::read().with(VLAN, r#""vlanId": 10,"#, r#""vlanId": 10"#);
    assert_problem(&m, "vlan-demo/vlan10): spec.config is not JSON");
}

#[test]
fn networks_sharing_a_name_must_share_their_ipam() {
    let m = Manifests::read().with(
        MACVLAN,
        r#""rangeEnd": "10.10.0.99","#,
        r#""rangeEnd": "10.10.0.199","#,
    );
    assert_problem(&m, "share the CNI name \"vlan10\"");
}

/// A conflist NAD (macvlan, then portmap), broken in its second plugin.
const CONFLIST: &str = r#"apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: chained
  namespace: vlan-demo
spec:
  config: |
    {
      "cniVersion": "1.0.0",
      "name": "chained",
      "plugins": [
        { "type": "netns-macvlan", "master": "eth1.10", "mode": "private" },
        { "type": "netns-portmap", "capabilities": { "portMappings": true },
          "markMasqBit": MARK }
      ]
    }
"#;

#[test]
fn each_plugin_of_a_conflist_is_checked() {
    let good = Manifests::read().plus("extra/chained.yaml", &CONFLIST.replace("MARK", "13"));
    let r = check(&good);
    let types: BTreeSet<&str> = r.used.types.keys().map(String::as_str).collect();
    assert!(types.contains("netns-portmap"), "{types:?}");
    assert_clean(&r);
    let bad = Manifests::read().plus("extra/chained.yaml", &CONFLIST.replace("MARK", "40"));
    assert_problem(
        &bad,
        "vlan-demo/chained): plugins[1]: netns-portmap: failed to parse config: \
         MasqMarkBit must be between 0 and 31",
    );
}

#[test]
fn an_ipvlan_network_is_checked_by_netns_ipvlan() {
    let nad = |mode: &str| {
        format!(
            "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n\
             metadata:\n  name: ipv\n  namespace: vlan-demo\nspec:\n  config: >-\n    \
             {{\"cniVersion\": \"1.0.0\", \"name\": \"ipv\", \"type\": \"netns-ipvlan\",\n    \
             \"master\": \"eth1.10\", \"mode\": \"{mode}\"}}\n"
        )
    };
    let r = check(&Manifests::read().plus("extra/ipvlan.yaml", &nad("l3s")));
    assert_clean(&r);
    assert!(r.used.types.contains_key("netns-ipvlan"));
    assert_problem(
        &Manifests::read().plus("extra/ipvlan.yaml", &nad("l4")),
        "vlan-demo/ipv): netns-ipvlan: unknown ipvlan mode: \"l4\"",
    );
}

#[test]
fn a_pod_naming_a_missing_network_or_a_bad_interface_fails() {
    let m = Manifests::read().with(
        "macvlan/pod.yaml",
        "vlan10-macvlan@net1",
        "vlan30-macvlan@net1",
    );
    assert_problem(
        &m,
        "network vlan-demo/vlan30-macvlan is no NetworkAttachmentDefinition",
    );
    let m = Manifests::read().with(
        "vlan/pod.yaml",
        r#""interface": "net2""#,
        r#""interface": "net/2""#,
    );
    assert_problem(
        &m,
        "interface \"net/2\": interface name contains / or : or whitespace characters",
    );
    let m = Manifests::read().with(
        "vlan/pod.yaml",
        r#""interface": "net2""#,
        r#""interface": "averyverylongname""#,
    );
    assert_problem(&m, "interface name is too long");
    let m = Manifests::read().with(
        "vlan/pod.yaml",
        r#""interface": "net2""#,
        r#""interface": "eth0""#,
    );
    assert_problem(&m, "interface \"eth0\" twice");
    let m = Manifests::read().with("macvlan/pod.yaml", "@net2", "@Net2");
    assert_problem(&m, "\"Net2\" is not lower case alphanumeric");
}

#[test]
fn an_installer_missing_a_plugin_fails() {
    let m = Manifests::read().with("install.yaml", " netns-vlan ", " ");
    assert_problem(
        &m,
        "NETNS_PLUGINS does not install netns-vlan, which vlan/networks.yaml",
    );
    let m = Manifests::read().with(
        "install.yaml",
        "netns-portmap\n",
        "netns-portmap netns-tuning\n",
    );
    assert_problem(&m, "netns-tuning is no [[example]] of examples/Cargo.toml");
    assert_problem(&m, "Containerfile: COPY does not copy netns-tuning");
    let m = Manifests::read().with("install.yaml", "path: /opt/cni/bin", "path: /usr/lib/cni");
    assert_problem(&m, "is not the node's /opt/cni/bin");
    let m = Manifests::read().with("install.yaml", "- operator: Exists", "[]");
    assert_problem(&m, "does not tolerate control-plane nodes");
}

#[test]
fn yaml_that_kubectl_reads_otherwise_or_not_at_all_fails() {
    let m = Manifests::read().with(
        "namespace.yaml",
        "enforce-version: latest",
        "enforce-version: latest\n    netns.example/debug: on",
    );
    assert_problem(&m, "plain \"on\" reads differently in YAML 1.1");
    let m = Manifests::read().with(
        "namespace.yaml",
        "name: vlan-demo",
        "name: vlan-demo\n  name: x",
    );
    assert_problem(&m, "namespace.yaml: not YAML");
    let m = Manifests::read().with("vlan/pod.yaml", "  namespace: vlan-demo\n", "");
    assert_problem(&m, "multinet-vlan): no metadata.namespace");
    let m = Manifests::read().plus(
        "extra/again.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: vlan-demo\n",
    );
    assert_problem(&m, "defined twice");
    let m = Manifests::read().plus("extra/empty.yaml", "# nothing yet\n---\n");
    assert_problem(&m, "extra/empty.yaml: no document");
    for (s, differs) in [
        ("yes", true),
        ("Off", true),
        ("0755", true),
        ("1:30", true),
        ("true", false),
        ("0", false),
        ("10", false),
        ("eth1", false),
        ("10.10.0.1", false),
    ] {
        assert_eq!(yaml11_differs(s), differs, "{s:?}");
    }
}

// ---------------------------------------------------------------------
// examples/k8s/README.md: its YAML and its network-status example.

/// The fenced blocks of a Markdown text: (info string, body, line of the
/// opening fence, the line before it).
fn fenced_blocks(text: &str) -> Vec<(String, String, usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim_start();
        if let Some(info) = l.strip_prefix("```") {
            let indent = lines[i].len() - l.len();
            let before = if i > 0 { lines[i - 1] } else { "" }.to_string();
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                body.push_str(lines[i].get(indent..).unwrap_or(lines[i].trim_start()));
                body.push('\n');
                i += 1;
            }
            out.push((info.trim().to_string(), body, start + 1, before));
        }
        i += 1;
    }
    out
}

fn readme() -> String {
    fs::read_to_string(k8s_dir().join("README.md")).expect("read k8s/README.md")
}

#[test]
fn the_readmes_manifests_pass_the_same_checks() {
    let mut m = Manifests::read();
    let mut n = 0;
    for (info, body, line, _) in fenced_blocks(&readme()) {
        if info == "yaml" {
            m = m.plus(&format!("README.md:{line}"), &body);
            n += 1;
        }
    }
    assert!(n >= 1, "the README's per-node NAD");
    let r = check(&m);
    assert_clean(&r);
    assert!(r
        .used
        .nads
        .contains(&("vlan-demo".into(), "vlan10-node-b".into())));
}

fn ipv4(s: &str) -> u32 {
    u32::from(
        s.parse::<std::net::Ipv4Addr>()
            .unwrap_or_else(|e| panic!("{s:?}: {e}")),
    )
}

#[test]
fn the_readmes_network_status_matches_the_manifests() {
    let blocks = fenced_blocks(&readme());
    let (_, body, line, _) = blocks
        .iter()
        .find(|(info, _, _, before)| {
            info == "json" && before.contains("tests/k8s_manifests.rs checks this example")
        })
        .expect("the network-status example, marked");
    let status: Vec<Value> =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("README.md:{line}: {e}"));
    let r = check(&Manifests::read());
    assert_clean(&r);
    let pod = r
        .docs
        .iter()
        .find(|d| d.file == "vlan/pod.yaml" && d.kind() == "Pod")
        .expect("vlan/pod.yaml's pod");
    let sel = parse_networks(
        pod.v["metadata"]["annotations"][NETWORKS_ANNOTATION]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(status.len(), 1 + sel.len(), "eth0 and one per network");
    assert_eq!(status[0]["interface"], "eth0");
    assert_eq!(status[0]["default"], true);
    let is_mac = |m: &Value| {
        m.as_str().is_some_and(|m| {
            m.split(':').count() == 6
                && m.split(':')
                    .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
        })
    };
    let mut macs = BTreeSet::new();
    for (s, st) in sel.iter().zip(&status[1..]) {
        let ns = s.namespace.as_deref().unwrap_or("vlan-demo");
        assert_eq!(st["name"], format!("{ns}/{}", s.name));
        assert_eq!(st["interface"].as_str(), s.interface.as_deref());
        assert!(st.get("default").is_none(), "{st}");
        let config = &r.used.configs[&(ns.to_string(), s.name.clone())][0];
        assert_eq!(
            st["dns"], config["dns"],
            "the NAD's dns, as the plugin returns it"
        );
        // The first address of the node's share (rangeStart).
        let range = &config["ipam"]["ranges"][0][0];
        let ips = st["ips"].as_array().expect("ips");
        assert_eq!(ips.len(), 1);
        assert_eq!(ips[0], range["rangeStart"]);
        let ip = ipv4(ips[0].as_str().unwrap());
        assert!(ipv4(range["rangeStart"].as_str().unwrap()) <= ip);
        assert!(ip <= ipv4(range["rangeEnd"].as_str().unwrap()));
        assert!(is_mac(&st["mac"]), "{st}");
        assert_eq!(config["type"], "netns-vlan");
        macs.insert((config["master"].to_string(), st["mac"].to_string()));
    }
    assert_eq!(
        macs.len(),
        1,
        "802.1Q devices of one trunk have the trunk's MAC: {macs:?}"
    );
}

// ---------------------------------------------------------------------
// make-net (issue 14): the NAD and the router Pod of the original.

const MAKE_NET: &str = "make-net/networks.yaml";
const ROUTER: &str = "make-net/router.yaml";

#[test]
fn the_router_pod_mounts_the_namespace_make_net_makes_for_it() {
    let r = check(&Manifests::read());
    assert_clean(&r);
    assert_eq!(r.netns_mounts, 1, "the router's /run/netns/bgp");
    let nad = &r.used.configs[&("bgp-demo".into(), "customer-1".into())][0];
    assert_eq!(nad["type"], "make-net");
    assert_eq!(nad["netid"], "{K8S_POD_NAMESPACE}-{K8S_POD_NAME}");
    assert_eq!(nad["peer"], "pod");
    // What make-net makes of it for the router pod: the hostPath.
    let bytes = serde_json::to_vec(nad).unwrap();
    let args = cmd_args(&bytes, "net1", &multus_cni_args("bgp-demo", "router")).unwrap();
    let n = make_net_conf::parse(&args).unwrap();
    assert_eq!(n.netid, "bgp-demo-router");
    assert_eq!(n.ns_dir, "/run/netns");
    let router = r
        .docs
        .iter()
        .find(|d| d.kind() == "Pod" && d.name() == "router")
        .expect("the router Pod");
    let spec = &router.v["spec"];
    assert_eq!(
        spec["volumes"][0]["hostPath"]["path"],
        "/run/netns/bgp-demo-router"
    );
    assert!(spec["volumes"][0]["hostPath"]["type"].is_null(), "untyped");
    let frr = &spec["containers"][0];
    assert_eq!(frr["volumeMounts"][0]["mountPath"], "/run/netns/bgp");
    assert_eq!(frr["securityContext"]["privileged"], true);
    let command: Vec<&str> = frr["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        command,
        [
            "ip",
            "netns",
            "exec",
            "bgp",
            "/sbin/tini",
            "--",
            "/usr/lib/frr/docker-start"
        ]
    );
    let ns = r
        .docs
        .iter()
        .find(|d| d.kind() == "Namespace" && d.name() == "bgp-demo")
        .expect("the bgp-demo Namespace");
    assert_eq!(
        ns.v["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
}

#[test]
fn the_originals_nad_unchanged_passes_make_nets_parser() {
    let original = r#"apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: original
  namespace: bgp-demo
spec:
  config: '{"cniVersion":"0.4.0","name":"customer-1","type":"make-net","netid":"1234567"}'
"#;
    let r = check(&Manifests::read().plus("make-net/original.yaml", original));
    assert_clean(&r);
    let nad = &r.used.configs[&("bgp-demo".into(), "original".into())][0];
    let bytes = serde_json::to_vec(nad).unwrap();
    let args = cmd_args(&bytes, "net1", &multus_cni_args("bgp-demo", "any")).unwrap();
    assert_eq!(make_net_conf::parse(&args).unwrap().netid, "1234567");
}

#[test]
fn a_router_hostpath_that_is_not_its_namespace_fails() {
    let m = Manifests::read().with(
        ROUTER,
        "path: /run/netns/bgp-demo-router",
        "path: /run/netns/1234567",
    );
    assert_problem(
        &m,
        "(Pod bgp-demo/router): container frr mounts hostPath /run/netns/1234567, \
         which is not the namespace make-net makes for this pod",
    );
    assert_problem(
        &m,
        "make-net makes /run/netns/bgp-demo-router for this pod, but no container mounts it",
    );
    // The pod renamed: its namespace is another.
    let m = Manifests::read().with(ROUTER, "  name: router\n", "  name: router-0\n");
    assert_problem(
        &m,
        "make-net makes /run/netns/bgp-demo-router-0 for this pod, but no container mounts it",
    );
}

#[test]
fn a_netid_from_the_pod_uid_fails() {
    let m = Manifests::read().with(
        MAKE_NET,
        r#""netid": "{K8S_POD_NAMESPACE}-{K8S_POD_NAME}","#,
        r#""netid": "bgp-{K8S_POD_UID}","#,
    );
    assert_problem(
        &m,
        "(Pod bgp-demo/router): network bgp-demo/customer-1: netid \"bgp-{K8S_POD_UID}\" \
         depends on the pod's UID",
    );
}

#[test]
fn a_netid_that_is_not_a_namespace_name_is_refused_by_make_net() {
    let m = Manifests::read().with(
        MAKE_NET,
        r#""netid": "{K8S_POD_NAMESPACE}-{K8S_POD_NAME}","#,
        r#""netid": "../{K8S_POD_NAME}","#,
    );
    assert_problem(
        &m,
        "(NetworkAttachmentDefinition bgp-demo/customer-1): make-net: invalid netid \"../k8s-manifests\"",
    );
    let m = Manifests::read().with(MAKE_NET, r#""peer": "pod","#, r#""peer": "node","#);
    assert_problem(&m, "make-net: unknown peer \"node\"");
}

#[test]
fn ip_netns_exec_of_a_name_the_container_does_not_mount_fails() {
    let m = Manifests::read().with(ROUTER, "        - bgp\n", "        - frr\n");
    assert_problem(&m, "container frr runs ip netns exec Some(\"frr\")");
    let m = Manifests::read().with(
        ROUTER,
        "mountPath: /run/netns/bgp",
        "mountPath: /var/run/bgp",
    );
    assert_problem(&m, "not /run/netns/NAME (where ip netns exec looks)");
}
