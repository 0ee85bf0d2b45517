// Go side of Axon's core benchmarks (bench/run.sh runs it beside Axon and tokio).
//
// Build: GOFLAGS= GOPROXY=off go build -o axon-peer-go main.go sched.go
// Runs with GOMAXPROCS=1 (one P, the analogue of one worker).
// `axon-peer-go sched N` runs the scheduler benchmarks instead (sched.go).
// Prints `<metric> <median> <min> <max>` over rounds rounds, after a warm-up.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

const (
	rounds   = 5
	spawnN   = 200_000
	batch    = 1_000
	yieldN   = 500_000
	handoffN = 200_000
	timerN   = 200_000
	armedN   = 1_000_000
	far      = time.Hour
)

func report(name string, v []float64) {
	sort.Float64s(v)
	fmt.Printf("%s %.1f %.1f %.1f\n", name, v[len(v)/2], v[0], v[len(v)-1])
}

func nsPer(t time.Time, n int) float64 { return float64(time.Since(t).Nanoseconds()) / float64(n) }

// VmRSS in bytes, the same counter the C and Rust sides read.
func rssBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			kb, _ := strconv.ParseUint(strings.Fields(sc.Text())[1], 10, 64)
			return kb * 1024
		}
	}
	panic("no VmRSS")
}

func heapBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// WaitGroup is the idiomatic join for goroutines that return nothing; it is
// reused, so the loop allocates only the goroutine.
func spawnJoinOne(n int) float64 {
	var wg sync.WaitGroup
	t := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return nsPer(t, n)
}

func spawnJoinBatch(n int) float64 {
	var wg sync.WaitGroup
	t := time.Now()
	for i := 0; i < n/batch; i++ {
		wg.Add(batch)
		for j := 0; j < batch; j++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	return nsPer(t, n)
}

func yieldLoop(n int) float64 {
	t := time.Now()
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	return nsPer(t, n)
}

// Two goroutines yielding in turn, so every Gosched hands the P over. ns per yield.
func yieldPair(n int) float64 {
	var wg sync.WaitGroup
	t := time.Now()
	wg.Add(1)
	go func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}()
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	wg.Wait()
	return float64(time.Since(t).Nanoseconds()) / float64(2*n)
}

// Ping-pong over unbuffered channels; ns per one-way hand-off.
func handoffLoop(n int) float64 {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			<-ping
			pong <- struct{}{}
		}
	}()
	t := time.Now()
	for i := 0; i < n; i++ {
		ping <- struct{}{}
		<-pong
	}
	return float64(time.Since(t).Nanoseconds()) / float64(2*n)
}

func nop() {}

// AfterFunc needs no channel: the cheapest timer Go offers.
func afterFuncArmCancel(n int) float64 {
	t := time.Now()
	for i := 0; i < n; i++ {
		time.AfterFunc(far, nop).Stop()
	}
	return nsPer(t, n)
}

// NewTimer + Stop: the timer a select waits on (allocates its channel too).
func newTimerArmCancel(n int) float64 {
	t := time.Now()
	for i := 0; i < n; i++ {
		time.NewTimer(far).Stop()
	}
	return nsPer(t, n)
}

// Live heap and RSS growth per timer with n armed at once. GC stays off
// while arming; the collection before reading the heap frees only the
// timer heap's outgrown arrays, since every timer is still referenced.
func armedBytes(n int, arm func() *time.Timer) (heap, rss float64) {
	runtime.GC()
	debug.SetGCPercent(-1)
	defer debug.SetGCPercent(100)
	timers := make([]*time.Timer, n)
	h0, r0 := heapBytes(), rssBytes()
	for i := range timers {
		timers[i] = arm()
	}
	r1 := rssBytes()
	runtime.GC()
	h1 := heapBytes()
	for _, tm := range timers {
		tm.Stop()
	}
	return float64(h1-h0) / float64(n), float64(r1-r0) / float64(n)
}

// Each memory figure comes from a fresh process (this program, re-run with
// an argument): in a reused heap, freed spans would hide the RSS growth.
func memChild(kind string) []string {
	out, err := exec.Command(os.Args[0], kind).Output()
	if err != nil {
		panic(err)
	}
	return strings.Fields(string(out))
}

func memFigures(kind string) (heap, rss float64) {
	f := memChild(kind)
	heap, _ = strconv.ParseFloat(f[0], 64)
	rss, _ = strconv.ParseFloat(f[1], 64)
	return
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "sched" {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: axon-peer-go [sched WORKERS]")
			os.Exit(2)
		}
		schedMain(n)
		return
	}
	runtime.GOMAXPROCS(1)
	if len(os.Args) == 2 {
		arm := func() *time.Timer { return time.AfterFunc(far, nop) }
		if os.Args[1] == "mem-newtimer" {
			arm = func() *time.Timer { return time.NewTimer(far) }
		}
		h, r := armedBytes(armedN, arm)
		fmt.Println(h, r)
		return
	}
	afHeap, afRSS := memFigures("mem-afterfunc")
	ntHeap, ntRSS := memFigures("mem-newtimer")

	var sj, sb, y, y2, ho, tm, nt []float64
	for r := 0; r <= rounds; r++ {
		a, b, c, c2 := spawnJoinOne(spawnN), spawnJoinBatch(spawnN), yieldLoop(yieldN), yieldPair(yieldN/2)
		d, e, f := handoffLoop(handoffN), afterFuncArmCancel(timerN), newTimerArmCancel(timerN)
		if r == 0 {
			continue // warm-up
		}
		sj, sb, y, y2 = append(sj, a), append(sb, b), append(y, c), append(y2, c2)
		ho, tm, nt = append(ho, d), append(tm, e), append(nt, f)
	}
	report("spawn_join_ns", sj)
	report("spawn_join_batch_ns", sb)
	report("yield_ns", y)
	report("yield_pair_ns", y2)
	report("handoff_ns", ho)
	report("timer_arm_cancel_ns", tm)
	report("timer_bytes", []float64{afHeap})
	report("timer_rss_bytes", []float64{afRSS})
	report("timer_struct_bytes", []float64{float64(unsafe.Sizeof(time.Timer{}))})
	report("newtimer_arm_cancel_ns", nt)
	report("newtimer_bytes", []float64{ntHeap})
	report("newtimer_rss_bytes", []float64{ntRSS})
}
