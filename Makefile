# SPDX-License-Identifier: MIT
# dtact build. Out-of-tree: everything goes under $(O) (default build/).
#   make            libraries, tools, test and bench programs
#   make test       build and run every test (SAN=1: under ASan+UBSan)
#   make bench      run the benchmarks, print their tables
#   make bench-quick  the same, fewer and shorter cases (<= 2 minutes)
#   make install    DESTDIR=... prefix=/usr/local
#   V=1             show the commands
#   PROBES=0        no USDT probes (-DDT_NO_PROBES); use its own O=

O        ?= build
SAN      ?= 0
prefix   ?= /usr/local
libdir   ?= $(prefix)/lib
incdir   ?= $(prefix)/include
bindir   ?= $(prefix)/bin
pcdir    ?= $(libdir)/pkgconfig

ARCH ?= $(shell uname -m)
ifeq ($(ARCH),x86_64)
ARCH_DIR := arch/x86_64
else
$(error dtact: unsupported ARCH '$(ARCH)' (supported: x86_64; aarch64 and riscv64 are planned))
endif

VERSION  := 0.1.0
SOMAJOR  := 0
SONAME   := libdtact.so.$(SOMAJOR)

CC       ?= gcc
ifeq ($(CC),cc)
CC       := gcc
endif
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
BASEFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread -fPIC -fvisibility=hidden \
	-fno-strict-aliasing -Iinclude -I. $(WARN)
ifeq ($(SAN),1)
BASEFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -DDT_SAN=1
LDSAN     := -fsanitize=address,undefined
override O := $(O)-san
endif
# USDT probes (core/probes.h): the probe header is generated from
# core/probes.d by dtrace(1) (systemtap-sdt-dev) into $(O)/core, found
# through -I$(O).  PROBES=0, or no dtrace, compiles them out.
PROBES   ?= 1
DTRACE   ?= dtrace
ifneq ($(PROBES),0)
ifeq ($(shell command -v $(DTRACE) 2>/dev/null),)
$(warning dtact: $(DTRACE) not found (apt-get install systemtap-sdt-dev): building without USDT probes)
override PROBES := 0
endif
endif
ifeq ($(PROBES),0)
BASEFLAGS += -DDT_NO_PROBES
PROBES_GEN :=
else
PROBES_GEN := $(O)/core/probes_gen.h
endif
BASEFLAGS += -I$(O)
# The fiber dump's unwinder (core/dump.c).
LDUNWIND := -lunwind
ALL_CFLAGS = $(BASEFLAGS) $(CFLAGS) -MMD -MP

ifneq ($(V),1)
Q := @
quiet = @printf '  %-7s %s\n' $(1) $(2);
else
Q :=
quiet =
endif

.DELETE_ON_ERROR:
# Keep objects: tests and benches are linked from them in one step.
.SECONDARY:
.PHONY: all test bench bench-quick tools install uninstall clean demo deps

