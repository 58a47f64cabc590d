# langbench -- build, test, bench, figures, asan.   GPL-3.0-or-later.
#
#   make run      install packages, build, run the default experiment
#   make test     install packages, build, run the Criterion suite
#   make bench    performance ratios (see README)
#   make asan     the test suite under AddressSanitizer + UBSan
#   make figures  every figure into results/figures/
#
# BUILD and BIN may be overridden to keep several builds apart.

BUILD ?= build
BIN   ?= bin
CC    ?= cc

HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LDIR   := $(shell pkg-config --libs-only-L hdf5 2>/dev/null)

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -fopenmp -Wall -Wextra -Wshadow -Werror \
            -Isrc -Itargets $(HDF5_CFLAGS) $(SANITIZE)
LDFLAGS  += -fopenmp $(SANITIZE) $(HDF5_LDIR)
LDLIBS   += -lhdf5_hl -lhdf5 -lconfig -lgsl -lopenblas -lm

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c src/samplers/*.c src/metrics/*.c targets/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/presets.o
TEST_SRC := $(wildcard tests/test_*.c) tests/testutil.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC:= $(wildcard tests/bench*.c)
BENCH_OBJ:= $(BENCH_SRC:%.c=$(BUILD)/%.o)
PRESETS  := $(wildcard targets/presets/*.cfg)

.PHONY: all deps run test bench asan figures clean
all: $(BIN)/langbench

deps:
	@sh scripts/install-deps.sh

$(BUILD)/%.o: %.c $(wildcard src/*.h src/*/*.h targets/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/presets.c: $(PRESETS) scripts/embed-presets.sh
	@mkdir -p $(BUILD)
	sh scripts/embed-presets.sh $(PRESETS) > $@

$(BUILD)/presets.o: $(BUILD)/presets.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liblangbench.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN)/langbench: $(BUILD)/src/main.o $(BUILD)/liblangbench.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/liblangbench.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/bench: $(BENCH_OBJ) $(BUILD)/liblangbench.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The suite runs the CLI too: LANGBENCH_BIN points the tests at this build.
test: deps $(BIN)/langbench $(BUILD)/run_tests
	LANGBENCH_BIN=$(abspath $(BIN)/langbench) OMP_NUM_THREADS=1 \
	  $(BUILD)/run_tests --jobs 2 $(TESTFLAGS)

asan:
	$(MAKE) test BUILD=build-asan BIN=build-asan/bin OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

bench: deps $(BIN)/langbench $(BUILD)/bench
	$(BUILD)/bench

run: deps $(BIN)/langbench
	sh scripts/run-default.sh $(BIN)/langbench

clean:
	rm -rf build build-asan bin
