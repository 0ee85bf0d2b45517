// Go net/http peer for bench/http: GET / answers "Hello, World!" as
// text/plain, GET /json {"message":"Hello, World!"} as application/json
// (net/http adds Date itself; Server is set by hand as TechEmpower asks).
// GOMAXPROCS comes from --workers (1 by default): one server core.
//
//	server --port P [--workers N]
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
)

var (
	plain = []byte("Hello, World!")
	js    = []byte(`{"message":"Hello, World!"}`)
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1")
	workers := flag.Int("workers", 1, "GOMAXPROCS")
	flag.Parse()
	if *port <= 0 {
		fmt.Fprintln(os.Stderr, "usage: server --port P [--workers N]")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Server"] = []string{"go"}
		h["Content-Type"] = []string{"text/plain"}
		w.Write(plain)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Server"] = []string{"go"}
		h["Content-Type"] = []string{"application/json"}
		w.Write(js)
	})
	srv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", *port), Handler: mux}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
