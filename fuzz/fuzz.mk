# fuzz.mk - builds and runs berth's libFuzzer targets; included by the
# top-level Makefile, which defines PKGS and VERSION.
#
#   make fuzz                    build, replay fuzz/regressions, then fuzz
#                                every target for FUZZ_SECONDS (30) each
#   make fuzz FUZZ_TARGETS=ref   only some targets
#
# berth's sources (all but main.c) are compiled with coverage and
# sanitizers into an archive, and each fuzz_<target>.c is linked against
# it, so a target gets exactly the files its parser needs, however those
# change.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_BUILD   := build-fuzz
FUZZ_ALL     := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE \
                -DBERTH_VERSION='"$(VERSION)"' -Isrc -Ifuzz \
                -Wall -Wextra -Wno-unused-parameter \
                $(shell pkg-config --cflags $(PKGS))
FUZZ_LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread

FUZZ_OBJS    := $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o, \
                  $(filter-out src/main.c,$(wildcard src/*.c)))
FUZZ_LIB     := $(FUZZ_BUILD)/libberth.a
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) \
		./fuzz/run.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-MMD -MP -c -o $@ $<

-include $(FUZZ_OBJS:.o=.d)

$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_LIB) $(FUZZ_LIBS)
