package main

// Go side of Axon's scheduler benchmarks (issue 3); mirrors bench/axon_sched.c.
//
// `axon-peer-go sched N`: GOMAXPROCS=N. Each round: spawn+join one at a time
// (go + WaitGroup), chained spawn, channel throughput 1->1 and 4->1 (buffered
// channels), fork-join fib(35), and the channel ping-pong; a warm-up round,
// then rounds rounds. Then the runtime sits idle for idleFor with one
// goroutine asleep and the process CPU time spent meanwhile is reported.
// Metric names are those of the Axon program, prefixed wN_.

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"
)

const (
	schedSpawnN  = 100_000
	chainN       = 100_000
	chanN        = 1_000_000
	chanCap      = 1024
	producers    = 4
	ppN          = 100_000
	ppLatN       = 50_000
	ppCrossN     = 20_000
	fibN         = 35
	fibWantTasks = 150_000
	idleFor      = time.Second
	crossMark    = ^uint64(0)
)

// Process CPU time (all threads, user + system), ns.
func cpuNs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}

func schedSpawnJoin(n int) float64 {
	var wg sync.WaitGroup
	t := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return nsPer(t, n)
}

// Not timed: where the child of a spawn + join ran (another thread than its
// parent's at the spawn?), and whether the parent came back on another thread.
func spawnJoinThreads(n int) (cross, moved float64) {
	var wg sync.WaitGroup
	c, m := 0, 0
	for i := 0; i < n; i++ {
		before := syscall.Gettid()
		var child int
		wg.Add(1)
		go func() { child = syscall.Gettid(); wg.Done() }()
		wg.Wait()
		if child != before {
			c++
		}
		if syscall.Gettid() != before {
			m++
		}
	}
	return 100 * float64(c) / float64(n), 100 * float64(m) / float64(n)
}

// Link `left` of the chain: starts the next link, or signals when it is the last.
func chainLink(left int, done chan struct{}) {
	if left == 1 {
		done <- struct{}{}
		return
	}
	go chainLink(left-1, done)
}

func chainedSpawn(n int) float64 {
	done := make(chan struct{}, 1)
	t := time.Now()
	go chainLink(n, done)
	<-done
	return nsPer(t, n)
}

// nprod producer goroutines send n 8-byte messages in all through one
// buffered channel to this goroutine. Messages per second.
func channelRate(nprod, n int) float64 {
	ch := make(chan uint64, chanCap)
	t := time.Now()
	for p := 0; p < nprod; p++ {
		go func() {
			for i := 0; i < n/nprod; i++ {
				ch <- uint64(i)
			}
		}()
	}
	total := (n / nprod) * nprod
	for i := 0; i < total; i++ {
		<-ch
	}
	return float64(total) / time.Since(t).Seconds()
}

func fibSeq(n int) int {
	if n < 2 {
		return n
	}
	return fibSeq(n-1) + fibSeq(n-2)
}

// Above the cutoff: start fib(n-1) and fib(n-2) as goroutines and wait for both.
func fibTask(n, cutoff int) int {
	if n <= cutoff {
		return fibSeq(n)
	}
	var a, b int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { a = fibTask(n-1, cutoff); wg.Done() }()
	go func() { b = fibTask(n-2, cutoff); wg.Done() }()
	wg.Wait()
	return a + b
}

func fibTasks(n, c int) int {
	if n <= c {
		return 0
	}
	return 2 + fibTasks(n-1, c) + fibTasks(n-2, c)
}

type ppResult struct{ mean, p50, p99, p50raw, p99raw, cross, cpu float64 }

// The cost of one clock read as the latency loop pays it (time.Since reads
// the monotonic clock only).
func clockCostNs() float64 {
	base := time.Now()
	gap := make([]float64, 10_000)
	prev := time.Since(base)
	for i := range gap {
		t := time.Since(base)
		gap[i] = float64(t - prev)
		prev = t
	}
	sort.Float64s(gap)
	return gap[len(gap)/2]
}

