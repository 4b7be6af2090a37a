/* SPDX-License-Identifier: MIT */
/*
 * arch/x86_64/syscall.c - raw system calls that return -errno and never
 * write the thread's errno (the runtime's internal calls must not leak
 * into the application's errno, STYLE "Errors").  Async-signal-safe.
 */
#include "core/dt.h"

long dt_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
