//! Paired ratios: the library against its floor, measured in alternating
//! batches, so that each library batch is compared with the floor batch run
//! right before or after it. Drift over the run (CPU frequency, other guests
//! on the host, the kernel's own background work) then cancels out of every
//! ratio, which criterion's one-after-the-other groups cannot do; on the
//! 2-core development VM the drift between two groups a few seconds apart is
//! as large as the overhead being measured.
//!
//! Run: `cargo bench -p netns-benches --bench ratio` (root; a private
//! network namespace). Prints, per operation, the median time of each side
//! and the median, 10th and 90th percentile of the paired ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use netns_benches::*;
use netns_core::{Handle, NetnsDir};

/// Time `batch` runs of `f`.
fn time(batch: u32, f: &mut dyn FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// `pairs` paired samples of `batch` operations each; the side that goes
/// first alternates.
fn paired(name: &str, pairs: usize, batch: u32, lib: &mut dyn FnMut(), floor: &mut dyn FnMut()) {
    // Warm up both.
    time(batch, lib);
    time(batch, floor);
    let mut ratios = Vec::with_capacity(pairs);
    let mut lt = Vec::with_capacity(pairs);
    let mut ft = Vec::with_capacity(pairs);
    for i in 0..pairs {
        let (l, f) = if i % 2 == 0 {
            let l = time(batch, lib);
            (l, time(batch, floor))
        } else {
            let f = time(batch, floor);
            (time(batch, lib), f)
        };
        ratios.push(l.as_secs_f64() / f.as_secs_f64());
        lt.push(l.as_secs_f64() / f64::from(batch));
        ft.push(f.as_secs_f64() / f64::from(batch));
    }
    for v in [&mut ratios, &mut lt, &mut ft] {
        v.sort_by(f64::total_cmp);
    }
    let us = |v: &[f64]| percentile(v, 0.5) * 1e6;
    println!(
        "{name}: library {:.2} µs, floor {:.2} µs; paired ratio median {:.3} (p10 {:.3}, p90 {:.3}) over {pairs} pairs of {batch}",
        us(&lt),
        us(&ft),
        percentile(&ratios, 0.5),
        percentile(&ratios, 0.1),
        percentile(&ratios, 0.9),
    );
}

fn main() {
    // cargo bench passes --bench; nothing else is read.
    enter_private_netns();
    let h = Handle::new().unwrap();

    make_veths("g", 500); // 1000 links (+ lo)
    let mut raw = RawSocket::open();
    let req = getlink_by_name("g250");
    paired(
        "link get by name among 1000 links",
        400,
        200,
        &mut || {
            black_box(h.link_get("g250").unwrap());
        },
        &mut || {
            black_box(raw.one(req.bytes()));
        },
    );
    h.link_del_many((0..500).map(|i| format!("g{i}"))).unwrap();

    let dir = tempdir();
    let nsd = NetnsDir::new(&dir);
    let path = dir.join("bench");
    paired(
        "named netns create + delete",
        100,
        20,
        &mut || {
            nsd.create("bench").unwrap();
            nsd.delete("bench").unwrap();
        },
        &mut || floor_netns_create_delete(&dir, &path),
    );
    cleanup_dir(&dir);
}
