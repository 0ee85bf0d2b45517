// bench/echo/go/echo.go - Go echo server for the TCP echo benchmark.
//
// One goroutine per connection, each with its own 16 KiB read buffer (the
// largest message the benchmark sends), writing back whatever it reads.
// GOMAXPROCS comes from --workers (default: the GOMAXPROCS environment
// variable, else 1). Listens on 127.0.0.1:P; serves until SIGINT/SIGTERM or
// until --timeout seconds (default 3600) have passed.
//
// Build: GOFLAGS= GOPROXY=off GO111MODULE=off go build -o echo_go echo.go
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1")
	workers := flag.Int("workers", 0, "GOMAXPROCS (default: $GOMAXPROCS, else 1)")
	timeout := flag.Int("timeout", 3600, "exit after this many seconds")
	flag.Parse()
	if *port <= 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: echo_go --port P [--workers N] [--timeout SECS]")
		os.Exit(2)
	}
	n := *workers
	if n <= 0 {
		if v, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && v > 0 {
			n = v
		} else {
			n = 1
		}
	}
	runtime.GOMAXPROCS(n)

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_go:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-sig:
		case <-time.After(time.Duration(*timeout) * time.Second):
		}
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			fmt.Fprintln(os.Stderr, "echo_go: accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c) // Go sets TCP_NODELAY on accepted connections by default
	}
}
