// SPDX-License-Identifier: MIT

// bench/go/spawn.go - goroutine spawn + join rate, the Go side of
// apps/spawnjoin.c (pthread_create + pthread_join natively and under the
// shim).  Standard library only.
//
//	spawn [serial|batch] [N]
//
// serial: go f() then wait for it (a channel), one at a time.
// batch:  1,000 goroutines started, then all waited for (sync.WaitGroup).
// One untimed warm-up of N/10, then N timed spawns; prints one line:
//
//	spawn,<mode>,<n>,<ns per spawn+join>,<spawns per second>
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

const batchSize = 1000

func serial(n int) time.Duration {
	done := make(chan struct{})
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { done <- struct{}{} }()
		<-done
	}
	return time.Since(t0)
}

func batch(n int) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	for done := 0; done < n; done += batchSize {
		k := batchSize
		if n-done < k {
			k = n - done
		}
		wg.Add(k)
		for i := 0; i < k; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	return time.Since(t0)
}

func main() {
	mode, n := "serial", 1000000
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if len(os.Args) > 2 {
		v, err := strconv.Atoi(os.Args[2])
		if err != nil || v < 10 {
			fmt.Fprintln(os.Stderr, "spawn: bad N")
			os.Exit(2)
		}
		n = v
	}
	var f func(int) time.Duration
	switch mode {
	case "serial":
		f = serial
	case "batch":
		f = batch
	default:
		fmt.Fprintln(os.Stderr, "usage: spawn [serial|batch] [N]")
		os.Exit(2)
	}
	f(n / 10)
	d := f(n)
	ns := float64(d.Nanoseconds()) / float64(n)
	fmt.Printf("spawn,%s,%d,%.1f,%.0f\n", mode, n, ns, 1e9/ns)
}
