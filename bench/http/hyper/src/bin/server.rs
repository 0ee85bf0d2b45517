//! hyper 0.14 peer for bench/http: GET /json answers {"message":"Hello, World!"}
//! as application/json, anything else "Hello, World!" as text/plain. hyper
//! adds Date itself; Server is set here as TechEmpower asks. Pipelined
//! answers are flushed together (`http1_pipeline_flush`). One worker
//! (`--workers 1`, the default) runs tokio's current_thread runtime; more
//! run multi_thread with that many workers.
//!
//!     server --port P [--workers N]
use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server};

static PLAIN: &[u8] = b"Hello, World!";
static JSON: &[u8] = br#"{"message":"Hello, World!"}"#;

async fn handle(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (body, ctype) = if req.uri().path() == "/json" {
        (JSON, "application/json")
    } else {
        (PLAIN, "text/plain")
    };
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(SERVER, HeaderValue::from_static("hyper"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(res)
}

fn main() {
    let mut port = 0u16;
    let mut workers = 1usize;
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--port" => port = args[i + 1].parse().unwrap_or(0),
            "--workers" => workers = args[i + 1].parse().unwrap_or(1),
            _ => port = 0,
        }
        i += 2;
    }
    if port == 0 || workers == 0 {
        eprintln!("usage: server --port P [--workers N]");
        std::process::exit(2);
    }
    let rt = if workers == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
    }
    .expect("runtime");
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let make = make_service_fn(|_| async { Ok::<_, Infallible>(service_fn(handle)) });
        // http1_pipeline_flush: one write for the answers to a pipelined
        // batch (what hyper's TechEmpower entry turns on).
        let server = Server::bind(&addr).tcp_nodelay(true).http1_pipeline_flush(true).serve(make);
        if let Err(e) = server.await {
            eprintln!("server: {e}");
            std::process::exit(1);
        }
    });
}
