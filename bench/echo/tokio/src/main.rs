//! bench/echo/tokio - tokio echo server for the TCP echo benchmark.
//!
//! One task per connection, each with its own 16 KiB read buffer (the
//! largest message the benchmark sends), writing back whatever it reads.
//! `--workers 1` (the default) runs a current_thread runtime; N > 1 a
//! multi_thread runtime with N workers. Listens on 127.0.0.1:P; serves until
//! SIGINT/SIGTERM (default action: the process ends) or until `--timeout`
//! seconds (default 3600) have passed.
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 16384];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn accept_loop(port: u16) {
    let ln = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo_tokio: listen on port {}: {}", port, e);
            std::process::exit(1);
        }
    };
    loop {
        match ln.accept().await {
            Ok((s, _)) => {
                tokio::spawn(serve(s));
            }
            Err(e) => {
                eprintln!("echo_tokio: accept: {}", e);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn main() {
    let mut port: u16 = 0;
    let mut workers: usize = 1;
    let mut timeout: u64 = 3600;
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--port" => port = args[i + 1].parse().unwrap_or(0),
            "--workers" => workers = args[i + 1].parse().unwrap_or(1),
            "--timeout" => timeout = args[i + 1].parse().unwrap_or(3600),
            _ => {}
        }
        i += 2;
    }
    if port == 0 || workers == 0 {
        eprintln!("usage: echo_tokio --port P [--workers N] [--timeout SECS]");
        std::process::exit(2);
    }
    // The safety timeout: a plain thread, so the runtime needs no timer.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(timeout));
        std::process::exit(0);
    });
    let rt = if workers == 1 {
        tokio::runtime::Builder::new_current_thread().enable_io().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_io().build()
    }
    .expect("tokio runtime");
    rt.block_on(accept_loop(port));
}
