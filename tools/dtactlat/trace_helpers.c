// SPDX-License-Identifier: MIT
/*
 * tools/dtactlat/trace_helpers.c - see trace_helpers.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "trace_helpers.h"

#define NT_STAPSDT	3
#define STARS_WIDTH	40

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void log2_slot_range(int k, uint64_t *lo, uint64_t *hi)
{
	if (k == 0) {
		*lo = 0;
		*hi = 1;
		return;
	}
	*lo = (uint64_t)1 << k;
	*hi = k >= 63 ? UINT64_MAX : ((uint64_t)1 << (k + 1)) - 1;
}

static int digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static void print_stars(FILE *f, uint64_t val, uint64_t max)
{
	int n = max ? (int)((double)val * STARS_WIDTH / (double)max + 0.5) : 0;
	int i;

	if (val && !n)
		n = 1;	/* a non-empty slot never looks empty */
	for (i = 0; i < STARS_WIDTH; i++)
		fputc(i < n ? '*' : ' ', f);
}

void print_log2_hist(FILE *f, const __u64 *vals, int nr,
		     const char *val_type)
{
	uint64_t max = 0, lo, hi;
	int first = -1, last = -1, i, w, cw;

	for (i = 0; i < nr; i++) {
		if (vals[i] && first < 0)
			first = i;
		if (vals[i])
			last = i;
		if (vals[i] > max)
			max = vals[i];
	}
	if (last < 0)
		return;
	log2_slot_range(last, &lo, &hi);
	w = digits(hi) > 10 ? digits(hi) : 10;
	cw = digits(max) > 8 ? digits(max) : 8;
	fprintf(f, "%*s%-*s : %-*s distribution\n", w / 2, "",
		2 * w + 4 - w / 2, val_type, cw, "count");
	for (i = first; i <= last; i++) {
		log2_slot_range(i, &lo, &hi);
		fprintf(f, "%*" PRIu64 " -> %-*" PRIu64 " : %-*llu |",
			w, lo, w, hi, cw, vals[i]);
		print_stars(f, vals[i], max);
		fputs("|\n", f);
	}
}

static uint64_t get_addr(const char *p, bool is64)
{
	uint64_t v64;
	uint32_t v32;

	if (is64) {
		memcpy(&v64, p, 8);
		return v64;
	}
	memcpy(&v32, p, 4);
	return v32;
}

int usdt_file_read(const char *path, const char *provider,
		   struct usdt_file *out)
{
	Elf_Scn *scn = NULL, *notes = NULL;
	uint64_t base_sec = 0;
	GElf_Ehdr eh;
	size_t shstrndx, nph, i;
	int fd, err = 0;
	bool is64;
	Elf *elf;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || !gelf_getehdr(elf, &eh) || elf_getshdrstrndx(elf, &shstrndx) ||
	    elf_getphdrnum(elf, &nph)) {
		err = -ENOEXEC;
		goto out_close;
	}
	is64 = gelf_getclass(elf) == ELFCLASS64;
	out->is_dyn = eh.e_type == ET_DYN;
	out->first_load = UINT64_MAX;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD &&
		    ph.p_vaddr < out->first_load)
			out->first_load = ph.p_vaddr;
	}
	if (out->first_load == UINT64_MAX)
		out->first_load = 0;
	out->first_load &= ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (!strcmp(name, ".stapsdt.base"))
			base_sec = sh.sh_addr;
		else if (sh.sh_type == SHT_NOTE && !strcmp(name, ".note.stapsdt"))
			notes = scn;
	}
	if (notes) {
		Elf_Data *data = elf_getdata(notes, NULL);
		size_t off = 0, name_off, desc_off;
		size_t asz = is64 ? 8 : 4;
		GElf_Nhdr nh;

		while (data && (off = gelf_getnote(data, off, &nh, &name_off,
						   &desc_off)) > 0) {
			const char *d = (const char *)data->d_buf + desc_off;
			const char *prov, *pname, *end = d + nh.n_descsz;
			struct usdt_note *n, *tmp;
			uint64_t base;

			if (nh.n_type != NT_STAPSDT || nh.n_namesz != 8 ||
			    memcmp((char *)data->d_buf + name_off, "stapsdt", 8) ||
			    nh.n_descsz < 3 * asz + 2)
				continue;
			prov = d + 3 * asz;
			pname = memchr(prov, 0, (size_t)(end - prov));
			if (!pname++ || pname >= end || !memchr(pname, 0, (size_t)(end - pname)))
				continue;
			if (provider && strcmp(prov, provider))
				continue;
			tmp = realloc(out->notes, (out->nr + 1) * sizeof(*n));
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			out->notes = tmp;
			n = &out->notes[out->nr++];
			memset(n, 0, sizeof(*n));
			snprintf(n->provider, sizeof(n->provider), "%s", prov);
			snprintf(n->name, sizeof(n->name), "%s", pname);
			n->pc = get_addr(d, is64);
			base = get_addr(d + asz, is64);
			n->sema = get_addr(d + 2 * asz, is64);
			/* prelink moved the file: shift by .stapsdt.base's move */
			if (base_sec && base) {
				n->pc += base_sec - base;
				if (n->sema)
					n->sema += base_sec - base;
			}
		}
	}
	elf_end(elf);
out_close:
	if (!elf)
		err = -ENOEXEC;
	close(fd);
	if (err)
		usdt_file_free(out);
	return err;
}

void usdt_file_free(struct usdt_file *uf)
{
	free(uf->notes);
	uf->notes = NULL;
	uf->nr = 0;
}

int proc_map_find(pid_t pid, const char *const *prefixes,
		  struct proc_map *out)
{
	char fn[64], line[4096 + 256];
	int err = -ENOENT;
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%d/maps", (int)pid);
	f = fopen(fn, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		const char *const *p;
		char *path, *base, *nl;
		int n = 0;

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &start, &end,
			   &off, &n) != 3 || !n || line[n] != '/' || off)
			continue;
		path = line + n;
		nl = strchr(path, '\n');
		if (nl)
			*nl = 0;
		base = strrchr(path, '/') + 1;
		for (p = prefixes; *p; p++)
			if (!strncmp(base, *p, strlen(*p)))
				break;
		if (!*p)
			continue;
		memset(out, 0, sizeof(*out));
		n = (int)strlen(path);
		if (n > 10 && !strcmp(path + n - 10, " (deleted)")) {
			path[n - 10] = 0;
			out->deleted = true;
		}
		snprintf(out->path, sizeof(out->path), "%s", path);
		out->start = start;
		out->end = end;
		err = 0;
		break;
	}
	if (err == -ENOENT && ferror(f))
		err = -EIO;
	fclose(f);
	return err;
}
