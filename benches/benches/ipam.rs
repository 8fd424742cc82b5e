//! Allocator benchmarks.
//!
//! 1. MemoryStore and FileStore on a /16 (65,533 allocatable addresses) at
//!    0%, 50% and 99% occupancy: the cost of one allocation and of one
//!    release, plus the worst case for host-local's design: the last free
//!    address of a full /16, found after wrapping the whole range.
//! 2. The plugin binaries: 1,000 sequential ADDs on a /20 through
//!    netns-host-local and through /usr/lib/cni/host-local, each on a fresh
//!    directory, alternating, three rounds; printed as totals and a ratio.
//!
//! 3. Occupancy: one plugin ADD and one DEL on a /20 already holding 100 and
//!    2,000 reservations (written as host-local writes them), netns-host-local
//!    and host-local on four identical-per-occupancy directories, the four
//!    cases in turn in each of 40 rounds;
//!    printed as the median and mean per command and the ratios (filter
//!    `occupancy`).
//!
//! Build the plugin first:
//! `cargo build --release -p netns-examples --example netns-host-local && cargo bench -p netns-benches --bench ipam`
//! (or point NETNS_HOST_LOCAL_BIN at a build of it).

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use netns_ipam::{parse_cidr, Allocator, FileStore, MemoryStore, RangeSet, RangeSpec, Store};

const SLASH16_FREE: usize = 65_533;

fn slash16() -> Vec<RangeSet> {
    vec![RangeSet::new(&[RangeSpec::new(parse_cidr("10.0.0.0/16").unwrap())]).unwrap()]
}

fn temp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("netns-ipam-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// Fill the /16, then free a scattered (1 - pct)% of it, so the free
/// addresses are spread over the range and the cursor sits at the end.
fn occupy<S: Store>(a: &mut Allocator<S>, pct: usize) {
    if pct == 0 {
        return;
    }
    for i in 0..SLASH16_FREE {
        a.allocate(&format!("f{i}"), "eth0", &[]).unwrap();
    }
    let free = SLASH16_FREE - SLASH16_FREE * pct / 100;
    // A fixed stride walk (coprime with the size) scatters the holes.
    let mut k = 0usize;
    for _ in 0..free {
        k = (k + 7_919) % SLASH16_FREE;
        a.release(&format!("f{k}"), "eth0").unwrap();
    }
}

/// Write back what the setup dirtied (tens of thousands of files), so the
/// FileStore figures measure the allocator, not the writeback of the setup.
fn settle() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

fn bench_store<S: Store>(c: &mut Criterion, name: &str, mut make: impl FnMut(&str) -> S) {
    let mut g = c.benchmark_group(format!("ipam/{name}"));
    g.throughput(Throughput::Elements(1));
    for pct in [0usize, 50, 99] {
        let mut a = Allocator::new(slash16(), make(&format!("{name}-{pct}")));
        occupy(&mut a, pct);
        settle();
        let mut n = 0u64;
        g.bench_function(BenchmarkId::new("allocate", format!("{pct}%")), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let id = format!("b{n}");
                    let s = Instant::now();
                    black_box(a.allocate(&id, "eth0", &[]).unwrap());
                    t += s.elapsed();
                    a.release(&id, "eth0").unwrap();
                }
                t
            })
        });
        g.bench_function(BenchmarkId::new("release", format!("{pct}%")), |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let id = format!("b{n}");
                    a.allocate(&id, "eth0", &[]).unwrap();
                    let s = Instant::now();
                    black_box(a.release(&id, "eth0").unwrap());
                    t += s.elapsed();
                }
                t
            })
        });
    }
    // Every address taken but one; the cursor sits right after it, so the
    // search wraps the whole /16 (host-local: 65,532 failed probes).
    let mut a = Allocator::new(slash16(), make(&format!("{name}-last")));
    occupy(&mut a, 100);
    a.release("f30000", "eth0").unwrap();
    settle();
    let mut n = 0u64;
    g.bench_function(BenchmarkId::new("allocate", "last free of 65,533"), |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let id = format!("l{n}");
                let s = Instant::now();
                let got = a.allocate(&id, "eth0", &[]).unwrap();
                t += s.elapsed();
                black_box(got);
                a.release(&id, "eth0").unwrap();
            }
            t
        })
    });
    g.finish();
}

