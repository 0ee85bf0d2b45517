#!/usr/bin/env python3
"""bench/http/idle_mem.py - resident memory per idle keep-alive connection.

Starts the server command (its port given as {port}), reads its RSS, opens N
connections from this process (a separate process from the server: each side
holds N descriptors), sends one GET / on each and reads the answer, so every
connection has served a request and sits idle in keep-alive; waits until the
server's RSS is steady, then reports (after - before) / N in KiB.

  bench/http/idle_mem.py [-n N] [--port P] -- build/examples/demo --port {port} --workers 1
"""
import argparse, os, resource, selectors, socket, subprocess, sys, time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--port", type=int, default=19600)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = [c.replace("{port}", str(a.port)) for c in a.cmd if c != "--"]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)))
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", a.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        before = rss_kib(srv.pid)
        req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        socks = []
        for i in range(a.n):
            s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
            s.sendall(req)
            socks.append(s)
            if len(socks) % 500 == 0 or i == a.n - 1:
                for t in socks[-500:] if len(socks) % 500 == 0 else socks[-(len(socks) % 500):]:
                    got = b""
                    while not got.endswith(b"Hello, World!"):
                        d = t.recv(4096)
                        if not d:
                            sys.exit(f"connection closed after {len(socks)}")
                        got += d
        time.sleep(1.0)
        after = rss_kib(srv.pid)
        time.sleep(1.0)
        after2 = rss_kib(srv.pid)
        print(f"N={a.n} rss_before={before} KiB rss_after={after2} KiB "
              f"per_conn={(after2 - before) / a.n:.2f} KiB (1 s earlier: {(after - before) / a.n:.2f})")
        for s in socks:
            s.close()
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()


if __name__ == "__main__":
    main()
