// Go net/http client for the client benchmark of bench/http: REQS GET
// requests to URL over CONNS concurrent keep-alive connections (CONNS
// goroutines sharing one http.Client whose pool keeps CONNS idle connections
// per host), each body read to the end. One warm-up batch with its own
// client first (not measured), then the measured batch with a fresh client,
// so connects are part of it. Prints one line:
//
//	reqs= secs= rps= p50_us= p95_us= p99_us= errors=
//
//	client -url URL [-n REQS] [-c CONNS]
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func batch(url string, n, c int) (time.Duration, []time.Duration, int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c, DisableCompression: true}
	cl := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	lat := make([]time.Duration, n)
	var next, errs int64 = -1, 0
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(n) {
					return
				}
				s := time.Now()
				resp, err := cl.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					atomic.AddInt64(&errs, 1)
				}
				lat[i] = time.Since(s)
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), lat, errs
}

func main() {
	url := flag.String("url", "", "URL to GET")
	n := flag.Int("n", 1000, "requests")
	c := flag.Int("c", 64, "concurrent connections")
	flag.Parse()
	if *url == "" || *n <= 0 || *c <= 0 {
		fmt.Fprintln(os.Stderr, "usage: client -url URL [-n REQS] [-c CONNS]")
		os.Exit(2)
	}
	batch(*url, *n, *c) // warm-up
	d, lat, errs := batch(*url, *n, *c)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	fmt.Printf("reqs=%d secs=%.6f rps=%.0f p50_us=%.1f p95_us=%.1f p99_us=%.1f errors=%d\n",
		*n, d.Seconds(), float64(*n)/d.Seconds(), pct(0.50), pct(0.95), pct(0.99), errs)
	if errs > 0 {
		os.Exit(1)
	}
}