fn our_plugin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NETNS_HOST_LOCAL_BIN") {
        return Some(PathBuf::from(p));
    }
    // target/release/deps/ipam-* -> target/release/examples/netns-host-local
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples/netns-host-local");
    p.is_file().then_some(p)
}

fn add(bin: &Path, dir: &Path, id: &str) {
    cni(bin, dir, "ADD", id);
}

fn cni(bin: &Path, dir: &Path, verb: &str, id: &str) {
    let mut c = Command::new(bin)
        .env_clear()
        .env("CNI_COMMAND", verb)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/var/run/netns/bench")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn plugin");
    let conf = format!(
        r#"{{"cniVersion":"1.0.0","name":"bench","ipam":{{"type":"host-local","subnet":"10.20.0.0/20","dataDir":"{}"}}}}"#,
        dir.display()
    );
    c.stdin.take().unwrap().write_all(conf.as_bytes()).unwrap();
    assert!(
        c.wait().unwrap().success(),
        "{} {verb} {id} failed",
        bin.display()
    );
}

fn thousand_adds(bin: &Path, tag: &str) -> Duration {
    let dir = temp(tag);
    let s = Instant::now();
    for i in 0..1000 {
        add(bin, &dir, &format!("c{i}"));
    }
    let t = s.elapsed();
    let n = std::fs::read_dir(dir.join("bench")).unwrap().count();
    assert_eq!(n, 1002, "1000 reservations + lock + cursor");
    let _ = std::fs::remove_dir_all(&dir);
    t
}

fn plugin_vs_host_local() {
    let hl = Path::new("/usr/lib/cni/host-local");
    let Some(ours) = our_plugin() else {
        println!(
            "plugin vs host-local: SKIPPED, netns-host-local not built \
             (cargo build --release -p netns-examples --example netns-host-local)"
        );
        return;
    };
    if !hl.is_file() {
        println!("plugin vs host-local: SKIPPED, /usr/lib/cni/host-local missing");
        return;
    }
    let (mut t_hl, mut t_ours) = (Duration::ZERO, Duration::ZERO);
    for round in 0..3 {
        let a = thousand_adds(hl, &format!("hl{round}"));
        let b = thousand_adds(&ours, &format!("ours{round}"));
        println!(
            "plugin vs host-local round {round}: 1,000 ADDs on a /20: host-local {:.2} s, netns-host-local {:.2} s",
            a.as_secs_f64(),
            b.as_secs_f64()
        );
        t_hl += a;
        t_ours += b;
    }
    println!(
        "plugin vs host-local (3 rounds, 3,000 ADDs each): host-local {:.2} s ({:.2} ms/ADD), \
         netns-host-local {:.2} s ({:.2} ms/ADD): netns-host-local is {:.1}x faster",
        t_hl.as_secs_f64(),
        t_hl.as_secs_f64() / 3.0,
        t_ours.as_secs_f64(),
        t_ours.as_secs_f64() / 3.0,
        t_hl.as_secs_f64() / t_ours.as_secs_f64()
    );
}

/// A /20's directory holding `n` reservations, written as host-local writes
/// them, and its cursor.
fn occupied(tag: &str, n: usize) -> PathBuf {
    let dir = temp(tag);
    let net = dir.join("bench");
    std::fs::create_dir_all(&net).unwrap();
    let mut last = String::new();
    for i in 0..n {
        // 10.20.0.2 onwards, skipping nothing (.0/.1 of later /24s are fine
        // in a /20).
        let v = 2 + i as u32;
        last = format!("10.20.{}.{}", v / 256, v % 256);
        std::fs::write(net.join(&last), format!("f{i}\r\neth0")).unwrap();
    }
    std::fs::write(net.join("last_reserved_ip.0"), &last).unwrap();
    dir
}

struct Times {
    add: Vec<Duration>,
    del: Vec<Duration>,
}

fn ms(v: &[Duration]) -> (f64, f64) {
    let mut v: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (median, mean)
}

