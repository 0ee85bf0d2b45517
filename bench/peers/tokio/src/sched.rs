//! tokio side of Axon's scheduler benchmarks (issue 3); mirrors bench/axon_sched.c.
//!
//! `axon-peer-tokio sched N`: a multi_thread runtime with `worker_threads(N)`.
//! Every body runs inside a spawned task. Each round: spawn+join one at a time,
//! chained spawn, channel throughput 1->1 and 4->1 (tokio::sync::mpsc), fork-join
//! fib(35), and the channel ping-pong; a warm-up round, then ROUNDS rounds. Then
//! the runtime sits idle for IDLE with one task asleep and the process CPU time
//! spent meanwhile is reported. Metric names are those of the Axon program,
//! prefixed `wN_`.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

const ROUNDS: usize = 5;
const SPAWN_N: usize = 100_000;
const CHAIN_N: usize = 100_000;
const CHAN_N: u64 = 1_000_000;
const CHAN_CAP: usize = 1024;
const PRODUCERS: u64 = 4;
const PP_N: usize = 100_000;
const PP_LAT_N: usize = 50_000;
const PP_CROSS_N: usize = 20_000;
const FIB_N: u32 = 35;
const FIB_TASKS: i64 = 150_000;
const IDLE: Duration = Duration::from_millis(1000);
const CROSS_MARK: u64 = u64::MAX;

fn report(w: usize, name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "w{}_{} {:.1} {:.1} {:.1}",
        w,
        name,
        v[v.len() / 2],
        v[0],
        v[v.len() - 1]
    );
}

thread_local! {
    static ANCHOR: u8 = 0;
}

/// The thread the caller runs on, as a number.
fn thread_token() -> u64 {
    ANCHOR.with(|a| a as *const u8 as u64)
}

/// Process CPU time (all threads, user + system), ns.
fn cpu_ns() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) as f64 * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) as f64 * 1e3
}

async fn spawn_join(n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        tokio::spawn(async {}).await.unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Not timed: where the child of a spawn + join ran (another thread than its
/// parent's at the spawn?), and whether the parent came back on another thread.
async fn spawn_join_threads(n: usize) -> (f64, f64) {
    let (mut cross, mut moved) = (0, 0);
    for _ in 0..n {
        let before = thread_token();
        let child = tokio::spawn(async { thread_token() }).await.unwrap();
        cross += (child != before) as usize;
        moved += (thread_token() != before) as usize;
    }
    (100.0 * cross as f64 / n as f64, 100.0 * moved as f64 / n as f64)
}

/// Link `left` of the chain: spawns the next link, or signals when it is the last.
fn chain_link(left: usize, done: oneshot::Sender<()>) {
    if left == 1 {
        let _ = done.send(());
    } else {
        tokio::spawn(async move { chain_link(left - 1, done) });
    }
}

async fn chained_spawn(n: usize) -> f64 {
    let (tx, rx) = oneshot::channel();
    let t = Instant::now();
    tokio::spawn(async move { chain_link(n, tx) });
    rx.await.unwrap();
    t.elapsed().as_nanos() as f64 / n as f64
}

/// nprod producer tasks send n 8-byte messages in all through one bounded
/// channel to this task. Messages per second.
async fn channel_rate(nprod: u64, n: u64) -> f64 {
    let (tx, mut rx) = mpsc::channel::<u64>(CHAN_CAP);
    let t = Instant::now();
    let mut hs = Vec::new();
    for _ in 0..nprod {
        let tx = tx.clone();
        hs.push(tokio::spawn(async move {
            for i in 0..n / nprod {
                tx.send(i).await.unwrap();
            }
        }));
    }
    drop(tx);
    let total = (n / nprod) * nprod;
    for _ in 0..total {
        rx.recv().await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    for h in hs {
        h.await.unwrap();
    }
    total as f64 / secs
}

fn fib_seq(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib_seq(n - 1) + fib_seq(n - 2)
    }
}

/// Above the cutoff: spawn fib(n-1) and fib(n-2) as tasks and join both.
/// (A plain fn returning the JoinHandle: no boxed recursive future.)
fn fib_spawn(n: u32, cutoff: u32) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        if n <= cutoff {
            return fib_seq(n);
        }
        let a = fib_spawn(n - 1, cutoff);
        let b = fib_spawn(n - 2, cutoff);
        a.await.unwrap() + b.await.unwrap()
    })
}

fn fib_tasks(n: u32, c: u32) -> i64 {
    if n <= c {
        0
    } else {
        2 + fib_tasks(n - 1, c) + fib_tasks(n - 2, c)
    }
}

struct PingPong {
    mean: f64,
    p50: f64,
    p99: f64,
    p50_raw: f64,
    p99_raw: f64,
    cross_pct: f64,
    cpu_pct: f64,
}

