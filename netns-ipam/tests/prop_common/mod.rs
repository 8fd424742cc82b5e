//! The model of host-local and the harness shared by the property tests
//! of every store (ipam_prop.rs: MemoryStore, FileStore; etcd_store.rs:
//! EtcdStore).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;

use netns_ipam::{parse_cidr, Allocator, FileStore, MemoryStore, RangeSet, RangeSpec, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
pub struct MRange {
    start: u128,
    end: u128,
    gw: u128,
    v6: bool,
}

pub fn ip_of(v6: bool, v: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(v.into())
    } else {
        IpAddr::V4((v as u32).into())
    }
}

pub fn val(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

/// The naive model.
#[derive(Debug, Default)]
pub struct Model {
    sets: Vec<Vec<MRange>>,
    files: BTreeMap<IpAddr, String>,
    cursors: HashMap<usize, IpAddr>,
}

impl Model {
    fn range_of(&self, set: usize, ip: IpAddr) -> Option<&MRange> {
        self.sets[set]
            .iter()
            .find(|r| r.v6 == ip.is_ipv6() && val(ip) >= r.start && val(ip) <= r.end)
    }

    fn set_str(&self, set: usize) -> String {
        self.sets[set]
            .iter()
            .map(|r| format!("{}-{}", ip_of(r.v6, r.start), ip_of(r.v6, r.end)))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn reserve(&mut self, id: &str, ifname: &str, ip: IpAddr, set: usize) -> bool {
        if self.files.contains_key(&ip) {
            return false;
        }
        self.files.insert(ip, format!("{id}\r\n{ifname}"));
        self.cursors.insert(set, ip);
        true
    }

    fn release_by_id(&mut self, id: &str, ifname: &str) {
        let key = format!("{id}\r\n{ifname}");
        let before = self.files.len();
        self.files.retain(|_, o| *o != key);
        if self.files.len() == before {
            self.files.retain(|_, o| o != id);
        }
    }

    fn get(
        &mut self,
        set: usize,
        id: &str,
        ifname: &str,
        req: Option<IpAddr>,
    ) -> Result<IpAddr, String> {
        if let Some(ip) = req {
            let r = self.range_of(set, ip).cloned().ok_or("not in set")?;
            if val(ip) == r.gw {
                return Err(format!("requested ip {ip} is subnet's gateway"));
            }
            if !self.reserve(id, ifname, ip, set) {
                return Err(format!(
                    "requested IP address {ip} is not available in range set {}",
                    self.set_str(set)
                ));
            }
            return Ok(ip);
        }
        let key = format!("{id}\r\n{ifname}");
        let mut mine: Vec<IpAddr> = self
            .files
            .iter()
            .filter(|(ip, o)| (**o == key || *o == id) && self.range_of(set, **ip).is_some())
            .map(|(ip, _)| *ip)
            .collect();
        mine.sort_by_key(|ip| ip.to_string());
        if let Some(ip) = mine.first() {
            return Err(format!(
                "{ip} has been allocated to {id}, duplicate allocation is not allowed"
            ));
        }
        // host-local's RangeIter, transcribed.
        let ranges = self.sets[set].clone();
        let mut ri = 0;
        let mut cur: Option<u128> = None;
        let mut start: Option<u128> = None;
        match self
            .cursors
            .get(&set)
            .copied()
            .filter(|c| self.range_of(set, *c).is_some())
        {
            Some(last) => {
                ri = ranges
                    .iter()
                    .position(|r| {
                        r.v6 == last.is_ipv6() && val(last) >= r.start && val(last) <= r.end
                    })
                    .unwrap();
                cur = Some(val(last));
            }
            None => start = Some(ranges[0].start),
        }
        let v6 = ranges[0].v6;
        loop {
            // Next()
            let next = loop {
                let mut r = &ranges[ri];
                match cur {
                    None => {
                        cur = Some(r.start);
                        start = cur;
                        if cur == Some(r.gw) {
                            continue;
                        }
                        break cur;
                    }
                    Some(c) => {
                        if c == r.end {
                            ri = (ri + 1) % ranges.len();
                            r = &ranges[ri];
                            cur = Some(r.start);
                        } else {
                            cur = Some(c + 1);
                        }
                    }
                }
                if start.is_none() {
                    start = cur;
                } else if cur == start {
                    break None;
                }
                if cur == Some(r.gw) {
                    continue;
                }
                break cur;
            };
            let Some(c) = next else { break };
            let ip = ip_of(v6, c);
            if self.reserve(id, ifname, ip, set) {
                return Ok(ip);
            }
        }
        Err(format!(
            "no IP addresses available in range set: {}",
            self.set_str(set)
        ))
    }

    fn add(&mut self, id: &str, ifname: &str, requested: &[IpAddr]) -> Result<Vec<IpAddr>, String> {
        let mut req: Vec<IpAddr> = Vec::new();
        for ip in requested {
            if !req.contains(ip) {
                req.push(*ip);
            }
        }
        let mut out = Vec::new();
        for set in 0..self.sets.len() {
            let r = req
                .iter()
                .position(|ip| self.range_of(set, *ip).is_some())
                .map(|p| req.remove(p));
            match self.get(set, id, ifname, r) {
                Ok(ip) => out.push(ip),
                Err(e) => {
                    for _ in 0..out.len() {
                        self.release_by_id(id, ifname);
                    }
                    return Err(format!("failed to allocate for range {set}: {e}"));
                }
            }
        }
        if !req.is_empty() {
            for _ in 0..out.len() {
                self.release_by_id(id, ifname);
            }
            let list: Vec<String> = req.iter().map(|i| i.to_string()).collect();
            return Err(format!(
                "failed to allocate all requested IPs: {}",
                list.join(" ")
            ));
        }
        Ok(out)
    }

    fn del(&mut self, id: &str, ifname: &str) {
        for _ in 0..self.sets.len() {
            self.release_by_id(id, ifname);
        }
    }

    fn check(&self, id: &str, ifname: &str) -> bool {
        let key = format!("{id}\r\n{ifname}");
        self.files.values().any(|o| *o == key || o == id)
    }
}

/// The configurations the sequences run on.
pub fn config(which: usize) -> Vec<Vec<RangeSpec>> {
    let spec = |s: &str, start: Option<&str>, end: Option<&str>, gw: Option<&str>| RangeSpec {
        subnet: parse_cidr(s).unwrap(),
        range_start: start.map(|x| x.parse().unwrap()),
        range_end: end.map(|x| x.parse().unwrap()),
        gateway: gw.map(|x| x.parse().unwrap()),
    };
    match which {
        0 => vec![vec![spec("10.0.0.0/29", None, None, None)]],
        1 => vec![vec![
            spec("10.0.0.0/30", None, None, None),
            spec(
                "10.0.1.0/29",
                Some("10.0.1.3"),
                Some("10.0.1.5"),
                Some("10.0.1.4"),
            ),
        ]],
        2 => vec![
            vec![spec("10.0.0.0/30", None, None, None)],
            vec![spec("2001:db8::/126", None, None, None)],
        ],
        _ => vec![vec![
            spec(
                "10.0.0.0/28",
                Some("10.0.0.5"),
                Some("10.0.0.9"),
                Some("10.0.0.7"),
            ),
            spec("10.0.2.0/30", Some("10.0.2.2"), Some("10.0.2.2"), None),
        ]],
    }
}

pub fn model_for(specs: &[Vec<RangeSpec>]) -> Model {
    let sets = specs
        .iter()
        .map(|set| {
            let rs = RangeSet::new(set).unwrap();
            rs.ranges()
                .iter()
                .map(|r| MRange {
                    start: val(r.range_start()),
                    end: val(r.range_end()),
                    gw: val(r.gateway()),
                    v6: r.range_start().is_ipv6(),
                })
                .collect()
        })
        .collect();
    Model {
        sets,
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    Add {
        id: u8,
        ifname: u8,
        req: Option<u8>,
    },
    Del {
        id: u8,
        ifname: u8,
    },
    Check {
        id: u8,
        ifname: u8,
    },
    /// An id-only reservation written by an old host-local (or by another
    /// process behind the store's back).
    Legacy {
        id: u8,
        addr: u8,
    },
    /// Drop the store and open it again (FileStore: rebuild from disk).
    Reopen,
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..6, 0u8..2, proptest::option::weighted(0.2, 0u8..24))
            .prop_map(|(id, ifname, req)| Op::Add { id, ifname, req }),
        3 => (0u8..6, 0u8..2).prop_map(|(id, ifname)| Op::Del { id, ifname }),
        1 => (0u8..6, 0u8..2).prop_map(|(id, ifname)| Op::Check { id, ifname }),
        1 => (0u8..6, 0u8..24).prop_map(|(id, addr)| Op::Legacy { id, addr }),
        1 => Just(Op::Reopen),
    ]
}

/// Candidate requested / seeded addresses: in, around and outside the ranges.
pub fn addr(n: u8) -> IpAddr {
    let all = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.4",
        "10.0.0.5",
        "10.0.0.6",
        "10.0.0.7",
        "10.0.0.8",
        "10.0.0.9",
        "10.0.1.3",
        "10.0.1.4",
        "10.0.1.5",
        "10.0.2.2",
        "10.0.3.1",
        "2001:db8::1",
        "2001:db8::2",
        "2001:db8::3",
        "10.0.0.0",
        "10.0.0.10",
        "10.0.1.6",
        "10.0.0.14",
        "2001:db8::4",
        "10.0.2.1",
        "10.0.1.2",
    ];
    all[usize::from(n) % all.len()].parse().unwrap()
}

