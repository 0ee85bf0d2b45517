//! hyper 0.14 client for the client benchmark of bench/http: REQS GET
//! requests to URL over CONNS concurrent keep-alive connections (CONNS tasks
//! sharing one hyper::Client whose pool keeps CONNS idle connections per
//! host), each body read to the end, on tokio's current_thread runtime (one
//! client core). One warm-up batch with its own client first (not measured),
//! then the measured batch with a fresh client, so connects are part of it.
//! Prints one line:
//!
//!     reqs= secs= rps= p50_us= p95_us= p99_us= errors=
//!
//!     client --url URL [-n REQS] [-c CONNS]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Client, Uri};

async fn batch(uri: Uri, n: usize, c: usize) -> (Duration, Vec<Duration>, usize) {
    let client = Client::builder().pool_max_idle_per_host(c).build_http::<hyper::Body>();
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(c);
    for _ in 0..c {
        let (client, next, uri) = (client.clone(), next.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errs = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let s = Instant::now();
                let ok = match client.get(uri.clone()).await {
                    Ok(res) => {
                        let status = res.status();
                        hyper::body::to_bytes(res.into_body()).await.is_ok() && status == 200
                    }
                    Err(_) => false,
                };
                if !ok {
                    errs += 1;
                }
                lat.push(s.elapsed());
            }
            (lat, errs)
        }));
    }
    let mut lat = Vec::with_capacity(n);
    let mut errs = 0;
    for t in tasks {
        let (l, e) = t.await.expect("task");
        lat.extend(l);
        errs += e;
    }
    (t0.elapsed(), lat, errs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut url, mut n, mut c) = (String::new(), 1000usize, 64usize);
    let mut i = 1;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--url" => url = args[i + 1].clone(),
            "-n" => n = args[i + 1].parse().unwrap_or(0),
            "-c" => c = args[i + 1].parse().unwrap_or(0),
            _ => n = 0,
        }
        i += 2;
    }
    let uri: Uri = match url.parse() {
        Ok(u) if n > 0 && c > 0 => u,
        _ => {
            eprintln!("usage: client --url URL [-n REQS] [-c CONNS]");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (d, mut lat, errs) = rt.block_on(async move {
        batch(uri.clone(), n, c).await; // warm-up
        batch(uri, n, c).await
    });
    lat.sort();
    let pct = |p: f64| lat[(p * (lat.len() - 1) as f64) as usize].as_nanos() as f64 / 1e3;
    println!(
        "reqs={} secs={:.6} rps={:.0} p50_us={:.1} p95_us={:.1} p99_us={:.1} errors={}",
        n,
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        errs
    );
    if errs > 0 {
        std::process::exit(1);
    }
}