/// The cost of one Instant::now() as the latency loop pays it.
fn clock_cost_ns() -> f64 {
    let mut gap = Vec::with_capacity(10_000);
    let mut prev = Instant::now();
    for _ in 0..10_000 {
        let t = Instant::now();
        gap.push((t - prev).as_nanos() as f64);
        prev = t;
    }
    gap.sort_by(|a, b| a.partial_cmp(b).unwrap());
    gap[gap.len() / 2]
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

/// Two tasks exchange an 8-byte message through two mpsc channels of capacity 1.
async fn pingpong(clock_ns: f64) -> PingPong {
    let (to_pong, mut at_pong) = mpsc::channel::<u64>(1);
    let (to_ping, mut at_ping) = mpsc::channel::<u64>(1);
    let other = tokio::spawn(async move {
        while let Some(mut m) = at_pong.recv().await {
            if m == CROSS_MARK {
                m = thread_token();
            }
            to_ping.send(m).await.unwrap();
        }
    });
    macro_rules! round_trip {
        ($m:expr) => {{
            to_pong.send($m).await.unwrap();
            at_ping.recv().await.unwrap()
        }};
    }
    let mut m = 0u64;
    for _ in 0..1000 {
        m = round_trip!(m);
    }

    let c0 = cpu_ns();
    let t0 = Instant::now();
    for _ in 0..PP_N {
        m = round_trip!(m);
    }
    let wall = t0.elapsed().as_nanos() as f64;
    let cpu_pct = 100.0 * (cpu_ns() - c0) / wall;
    let mean = wall / PP_N as f64;

    let mut lat = Vec::with_capacity(PP_LAT_N);
    let mut prev = Instant::now();
    for _ in 0..PP_LAT_N {
        m = round_trip!(m);
        let t = Instant::now();
        lat.push((t - prev).as_nanos() as f64);
        prev = t;
    }
    std::hint::black_box(m);
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (p50_raw, p99_raw) = (pct(&lat, 0.50), pct(&lat, 0.99));

    let mut crossed = 0;
    for _ in 0..PP_CROSS_N {
        let q = round_trip!(CROSS_MARK);
        crossed += (q != thread_token()) as usize;
    }
    drop(to_pong);
    other.await.unwrap();
    PingPong {
        mean,
        p50: p50_raw - clock_ns,
        p99: p99_raw - clock_ns,
        p50_raw,
        p99_raw,
        cross_pct: 100.0 * crossed as f64 / PP_CROSS_N as f64,
        cpu_pct,
    }
}

async fn run_all(w: usize) {
    let mut cutoff = 2;
    for c in 2..FIB_N {
        if (fib_tasks(FIB_N, c) - FIB_TASKS).abs() < (fib_tasks(FIB_N, cutoff) - FIB_TASKS).abs() {
            cutoff = c;
        }
    }
    let expect = fib_seq(FIB_N);
    let mut v: Vec<Vec<f64>> = vec![Vec::new(); 16];
    for round in 0..=ROUNDS {
        let a = spawn_join(SPAWN_N).await;
        let b = chained_spawn(CHAIN_N).await;
        let (a_cross, a_moved) = spawn_join_threads(PP_CROSS_N).await;
        let c = channel_rate(1, CHAN_N).await;
        let d = channel_rate(PRODUCERS, CHAN_N).await;
        let s0 = Instant::now();
        assert_eq!(fib_seq(std::hint::black_box(FIB_N)), expect);
        let e0 = s0.elapsed().as_nanos() as f64 / 1e6;
        let t = Instant::now();
        assert_eq!(fib_spawn(FIB_N, cutoff).await.unwrap(), expect);
        let e = t.elapsed().as_nanos() as f64 / 1e6;
        let clock_ns = clock_cost_ns();
        let pp = pingpong(clock_ns).await;
        if round == 0 {
            continue; // warm-up
        }
        for (i, x) in [
            a,
            b,
            c / 1e6,
            d / 1e6,
            e,
            e0,
            pp.mean,
            pp.p50,
            pp.p99,
            pp.p50_raw,
            pp.p99_raw,
            pp.cross_pct,
            pp.cpu_pct,
            clock_ns,
            a_cross,
            a_moved,
        ]
        .into_iter()
        .enumerate()
        {
            v[i].push(x);
        }
    }

    let c0 = cpu_ns();
    let t0 = Instant::now();
    tokio::time::sleep(IDLE).await;
    let idle = 100.0 * (cpu_ns() - c0) / t0.elapsed().as_nanos() as f64;

    let names = [
        "spawn_join_ns",
        "chain_spawn_ns",
        "chan_1to1_mps",
        "chan_4to1_mps",
        "fib_ms",
        "fib_seq_ms",
        "pingpong_mean_ns",
        "pingpong_p50_ns",
        "pingpong_p99_ns",
        "pingpong_p50_raw_ns",
        "pingpong_p99_raw_ns",
        "pingpong_cross_pct",
        "pingpong_cpu_pct",
        "clock_ns",
        "spawn_join_child_cross_pct",
        "spawn_join_parent_moved_pct",
    ];
    for (name, vals) in names.iter().zip(v) {
        report(w, name, vals);
    }
    report(w, "idle_cpu_pct", vec![idle]);
    report(w, "fib_tasks", vec![fib_tasks(FIB_N, cutoff) as f64]);
    report(w, "fib_cutoff", vec![cutoff as f64]);
}

pub fn main(workers: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move { tokio::spawn(run_all(workers)).await.unwrap() });
}
