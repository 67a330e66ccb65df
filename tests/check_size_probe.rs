use dcsim::check::app::AppKind;
use dcsim::check::world::*;
use dcsim::model::Profile;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
struct Counting;
static BYTES: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        BYTES.fetch_add(l.size(), Ordering::Relaxed);
        COUNT.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}
#[global_allocator]
static A: Counting = Counting;
fn cost<T: Clone>(name: &str, v: &T) {
    let (b0, c0) = (BYTES.load(Ordering::Relaxed), COUNT.load(Ordering::Relaxed));
    let x = v.clone();
    let (b1, c1) = (BYTES.load(Ordering::Relaxed), COUNT.load(Ordering::Relaxed));
    drop(x);
    println!("{name}: {} bytes in {} allocations", b1 - b0, c1 - c0);
}
#[test]
fn probe() {
    let w = World::new(WorldConfig::new(Profile::WEBRTC_RS, AppKind::Guarded)).unwrap();
    let mut s = w.init();
    let mut acts = Vec::new();
    // walk: always take the first Deliver, else first action, 20 steps
    for _ in 0..20 {
        w.actions(&s, &mut acts);
        let a = acts
            .iter()
            .find(|a| matches!(a, Action::Deliver { .. }))
            .cloned()
            .or_else(|| acts.first().cloned());
        let Some(a) = a else { break };
        if let Some(n) = w.step(&s, &a) {
            s = n;
        }
    }
    let a = s.app(dcsim::trace::PeerId::A).clone();
    cost("peer a", s.peer(dcsim::trace::PeerId::A));
    cost("app a", &a);
    cost("monitor", s.monitor());
    cost("net", s.net());
    println!("{:?}", s.peer(dcsim::trace::PeerId::A).sctp_state());
}

#[test]
fn distinct_parts() {
    use dcsim::check::part::fingerprint;
    use std::collections::HashSet;
    let mut cfg = WorldConfig::new(Profile::WEBRTC_RS, AppKind::Guarded);
    cfg.bounds
        .apply("timer-fires=0,drops=0,duplications=0,ice-restarts=0")
        .unwrap();
    let w = World::new(cfg).unwrap();
    let mut seen = HashSet::new();
    let mut sets: Vec<HashSet<u64>> = vec![HashSet::new(); 6];
    let mut frontier = vec![w.init()];
    let mut acts = Vec::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for s in &frontier {
            w.actions(s, &mut acts);
            for a in &acts {
                if let Some(n) = w.step(s, a) {
                    if seen.insert(fingerprint(&n)) {
                        sets[0].insert(fingerprint(n.peer(dcsim::trace::PeerId::A)));
                        sets[1].insert(fingerprint(n.peer(dcsim::trace::PeerId::B)));
                        sets[2].insert(fingerprint(n.app(dcsim::trace::PeerId::A)));
                        sets[3].insert(fingerprint(n.app(dcsim::trace::PeerId::B)));
                        sets[4].insert(fingerprint(n.monitor()));
                        sets[5].insert(fingerprint(n.net()));
                        next.push(n);
                    }
                }
            }
        }
        frontier = next;
    }
    println!(
        "states {} peerA {} peerB {} appA {} appB {} monitor {} net {}",
        seen.len(),
        sets[0].len(),
        sets[1].len(),
        sets[2].len(),
        sets[3].len(),
        sets[4].len(),
        sets[5].len()
    );
}

#[test]
fn restart_histogram() {
    use dcsim::check::part::fingerprint;
    use std::collections::{BTreeMap, HashSet};
    let mut cfg = WorldConfig::new(Profile::WEBRTC_RS, AppKind::Guarded);
    cfg.bounds.apply("timer-fires=0,drops=0,duplications=0,channel-closes=0,peer-closes=0").unwrap();
    let w = World::new(cfg).unwrap();
    let mut seen = HashSet::new();
    let mut frontier = vec![w.init()];
    let mut acts = Vec::new();
    let mut hist: BTreeMap<String, usize> = BTreeMap::new();
    let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for s in &frontier {
            w.actions(s, &mut acts);
            for a in &acts {
                if let Some(n) = w.step(s, a) {
                    if seen.insert(fingerprint(&n)) {
                        *sizes.entry(n.net().len()).or_default() += 1;
                        for ((to, p), _) in n.net() {
                            *hist.entry(format!("{to} {}", describe_packet(p))).or_default() += 1;
                        }
                        next.push(n);
                    }
                }
            }
        }
        frontier = next;
    }
    println!("states {}", seen.len());
    println!("sizes {sizes:?}");
    let mut v: Vec<_> = hist.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (k, n) in v.iter().take(30) { println!("{n:>8} {k}"); }
}