func pct(sorted []float64, p float64) float64 {
	i := int(p * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// Two goroutines exchange an 8-byte message through two channels of capacity 1.
func pingpong(clockNs float64) ppResult {
	toPong, toPing := make(chan uint64, 1), make(chan uint64, 1)
	done := make(chan struct{})
	go func() {
		for m := range toPong {
			if m == crossMark {
				m = uint64(syscall.Gettid())
			}
			toPing <- m
		}
		close(done)
	}()
	var m uint64
	for i := 0; i < 1000; i++ {
		toPong <- m
		m = <-toPing
	}

	var r ppResult
	c0 := cpuNs()
	t0 := time.Now()
	for i := 0; i < ppN; i++ {
		toPong <- m
		m = <-toPing
	}
	wall := float64(time.Since(t0).Nanoseconds())
	r.cpu = 100 * (cpuNs() - c0) / wall
	r.mean = wall / ppN

	lat := make([]float64, ppLatN)
	base := time.Now()
	prev := time.Since(base)
	for i := range lat {
		toPong <- m
		m = <-toPing
		t := time.Since(base)
		lat[i] = float64(t - prev)
		prev = t
	}
	sort.Float64s(lat)
	r.p50raw, r.p99raw = pct(lat, 0.50), pct(lat, 0.99)
	r.p50, r.p99 = r.p50raw-clockNs, r.p99raw-clockNs

	crossed := 0
	for i := 0; i < ppCrossN; i++ {
		toPong <- crossMark
		if <-toPing != uint64(syscall.Gettid()) {
			crossed++
		}
	}
	r.cross = 100 * float64(crossed) / ppCrossN
	close(toPong)
	<-done
	return r
}

func schedMain(workers int) {
	runtime.GOMAXPROCS(workers)
	cutoff := 2
	abs := func(x int) int {
		if x < 0 {
			return -x
		}
		return x
	}
	for c := 2; c < fibN; c++ {
		if abs(fibTasks(fibN, c)-fibWantTasks) < abs(fibTasks(fibN, cutoff)-fibWantTasks) {
			cutoff = c
		}
	}
	expect := fibSeq(fibN)
	names := []string{"spawn_join_ns", "chain_spawn_ns", "chan_1to1_mps", "chan_4to1_mps",
		"fib_ms", "fib_seq_ms", "pingpong_mean_ns", "pingpong_p50_ns", "pingpong_p99_ns",
		"pingpong_p50_raw_ns", "pingpong_p99_raw_ns", "pingpong_cross_pct", "pingpong_cpu_pct", "clock_ns",
		"spawn_join_child_cross_pct", "spawn_join_parent_moved_pct"}
	v := make([][]float64, len(names))
	for r := 0; r <= rounds; r++ {
		a := schedSpawnJoin(schedSpawnN)
		b := chainedSpawn(chainN)
		aCross, aMoved := spawnJoinThreads(ppCrossN)
		c, d := channelRate(1, chanN), channelRate(producers, chanN)
		s0 := time.Now()
		if fibSeq(fibN) != expect {
			panic("fibSeq")
		}
		e0 := float64(time.Since(s0).Nanoseconds()) / 1e6
		t := time.Now()
		if fibTask(fibN, cutoff) != expect {
			panic("fibTask")
		}
		e := float64(time.Since(t).Nanoseconds()) / 1e6
		clockNs := clockCostNs()
		pp := pingpong(clockNs)
		if r == 0 {
			continue // warm-up
		}
		for i, x := range []float64{a, b, c / 1e6, d / 1e6, e, e0, pp.mean, pp.p50, pp.p99,
			pp.p50raw, pp.p99raw, pp.cross, pp.cpu, clockNs, aCross, aMoved} {
			v[i] = append(v[i], x)
		}
	}

	c0 := cpuNs()
	t0 := time.Now()
	time.Sleep(idleFor)
	idle := 100 * (cpuNs() - c0) / float64(time.Since(t0).Nanoseconds())

	w := func(name string) string { return fmt.Sprintf("w%d_%s", workers, name) }
	for i, name := range names {
		report(w(name), v[i])
	}
	report(w("idle_cpu_pct"), []float64{idle})
	report(w("fib_tasks"), []float64{float64(fibTasks(fibN, cutoff))})
	report(w("fib_cutoff"), []float64{float64(cutoff)})
}
