// SPDX-License-Identifier: MIT

// bench/go/pingpong.go - two goroutines handing a token back and forth
// over two unbuffered channels, the Go side of apps/pingpong.c (two
// threads, mutex + condvar).  Standard library only.
//
//	pingpong [N]
//
// One untimed warm-up of N/10 round trips, then N timed; prints one line:
//
//	pingpong,chan,<n>,<ns per round trip>
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func run(n int) time.Duration {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	d := time.Since(t0)
	close(ping)
	for range pong {
	}
	return d
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 10 {
			fmt.Fprintln(os.Stderr, "usage: pingpong [N]")
			os.Exit(2)
		}
		n = v
	}
	run(n / 10)
	d := run(n)
	fmt.Printf("pingpong,chan,%d,%.1f\n", n,
		float64(d.Nanoseconds())/float64(n))
}
