// SPDX-License-Identifier: MIT

// bench/go/echo.go - the Go baseline for bench/echo.sh: the same echo
// protocol as apps/echo_threads, one goroutine per connection, blocking
// reads and writes on net.Conn (the runtime's netpoller underneath).
// Standard library only.
//
//	echo PORT        (PORT 0: pick one, print it)
//
// Prints "listening on PORT" when ready.  GOMAXPROCS comes from the
// environment (bench/echo.sh sets 1 when pinned, 2 otherwise).  The read
// buffer is 64 KiB per connection, the size of echo_threads' stack buffer.
package main

import (
	"fmt"
	"net"
	"os"
)

const bufSize = 65536

func serve(c net.Conn) {
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true) // Go's default; said for symmetry
	}
	buf := make([]byte, bufSize)
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
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT\n", os.Args[0])
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and the like: keep serving the others.
			fmt.Fprintln(os.Stderr, "accept:", err)
			continue
		}
		go serve(c)
	}
}
