# berth - build, test and benchmark.
#
# `make` builds ./berth from src/*.c; every .c file there is part of the
# server, main.c only of the binary, so unit tests link the rest.

CC      ?= cc
PKGS    := libmicrohttpd jansson yaml-0.1 libcrypto libxcrypt gnutls
# Headers only: src/curlload.c loads libcurl when S3 or notifications
# first need it, so that other servers never map it and its dependencies.
HDR_PKGS := libcurl
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_GNU_SOURCE -DBERTH_VERSION='"$(VERSION)"' \
           $(shell pkg-config --cflags $(PKGS) $(HDR_PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread -ldl

# `make SAN=1` builds with AddressSanitizer and UBSan into build-san/.
ifeq ($(SAN),1)
BUILD   := build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD   := build
endif

SRCS    := $(wildcard src/*.c)
OBJS    := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS))
# The web UI's files, compiled in by tools/embed.c (src/ui_assets.h).
UI_FILES := $(sort $(shell find ui -type f 2>/dev/null))
UI_DIRS  := $(shell find ui -type d 2>/dev/null)
OBJS    += $(BUILD)/ui_assets.o
LIBOBJS := $(filter-out $(BUILD)/main.o,$(OBJS))
UNITS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(filter-out tests/unit/check.c,$(wildcard tests/unit/test_*.c)))
BIN     := $(if $(filter 1,$(SAN)),$(BUILD)/berth,berth)

.PHONY: all run test test-deps unit all-san bench clean deps install \
	uninstall
all: $(BIN)

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(OBJS:.o=.d)

$(BUILD)/embed: tools/embed.c | $(BUILD)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<

# The directories are listed so that adding or removing a file rebuilds.
$(BUILD)/ui_assets.c: $(BUILD)/embed $(UI_FILES) $(UI_DIRS)
	$(BUILD)/embed $@ ui $(UI_FILES)

$(BUILD)/ui_assets.o: $(BUILD)/ui_assets.c src/ui_assets.h
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(LIBOBJS) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

$(BUILD):
	mkdir -p $@

# Installs the Debian packages berth needs to build and run, if missing.
deps:
	@./scripts/deps.sh build

run: deps
	@$(MAKE) --no-print-directory all
	mkdir -p data
	REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$(CURDIR)/data \
	REGISTRY_HTTP_ADDR=localhost:5000 ./berth serve $(wildcard config.yml)

unit: $(UNITS)
	@./tests/run-units.sh $(UNITS)

# Installs what the test suites drive (skopeo, podman, docker-registry...).
test-deps:
	@./scripts/deps.sh test

# The whole suite: unit tests, black-box tests of ./berth, real clients,
# then everything again under ASan/UBSan.  Ends with "N passed, N failed".
test: test-deps
	@$(MAKE) --no-print-directory all $(UNITS)
	@$(MAKE) --no-print-directory SAN=1 all-san
	@./tests/run-all.sh

all-san: $(BIN) $(UNITS)

# `make install PREFIX=/usr DESTDIR=/tmp/pkg` stages a package tree.  The
# unit's ExecStart names the installed binary; /etc is left alone, the
# example config goes with the documentation.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/berth
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/berth
	$(INSTALL) -m 0644 docs/man/berth.1 $(DESTDIR)$(MANDIR)/man1/berth.1
	$(INSTALL) -m 0644 docs/man/berth-config.5 \
		$(DESTDIR)$(MANDIR)/man5/berth-config.5
	$(INSTALL) -m 0644 contrib/config.example.yml docs/configuration.md \
		docs/operations.md docs/migrating.md $(DESTDIR)$(DOCDIR)
	sed 's|/usr/bin/berth|$(BINDIR)/berth|g' contrib/systemd/berth.service \
		>$(DESTDIR)$(UNITDIR)/berth.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/berth.service
	$(INSTALL) -m 0644 contrib/systemd/berth.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/berth.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/berth $(DESTDIR)$(MANDIR)/man1/berth.1 \
		$(DESTDIR)$(MANDIR)/man5/berth-config.5 \
		$(DESTDIR)$(UNITDIR)/berth.service \
		$(DESTDIR)$(SYSUSERSDIR)/berth.conf
	rm -rf $(DESTDIR)$(DOCDIR)

# The filesystem benchmarks, then berth and registry:2 on one S3 bucket;
# both run even when the first fails.
bench: all
	@rc=0; ./bench/run.sh || rc=$$?; \
	echo; echo "== bench/s3.sh"; ./bench/s3.sh || rc=$$?; exit $$rc

clean:
	rm -rf build build-san build-fuzz berth

# Static checks: cppcheck and clang-tidy (.clang-tidy) warnings fail, and
# so does any file clang-format (.clang-format) would change.  cppcheck
# reads the unit tests apart from the sources: a test that CHECKs a
# pointer goes on after a failure, which its cross-file analysis would
# otherwise blame on the function the test calls.
LINT_SRCS  := $(wildcard src/*.c fuzz/*.c)
LINT_TESTS := $(wildcard tests/unit/*.c)
LINT_HDRS  := $(wildcard src/*.h fuzz/*.h tests/unit/*.h)
CPPCHECK   := cppcheck --quiet --error-exitcode=1 --std=c11 -D_GNU_SOURCE \
              -Isrc --enable=warning,performance,portability --inline-suppr \
              --include=$(shell pkg-config --variable=includedir jansson)/jansson.h

.PHONY: lint
lint:
	@rc=0; \
	$(CPPCHECK) $(LINT_SRCS) || rc=1; \
	$(CPPCHECK) $(LINT_TESTS) || rc=1; \
	clang-tidy --quiet $(LINT_SRCS) $(LINT_TESTS) -- $(CFLAGS) -Isrc \
		-Ifuzz 2>/dev/null || rc=1; \
	clang-format --dry-run --Werror $(LINT_SRCS) $(LINT_TESTS) \
		$(LINT_HDRS) || rc=1; \
	exit $$rc

# libFuzzer targets for the parsers of untrusted input (`make fuzz`).
include fuzz/fuzz.mk
