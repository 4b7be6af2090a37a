/* SPDX-License-Identifier: MIT */
/*
 * tools/dtactlat/trace_helpers.h - the user-space helpers of dtact's eBPF
 * tools: the one log2 histogram printer, the USDT (stapsdt) note reader, and
 * /proc/PID/maps lookups.  No BPF here: these are plain libc + libelf.
 */
#ifndef DTACT_TRACE_HELPERS_H
#define DTACT_TRACE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

/*
 * Print a log2 histogram (slot k: [2^k, 2^(k+1)), slot 0: 0 and 1) the way
 * bcc's tools do: "low -> high : count |*****|", from the first to the last
 * non-empty slot (a nanosecond histogram would start with many empty rows).
 * val_type names the unit ("nsecs").
 */
void print_log2_hist(FILE *f, const __u64 *vals, int nr,
		     const char *val_type);
/* The bounds of slot k as print_log2_hist() shows them. */
void log2_slot_range(int k, uint64_t *lo, uint64_t *hi);

/* One stapsdt note of an ELF file, addresses as the file states them. */
struct usdt_note {
	char provider[64];
	char name[64];
	uint64_t pc;		/* probe site, link-time address */
	uint64_t sema;		/* semaphore, link-time address; 0: none */
};

struct usdt_file {
	struct usdt_note *notes;
	size_t nr;
	bool is_dyn;		/* ET_DYN: addresses are relative to the load base */
	uint64_t first_load;	/* p_vaddr of the lowest PT_LOAD, page aligned */
};

/*
 * Read the stapsdt notes of `path` whose provider is `provider` (NULL: all),
 * semaphore addresses corrected for prelink through .stapsdt.base.
 * Returns 0 (nr may be 0) or -errno; release with usdt_file_free().
 */
int usdt_file_read(const char *path, const char *provider,
		   struct usdt_file *out);
void usdt_file_free(struct usdt_file *uf);

/* A file mapped by a process, as /proc/PID/maps shows it. */
struct proc_map {
	char path[4096];	/* as in maps, " (deleted)" removed */
	bool deleted;
	uint64_t start, end;	/* the mapping at file offset 0 */
};

/*
 * Find the first file mapped by `pid` whose base name starts with one of the
 * NULL-terminated `prefixes` (e.g. "libdtact_shim.so").  Returns 0, -ENOENT
 * when none is mapped, or -errno when the maps cannot be read.
 */
int proc_map_find(pid_t pid, const char *const *prefixes,
		  struct proc_map *out);

/* Monotonic clock in nanoseconds. */
uint64_t mono_ns(void);

#endif /* DTACT_TRACE_HELPERS_H */
