//! bench/fs/tokio - the tokio::fs side of the file benchmark (bench/fs/run.sh).
//!
//! Same workloads and output as bench/fs/fs_c.c, on a default multi_thread
//! runtime (one worker per CPU); every body runs inside a spawned task.
//!
//!   axon-fs-tokio seqwrite FILE MIB BLOCK_KIB handle|whole
//!   axon-fs-tokio seqread  FILE MIB BLOCK_KIB handle|whole
//!   axon-fs-tokio small    DIR N SIZE CONC
//!
//! Prints `<metric> <value>` lines.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn die(what: &str, e: std::io::Error) -> ! {
    eprintln!("axon-fs-tokio: {}: {}", what, e);
    std::process::exit(1);
}

/// User + system CPU time of the whole process (all threads), seconds.
fn cpu_s() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + 7) as u8).collect()
}

async fn seqwrite(path: String, mib: usize, block: usize, whole: bool) {
    let total = mib << 20;
    let t0 = Instant::now();
    if whole {
        let data = pattern(total);
        let t = Instant::now();
        tokio::fs::write(&path, &data).await.unwrap_or_else(|e| die("write", e));
        let tw = t.elapsed().as_secs_f64();
        let ts = Instant::now();
        let f = tokio::fs::File::open(&path).await.unwrap_or_else(|e| die("open", e));
        f.sync_data().await.unwrap_or_else(|e| die("sync_data", e));
        println!("seq_write_mbps {:.1}", total as f64 / tw / 1e6);
        println!("seq_sync_ms {:.1}", ts.elapsed().as_secs_f64() * 1e3);
        return;
    }
    let buf = pattern(block);
    let mut f = tokio::fs::File::create(&path).await.unwrap_or_else(|e| die("create", e));
    let mut done = 0;
    while done < total {
        f.write_all(&buf).await.unwrap_or_else(|e| die("write", e));
        done += block;
    }
    f.flush().await.unwrap_or_else(|e| die("flush", e));
    let tw = t0.elapsed().as_secs_f64();
    let ts = Instant::now();
    f.sync_data().await.unwrap_or_else(|e| die("sync_data", e));
    println!("seq_write_mbps {:.1}", total as f64 / tw / 1e6);
    println!("seq_sync_ms {:.1}", ts.elapsed().as_secs_f64() * 1e3);
}

async fn seqread(path: String, mib: usize, block: usize, whole: bool) {
    let total = mib << 20;
    let t0 = Instant::now();
    let got = if whole {
        let v = tokio::fs::read(&path).await.unwrap_or_else(|e| die("read", e));
        if v[block] != pattern(block + 1)[block] {
            eprintln!("axon-fs-tokio: wrong content");
            std::process::exit(1);
        }
        v.len()
    } else {
        let mut f = tokio::fs::File::open(&path).await.unwrap_or_else(|e| die("open", e));
        let mut buf = vec![0u8; block];
        let mut got = 0;
        loop {
            let n = f.read(&mut buf).await.unwrap_or_else(|e| die("read", e));
            if n == 0 {
                break;
            }
            got += n;
        }
        got
    };
    let t = t0.elapsed().as_secs_f64();
    if got != total {
        eprintln!("axon-fs-tokio: read {} bytes, expected {}", got, total);
        std::process::exit(1);
    }
    println!("seq_read_mbps {:.1}", total as f64 / t / 1e6);
}

// Runs one phase: conc tasks, task k taking files k, k+conc, ...
// Returns (ops/s, CPU µs per op).
async fn phase<F, Fut>(paths: &Arc<Vec<PathBuf>>, conc: usize, op: F) -> (f64, f64)
where
    F: Fn(PathBuf) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let t0 = Instant::now();
    let c0 = cpu_s();
    let mut hs = Vec::with_capacity(conc);
    for k in 0..conc {
        let paths = paths.clone();
        hs.push(tokio::spawn(async move {
            let mut i = k;
            while i < paths.len() {
                op(paths[i].clone()).await;
                i += conc;
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let n = paths.len() as f64;
    (n / t0.elapsed().as_secs_f64(), (cpu_s() - c0) * 1e6 / n)
}

async fn small(dir: String, n: usize, size: usize, conc: usize) {
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die("mkdir", e));
    let paths: Arc<Vec<PathBuf>> = Arc::new((0..n).map(|i| PathBuf::from(format!("{}/f{}", dir, i))).collect());
    static DATA: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DATA.get_or_init(|| pattern(size));
    let t0 = Instant::now();
    let c = phase(&paths, conc, |p| async move {
        tokio::fs::write(&p, DATA.get().unwrap()).await.unwrap_or_else(|e| die("write", e));
    })
    .await;
    let r = phase(&paths, conc, move |p| async move {
        let v = tokio::fs::read(&p).await.unwrap_or_else(|e| die("read", e));
        if v.len() != DATA.get().unwrap().len() {
            eprintln!("axon-fs-tokio: short file");
            std::process::exit(1);
        }
    })
    .await;
    let d = phase(&paths, conc, |p| async move {
        tokio::fs::remove_file(&p).await.unwrap_or_else(|e| die("remove", e));
    })
    .await;
    let all = 3.0 * n as f64 / t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir(&dir);
    println!("small_create_ops {:.0}", c.0);
    println!("small_read_ops {:.0}", r.0);
    println!("small_delete_ops {:.0}", d.0);
    println!("small_all_ops {:.0}", all);
    println!("small_create_cpu_us {:.2}", c.1);
    println!("small_read_cpu_us {:.2}", r.1);
    println!("small_delete_cpu_us {:.2}", d.1);
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: axon-fs-tokio seqwrite|seqread FILE MIB BLOCK_KIB handle|whole | small DIR N SIZE CONC");
        std::process::exit(2);
    };
    if a.len() < 2 {
        usage();
    }
    let num = |i: usize| -> usize { a.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()) };
    let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    match a[1].as_str() {
        "seqwrite" | "seqread" if a.len() == 6 => {
            let (path, mib, block) = (a[2].clone(), num(3), num(4) << 10);
            let whole = match a[5].as_str() {
                "whole" => true,
                "handle" => false,
                _ => usage(),
            };
            let w = a[1] == "seqwrite";
            rt.block_on(async move {
                tokio::spawn(async move {
                    if w {
                        seqwrite(path, mib, block, whole).await
                    } else {
                        seqread(path, mib, block, whole).await
                    }
                })
                .await
                .unwrap()
            });
        }
        "small" if a.len() == 6 => {
            let (dir, n, size, conc) = (a[2].clone(), num(3), num(4), num(5).max(1));
            rt.block_on(async move { tokio::spawn(small(dir, n, size, conc)).await.unwrap() });
        }
        _ => usage(),
    }
}