fn plugin_occupancy() {
    let hl = PathBuf::from("/usr/lib/cni/host-local");
    let Some(ours) = our_plugin() else {
        println!("plugin occupancy: SKIPPED, netns-host-local not built");
        return;
    };
    if !hl.is_file() {
        println!("plugin occupancy: SKIPPED, /usr/lib/cni/host-local missing");
        return;
    }
    const ROUNDS: usize = 40;
    // Four cases, measured in turn in every round, so that a change in the
    // machine's load during the run weighs on all of them alike.
    let cases: Vec<(usize, usize)> = [100usize, 2000]
        .iter()
        .flat_map(|&n| [(n, 0usize), (n, 1usize)])
        .collect();
    let bins = [&hl, &ours];
    let names = ["host-local", "netns-host-local"];
    let dirs: Vec<PathBuf> = cases
        .iter()
        .map(|&(n, k)| occupied(&format!("occ-{k}-{n}"), n))
        .collect();
    settle();
    // One untimed ADD + DEL each (netns-host-local writes its index).
    for (&(_, k), dir) in cases.iter().zip(&dirs) {
        cni(bins[k], dir, "ADD", "warm");
        cni(bins[k], dir, "DEL", "warm");
    }
    let mut t: Vec<Times> = cases
        .iter()
        .map(|_| Times {
            add: vec![],
            del: vec![],
        })
        .collect();
    for r in 0..ROUNDS {
        for (c, &(_, k)) in cases.iter().enumerate() {
            let id = format!("o{r}");
            let s = Instant::now();
            cni(bins[k], &dirs[c], "ADD", &id);
            t[c].add.push(s.elapsed());
            let s = Instant::now();
            cni(bins[k], &dirs[c], "DEL", &id);
            t[c].del.push(s.elapsed());
        }
    }
    let mut results = Vec::new();
    for (c, &(n, k)) in cases.iter().enumerate() {
        let name = names[k];
        let left = std::fs::read_dir(dirs[c].join("bench")).unwrap().count();
        assert_eq!(left, n + 2, "{name}: {n} reservations + lock + cursor");
        let (am, aa) = ms(&t[c].add);
        let (dm, da) = ms(&t[c].del);
        println!(
            "plugin occupancy {n:>5} reservations: {name:>16}: ADD median {am:.2} ms (mean {aa:.2}), \
             DEL median {dm:.2} ms (mean {da:.2})"
        );
        results.push((n, k, am, dm));
    }
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    let get = |n: usize, k: usize| {
        results
            .iter()
            .find(|r| r.0 == n && r.1 == k)
            .map(|r| (r.2, r.3))
            .unwrap_or((f64::NAN, f64::NAN))
    };
    let (o100, o2000, h2000) = (get(100, 1), get(2000, 1), get(2000, 0));
    println!(
        "plugin occupancy: netns-host-local at 2,000 / at 100: ADD {:.2}x, DEL {:.2}x; \
         host-local / netns-host-local at 2,000: ADD {:.1}x, DEL {:.1}x",
        o2000.0 / o100.0,
        o2000.1 / o100.1,
        h2000.0 / o2000.0,
        h2000.1 / o2000.1
    );
}

fn main() {
    // `cargo bench --bench ipam -- FILTER`: the plugin comparison runs when
    // there is no filter or the filter mentions "plugin".
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter
        .as_deref()
        .is_none_or(|f| f.contains("plugin") && !f.contains("occupancy"))
    {
        plugin_vs_host_local();
    }
    if filter
        .as_deref()
        .is_none_or(|f| f.contains("plugin") || f.contains("occupancy"))
    {
        plugin_occupancy();
    }
    if filter.as_deref().is_some_and(|f| f.contains("occupancy")) {
        return;
    }
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_store(&mut c, "MemoryStore", |_| MemoryStore::new());
    let mut dirs = Vec::new();
    bench_store(&mut c, "FileStore", |tag| {
        let d = temp(tag);
        dirs.push(d.clone());
        FileStore::open(&d, "net").unwrap()
    });
    c.final_summary();
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}
