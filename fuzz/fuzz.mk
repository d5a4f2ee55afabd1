# fuzz.mk - builds and runs berth's libFuzzer targets; included by the
# top-level Makefile.
#
#   make fuzz                    build, replay fuzz/regressions, then fuzz
#                                every target for FUZZ_SECONDS (30) each
#   make fuzz FUZZ_TARGETS=ref   only some targets
#
# Each target links only the sources of the parser it feeds, so a file
# being rewritten elsewhere in src/ does not stop the others building.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_BUILD   := build-fuzz
FUZZ_ALL     := ref digest range content_range manifest config htpasswd \
                authorization
FUZZ_TARGETS ?= $(FUZZ_ALL)

FUZZ_PKGS    := jansson yaml-0.1 libcrypto libxcrypt
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -Ifuzz \
                -Wall -Wextra -Wno-unused-parameter \
                -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                $(shell pkg-config --cflags $(FUZZ_PKGS))
FUZZ_LIBS    := $(shell pkg-config --libs $(FUZZ_PKGS)) -lpthread

# What each target links besides its own file.
FUZZ_SRCS_ref           := src/ref.c
FUZZ_SRCS_digest        := src/digest.c src/util.c
FUZZ_SRCS_range         := src/ref.c
FUZZ_SRCS_content_range := src/ref.c
FUZZ_SRCS_manifest      := src/manifest.c src/digest.c src/util.c
FUZZ_SRCS_config        := src/config.c src/acl.c src/htpasswd.c \
                           src/log.c src/util.c
FUZZ_SRCS_htpasswd      := src/htpasswd.c src/log.c src/util.c
FUZZ_SRCS_authorization := src/access.c src/acl.c src/htpasswd.c \
                           src/throttle.c src/ref.c \
                           src/log.c src/util.c

FUZZ_BINS := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) \
		./fuzz/run.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

define FUZZ_RULE
$(FUZZ_BUILD)/fuzz_$(1): fuzz/fuzz_$(1).c fuzz/fuzz.h $(FUZZ_SRCS_$(1)) \
		$(wildcard src/*.h)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) \
		$(FUZZ_LIBS)
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call FUZZ_RULE,$(t))))