CORE_SRC := $(wildcard core/*.c)
ARCH_SRC := $(wildcard $(ARCH_DIR)/*.S) $(wildcard $(ARCH_DIR)/*.c)
LIB_OBJ  := $(patsubst %,$(O)/%.o,$(basename $(CORE_SRC) $(ARCH_SRC)))

SHIM_SRC := $(wildcard interpose/*.c) $(wildcard shim/*.c)
SHIM_OBJ := $(patsubst %.c,$(O)/%.o,$(SHIM_SRC))

TEST_SRC := $(wildcard tests/*.c)
TEST_BIN := $(patsubst tests/%.c,$(O)/tests/%,$(TEST_SRC))
TEST_ASM := $(wildcard tests/*.S)
TEST_ASM_OBJ := $(patsubst %.S,$(O)/%.o,$(TEST_ASM))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(O)/bench/%,$(BENCH_SRC))
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(patsubst examples/%.c,$(O)/examples/%,$(EXAMPLE_SRC))

APP_SRC  := $(wildcard apps/*.c) $(wildcard tests/apps/*.c)
APP_BIN  := $(patsubst %.c,$(O)/%,$(APP_SRC))
TOOL_BIN := $(O)/dtact-run

all: $(O)/libdtact.so $(O)/libdtact.a $(O)/libdtact_shim.so $(O)/dtact.pc \
	$(TOOL_BIN) $(EXAMPLE_BIN) $(BENCH_BIN) $(TEST_BIN) $(APP_BIN)

# Order-only on the probe header: built before any object the first
# time; afterwards -MMD records it where it is included.
$(O)/%.o: %.c | $(PROBES_GEN)
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/core/probes_gen.h: core/probes.d
	@mkdir -p $(dir $@)
	$(call quiet,GEN,$@)$(DTRACE) -h -s $< -o $@

$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	$(call quiet,AS,$<)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/libdtact.a: $(LIB_OBJ)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(O)/libdtact.so: $(LIB_OBJ) core/libdtact.map
	$(call quiet,LD,$@)$(CC) -shared -pthread -Wl,-soname,$(SONAME) \
		-Wl,--version-script=core/libdtact.map -o $@ $(LIB_OBJ) \
		$(LDUNWIND) $(LDSAN)
	@ln -sf libdtact.so $(O)/$(SONAME)

# The preload shim: the same runtime plus interpose/ and shim/.
$(O)/libdtact_shim.so: $(LIB_OBJ) $(SHIM_OBJ) shim/libdtact_shim.map
	$(call quiet,LD,$@)$(CC) -shared -pthread -Wl,-soname,libdtact_shim.so \
		-Wl,--version-script=shim/libdtact_shim.map -o $@ \
		$(LIB_OBJ) $(SHIM_OBJ) -ldl $(LDUNWIND) $(LDSAN)

# Programs that know nothing of dtact: plain gcc -pthread, no dtact header.
$(O)/apps/%: apps/%.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) -O2 -g -Wall -pthread -o $@ $<

$(O)/tests/apps/%: tests/apps/%.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) -O2 -g -Wall -pthread -o $@ $<

$(O)/dtact-run: tools/dtact-run
	@mkdir -p $(dir $@)
	$(call quiet,GEN,$@)install -m 0755 $< $@

$(O)/dtact.pc: dtact.pc.in Makefile
	@mkdir -p $(dir $@)
	$(call quiet,GEN,$@)sed -e 's|@prefix@|$(prefix)|' -e 's|@libdir@|$(libdir)|' \
		-e 's|@incdir@|$(incdir)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# Unit tests: Criterion, linked statically against the runtime so that
# hidden internal functions can be exercised directly.
$(O)/tests/%: $(O)/tests/%.o $(O)/libdtact.a $(TEST_ASM_OBJ)
	$(call quiet,LD,$@)$(CC) -pthread -o $@ $< $(TEST_ASM_OBJ) $(O)/libdtact.a -lcriterion $(LDUNWIND) $(LDSAN)

$(O)/bench/%: $(O)/bench/%.o $(O)/libdtact.a
	$(call quiet,LD,$@)$(CC) -pthread -o $@ $< $(O)/libdtact.a $(LDUNWIND) $(LDSAN)

# Examples use only the public header and link the shared library, as a user would.
$(O)/examples/%: examples/%.c $(O)/libdtact.so include/dtact.h
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(BASEFLAGS) $(CFLAGS) -o $@ $< -L$(O) -ldtact \
		-Wl,-rpath,'$$ORIGIN/..' $(LDSAN)

# --- tools/dtactlat: the eBPF latency tool (DESIGN 11) ----------------------
# vmlinux.h is generated from the running kernel's BTF; a kernel without
# /sys/kernel/btf/vmlinux gets a note and no $(O)/dtactlat (everything else
# builds).  BPF object: clang -target bpf; skeleton: bpftool gen skeleton.
# The user part links libbpf, libelf and zlib statically, so the binary runs
# where libbpf is not installed.  Objects under $(O)/tools/dtactlat/.
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
BPF_CLANG   ?= clang
BPFTOOL     ?= bpftool
LLVM_STRIP  ?= llvm-strip
DTL_SRC     := tools/dtactlat
DTL_OUT     := $(O)/tools/dtactlat
ifneq ($(wildcard $(BTF_VMLINUX)),)
DTACTLAT    := $(O)/dtactlat
else
DTACTLAT    :=
$(info dtact: note: no $(BTF_VMLINUX) (kernel built without CONFIG_DEBUG_INFO_BTF): skipping $(O)/dtactlat)
endif
# clang -target bpf does not search the host's multiarch include directories.
DTL_BPF_SYSINC = $(shell $(BPF_CLANG) -v -E - </dev/null 2>&1 | sed -n \
	'/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
DTL_CFLAGS  := -std=gnu11 -D_GNU_SOURCE -pthread $(OPT) -g $(WARN) -I$(DTL_OUT) -I$(DTL_SRC)

all tools: $(DTACTLAT)

$(DTL_OUT)/vmlinux.h:
	@mkdir -p $(dir $@)
	$(call quiet,GEN,$@)$(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@

$(DTL_OUT)/dtactlat.bpf.o: $(DTL_SRC)/dtactlat.bpf.c $(DTL_SRC)/dtactlat.h \
		$(DTL_SRC)/bits.bpf.h $(DTL_OUT)/vmlinux.h
	$(call quiet,BPF,$@)$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 \
		-I$(DTL_OUT) -I$(DTL_SRC) $(DTL_BPF_SYSINC) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(DTL_OUT)/dtactlat.skel.h: $(DTL_OUT)/dtactlat.bpf.o
	$(call quiet,GEN,$@)$(BPFTOOL) gen skeleton $< name dtactlat_bpf > $@

$(DTL_OUT)/dtactlat.o: $(DTL_OUT)/dtactlat.skel.h

$(DTL_OUT)/%.o: $(DTL_SRC)/%.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(DTL_CFLAGS) -MMD -MP -c $< -o $@

$(O)/dtactlat: $(DTL_OUT)/dtactlat.o $(DTL_OUT)/trace_helpers.o
	$(call quiet,LD,$@)$(CC) -pthread -o $@ $^ -Wl,-Bstatic -lbpf -lelf -lz -Wl,-Bdynamic
# --- end of tools/dtactlat ------------------------------------------------------

# test and bench first install missing Debian dependencies (as root), so
# that they work as the first command on a fresh machine.
test:
	$(Q)./scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) SAN=$(SAN) ./tests/run.sh

bench:
	$(Q)./scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) ./bench/run.sh

bench-quick:
	$(Q)./scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) ./bench/run.sh --quick

# The README's first command: the bundled thread-per-connection server,
# natively and under the shim, side by side.
demo:
	$(Q)./scripts/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) ./scripts/demo.sh

deps:
	$(Q)./scripts/deps.sh

install: $(O)/libdtact.so $(O)/libdtact.a $(O)/libdtact_shim.so $(O)/dtact.pc
	install -D -m 0755 $(O)/libdtact.so $(DESTDIR)$(libdir)/libdtact.so.$(VERSION)
	ln -sf libdtact.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(libdir)/libdtact.so
	install -D -m 0644 $(O)/libdtact.a $(DESTDIR)$(libdir)/libdtact.a
	install -D -m 0644 include/dtact.h $(DESTDIR)$(incdir)/dtact.h
	install -D -m 0644 $(O)/dtact.pc $(DESTDIR)$(pcdir)/dtact.pc
	install -D -m 0755 $(O)/libdtact_shim.so $(DESTDIR)$(libdir)/dtact/libdtact_shim.so
	install -D -m 0755 tools/dtact-run $(DESTDIR)$(bindir)/dtact-run

uninstall:
	rm -f $(DESTDIR)$(libdir)/libdtact.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME) \
		$(DESTDIR)$(libdir)/libdtact.so $(DESTDIR)$(libdir)/libdtact.a \
		$(DESTDIR)$(incdir)/dtact.h $(DESTDIR)$(pcdir)/dtact.pc \
		$(DESTDIR)$(libdir)/dtact/libdtact_shim.so $(DESTDIR)$(bindir)/dtact-run

clean:
	rm -rf $(O) $(O)-san

-include $(shell find $(O) -name '*.d' 2>/dev/null)
