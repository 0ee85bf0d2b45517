//! tokio side of Axon's core benchmarks (bench/run.sh runs it beside Axon and Go).
//!
//! Usage: axon-peer-tokio [ct|mt] | axon-peer-tokio sched WORKERS
//!   ct: current-thread runtime (default); mt: multi-thread runtime with one worker;
//!   sched N: the scheduler benchmarks (src/sched.rs) on a multi-thread runtime
//!   with N workers.
//! Every benchmark body runs inside a spawned task, as Axon's runs inside a task,
//! so it is polled by the scheduler like user code (not by block_on in place).
//! Prints `<metric> <median> <min> <max>` over ROUNDS rounds, after a warm-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::time::Sleep;

mod sched;

const ROUNDS: usize = 5;
const SPAWN_N: usize = 200_000;
const BATCH: usize = 1_000;
const YIELD_N: usize = 500_000;
const HANDOFF_N: usize = 200_000;
const TIMER_N: usize = 200_000;
const ARMED_N: usize = 1_000_000;
const FAR: Duration = Duration::from_secs(3600);

fn report(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{} {:.1} {:.1} {:.1}", name, v[v.len() / 2], v[0], v[v.len() - 1]);
}

fn ns_per(t: Instant, n: usize) -> f64 {
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Resident set size in bytes (VmRSS), the same counter the C and Go sides read.
fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

// A waker that does nothing: the timer only has to be registered, never fired.
fn noop_clone(_: *const ()) -> RawWaker {
    RawWaker::new(std::ptr::null(), &NOOP_VTABLE)
}
fn noop(_: *const ()) {}
static NOOP_VTABLE: RawWakerVTable = RawWakerVTable::new(noop_clone, noop, noop, noop);
fn noop_waker() -> Waker {
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &NOOP_VTABLE)) }
}

async fn spawn_join_one(n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        tokio::spawn(async {}).await.unwrap();
    }
    ns_per(t, n)
}

async fn spawn_join_batch(n: usize) -> f64 {
    let mut handles = Vec::with_capacity(BATCH);
    let t = Instant::now();
    for _ in 0..n / BATCH {
        for _ in 0..BATCH {
            handles.push(tokio::spawn(async {}));
        }
        for h in handles.drain(..) {
            h.await.unwrap();
        }
    }
    ns_per(t, n)
}

async fn yield_loop(n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
    ns_per(t, n)
}

/// Two tasks yielding in turn, so every yield hands the worker over. ns per yield.
async fn yield_pair(n: usize) -> f64 {
    let t = Instant::now();
    let other = tokio::spawn(async move {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    });
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
    other.await.unwrap();
    t.elapsed().as_nanos() as f64 / (2 * n) as f64
}

/// Ping-pong between two tasks through Notify; reports ns per one-way hand-off.
async fn handoff(n: usize) -> f64 {
    let pair = Arc::new((Notify::new(), Notify::new()));
    let other = pair.clone();
    let partner = tokio::spawn(async move {
        for _ in 0..n {
            other.0.notified().await;
            other.1.notify_one();
        }
    });
    let t = Instant::now();
    for _ in 0..n {
        pair.0.notify_one();
        pair.1.notified().await;
    }
    let ns = t.elapsed().as_nanos() as f64 / (2 * n) as f64;
    partner.await.unwrap();
    ns
}

/// Arm (first poll registers the entry with the driver) then cancel (drop).
/// Runs unconstrained: after 128 polls the coop budget would make Sleep return
/// Pending without registering, and the loop would measure nothing.
async fn timer_arm_cancel(n: usize) -> f64 {
    tokio::task::unconstrained(async move {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let t = Instant::now();
        for _ in 0..n {
            let s = tokio::time::sleep(FAR);
            tokio::pin!(s);
            assert!(s.as_mut().poll(&mut cx).is_pending());
        }
        ns_per(t, n)
    })
    .await
}

/// RSS growth per armed timer with ARMED_N armed at once, stored in one
/// pre-sized Vec (no Box per timer), as a C caller would keep an array.
async fn timer_rss(n: usize) -> f64 {
    tokio::task::unconstrained(async move {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let before = rss_bytes();
        let mut v: Vec<Sleep> = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(tokio::time::sleep(FAR));
        }
        for s in v.iter_mut() {
            // Sound: the Vec never reallocates (capacity n) and drops in place.
            let p = unsafe { Pin::new_unchecked(s) };
            assert!(p.poll(&mut cx).is_pending());
        }
        let grown = rss_bytes().saturating_sub(before);
        drop(v);
        grown as f64 / n as f64
    })
    .await
}

async fn run_all() {
    let mut rss = Vec::new();
    rss.push(timer_rss(ARMED_N).await); // first, in a fresh heap
    let (mut sj, mut sb, mut y, mut y2, mut ho, mut tm) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 0..=ROUNDS {
        let r = (
            spawn_join_one(SPAWN_N).await,
            spawn_join_batch(SPAWN_N).await,
            yield_loop(YIELD_N).await,
            yield_pair(YIELD_N / 2).await,
            handoff(HANDOFF_N).await,
            timer_arm_cancel(TIMER_N).await,
        );
        if round == 0 {
            continue; // warm-up
        }
        sj.push(r.0);
        sb.push(r.1);
        y.push(r.2);
        y2.push(r.3);
        ho.push(r.4);
        tm.push(r.5);
    }
    report("spawn_join_ns", sj);
    report("spawn_join_batch_ns", sb);
    report("yield_ns", y);
    report("yield_pair_ns", y2);
    report("handoff_ns", ho);
    report("timer_arm_cancel_ns", tm);
    let size = std::mem::size_of::<Sleep>() as f64;
    report("timer_bytes", vec![size]);
    report("timer_rss_bytes", rss);
}

fn main() {
    let flavour = std::env::args().nth(1).unwrap_or_else(|| "ct".into());
    if flavour == "sched" {
        let workers = std::env::args().nth(2).and_then(|w| w.parse().ok()).unwrap_or(1);
        return sched::main(workers);
    }
    let rt = match flavour.as_str() {
        "ct" => tokio::runtime::Builder::new_current_thread(),
        "mt" => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(1);
            b
        }
        _ => {
            eprintln!("usage: axon-peer-tokio [ct|mt] | axon-peer-tokio sched WORKERS");
            std::process::exit(2);
        }
    }
    .enable_time()
    .build()
    .unwrap();
    rt.block_on(async { tokio::spawn(run_all()).await.unwrap() });
}