pub trait Harness {
    fn alloc(&mut self) -> &mut dyn AllocOps;
    fn seed_legacy(&mut self, ip: IpAddr, id: &str);
    fn reopen(&mut self);
    fn cursor(&mut self, set: usize) -> Option<IpAddr>;
}

pub trait AllocOps {
    fn add(&mut self, id: &str, ifname: &str, req: &[IpAddr]) -> Result<Vec<IpAddr>, String>;
    fn del(&mut self, id: &str, ifname: &str);
    fn check(&mut self, id: &str, ifname: &str) -> bool;
    fn files(&mut self) -> BTreeMap<IpAddr, String>;
}

impl<S: Store> AllocOps for Allocator<S> {
    fn add(&mut self, id: &str, ifname: &str, req: &[IpAddr]) -> Result<Vec<IpAddr>, String> {
        self.allocate(id, ifname, req)
            .map(|v| v.iter().map(|a| a.ip()).collect())
            .map_err(|e| e.to_string())
    }
    fn del(&mut self, id: &str, ifname: &str) {
        self.release(id, ifname).unwrap();
    }
    fn check(&mut self, id: &str, ifname: &str) -> bool {
        Allocator::check(self, id, ifname).unwrap()
    }
    fn files(&mut self) -> BTreeMap<IpAddr, String> {
        let s = self.store_mut();
        s.lock().unwrap();
        let r = s.reservations().unwrap();
        s.unlock().unwrap();
        r.into_iter().map(|r| (r.ip, r.owner)).collect()
    }
}

pub struct Mem(pub Allocator<MemoryStore>);

impl Harness for Mem {
    fn alloc(&mut self) -> &mut dyn AllocOps {
        &mut self.0
    }
    fn seed_legacy(&mut self, ip: IpAddr, id: &str) {
        self.0.store_mut().insert_raw(ip, id);
    }
    fn reopen(&mut self) {}
    fn cursor(&mut self, set: usize) -> Option<IpAddr> {
        self.0.store_mut().last_reserved_ip(set).unwrap()
    }
}

pub struct Disk {
    pub root: PathBuf,
    pub sets: Vec<RangeSet>,
    pub a: Allocator<FileStore>,
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Harness for Disk {
    fn alloc(&mut self) -> &mut dyn AllocOps {
        &mut self.a
    }
    fn seed_legacy(&mut self, ip: IpAddr, id: &str) {
        // Written behind the store's back: it must notice.
        std::fs::write(self.root.join("net").join(ip.to_string()), id).unwrap();
    }
    fn reopen(&mut self) {
        self.a = Allocator::new(
            self.sets.clone(),
            FileStore::open(&self.root, "net").unwrap(),
        );
    }
    fn cursor(&mut self, set: usize) -> Option<IpAddr> {
        std::fs::read_to_string(self.root.join(format!("net/last_reserved_ip.{set}")))
            .ok()
            .map(|s| s.parse().unwrap())
    }
}

pub fn run_sequence(h: &mut dyn Harness, which: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = model_for(&config(which));
    let nsets = m.sets.len();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Add { id, ifname, req } => {
                let (id, ifname) = (format!("c{id}"), format!("eth{ifname}"));
                let req: Vec<IpAddr> = req.map(addr).into_iter().collect();
                let want = m.add(&id, &ifname, &req);
                let got = h.alloc().add(&id, &ifname, &req);
                prop_assert_eq!(got, want, "step {} {:?}", i, op);
            }
            Op::Del { id, ifname } => {
                let (id, ifname) = (format!("c{id}"), format!("eth{ifname}"));
                m.del(&id, &ifname);
                h.alloc().del(&id, &ifname);
            }
            Op::Check { id, ifname } => {
                let (id, ifname) = (format!("c{id}"), format!("eth{ifname}"));
                prop_assert_eq!(h.alloc().check(&id, &ifname), m.check(&id, &ifname));
            }
            Op::Legacy { id, addr: a } => {
                let ip = addr(a);
                if let std::collections::btree_map::Entry::Vacant(e) = m.files.entry(ip) {
                    let id = format!("c{id}");
                    e.insert(id.clone());
                    h.seed_legacy(ip, &id);
                }
            }
            Op::Reopen => h.reopen(),
        }
        prop_assert_eq!(
            h.alloc().files(),
            m.files.clone(),
            "store after step {} {:?}",
            i,
            op
        );
        for set in 0..nsets {
            prop_assert_eq!(
                h.cursor(set),
                m.cursors.get(&set).copied(),
                "cursor {}",
                set
            );
        }
    }
    Ok(())
}

pub fn range_sets(which: usize) -> Vec<RangeSet> {
    config(which)
        .iter()
        .map(|s| RangeSet::new(s).unwrap())
        .collect()
}
