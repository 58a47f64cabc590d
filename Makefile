# langbench -- build, test, bench, figures, asan.   GPL-3.0-or-later.
#
#   make run      install packages, build, run the default experiment
#   make test     install packages, build, run the Criterion suite
#   make bench    performance ratios (see README)
#   make asan     the test suite under AddressSanitizer + UBSan
#   make figures  every figure into results/figures/
#   make fresh-check  make run + make test on a bare Debian 12 root (root)
#   make models   retrain the shipped diffusion models in targets/models/
#
# BUILD and BIN may be overridden to keep several builds apart.

BUILD ?= build
BIN   ?= bin
CC    ?= cc

# Every target that builds or runs something first installs the Debian
# packages (scripts/install-deps.sh, idempotent), then does the real work
# in a sub-make with LB_DEPS=ok: nothing below that line is computed before
# the packages are there (pkg-config itself is one of them).
PUBLIC := all run test bench asan figures figures-default models

# A contributor's check (root, several minutes; not part of make test): the
# two README commands on a bare Debian 12 root (scripts/fresh-check.sh).
.PHONY: fresh-check
fresh-check:
	sh scripts/fresh-check.sh

ifneq ($(LB_DEPS),ok)
.PHONY: $(PUBLIC) deps
$(PUBLIC):
	@sh scripts/install-deps.sh
	@$(MAKE) --no-print-directory LB_DEPS=ok $@
deps:
	@sh scripts/install-deps.sh
clean:
	rm -rf build build-asan bin
else

HDF5_CFLAGS := $(shell pkg-config --cflags hdf5)
HDF5_LDIR   := $(shell pkg-config --libs-only-L hdf5)

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -fopenmp -Wall -Wextra -Wshadow -Werror \
            $(addprefix -I,$(SRC_DIRS)) -Itargets $(HDF5_CFLAGS) $(SANITIZE)
LDFLAGS  += -fopenmp $(SANITIZE) $(HDF5_LDIR)
LDLIBS   += -lhdf5_hl -lhdf5 -lconfig -lgsl -lopenblas -lm

# src/ has one folder per layer (README, Layout); each is on the include path.
SRC_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard src/*/*.h src/*/*.c))))
LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*/*.c src/*/*/*.c targets/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/presets.o
TEST_SRC := $(wildcard tests/test_*.c) tests/testutil.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC:= $(wildcard tests/bench*.c)
BENCH_OBJ:= $(BENCH_SRC:%.c=$(BUILD)/%.o)
PRESETS  := $(wildcard targets/presets/*.cfg)

.PHONY: $(PUBLIC) clean
all: $(BIN)/langbench

$(BUILD)/%.o: %.c $(wildcard src/*/*.h src/*/*/*.h targets/*.h tests/*.h)
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

$(BIN)/langbench: $(BUILD)/src/cli/main.o $(BUILD)/liblangbench.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/liblangbench.a
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/bench: $(BENCH_OBJ) $(BUILD)/liblangbench.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The suite runs the CLI too: LANGBENCH_BIN points the tests at this build.
test: $(BIN)/langbench $(BUILD)/run_tests
	LANGBENCH_BIN=$(abspath $(BIN)/langbench) OMP_NUM_THREADS=1 \
	  $(BUILD)/run_tests --jobs 2 $(TESTFLAGS)

asan:
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	$(MAKE) test BUILD=build-asan BIN=build-asan/bin OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

bench: $(BIN)/langbench $(BUILD)/bench
	$(BUILD)/bench

run: $(BIN)/langbench
	sh scripts/run-default.sh $(BIN)/langbench

# make figures: run each experiment the figures need whose results/NAME.h5
# is missing (an existing file is never rerun: delete it to rerun; cells
# already computed in results/NAME.h5.cells are reused), export it to
# results/NAME.csv (+ _rates.csv), write the figure inputs of figures 3 and
# 4 into results/ (export --figure-data), then draw every figure into
# results/figures/ (scripts/figures.sh; formats in plots/README.md).
# Needs GNU make >= 4.3 (grouped targets, &:).
RESULTS     ?= results
FIG_THREADS ?= 2
FIG_EXPS    := bias_gaussian bias_mixtures speedup plmc_vs_fine_lmc double_well_mixing \
               ud_bias ud_speedup
FIG_H5      := $(FIG_EXPS:%=$(RESULTS)/%.h5)
FIG_CSV     := $(FIG_EXPS:%=$(RESULTS)/%.csv)
FIG_INPUTS  := $(RESULTS)/ring8_samples.csv $(RESULTS)/ring8_density.csv \
               $(RESULTS)/double_well_trajectories.csv $(RESULTS)/double_well_fractions.csv
FIG_STAMP   := $(RESULTS)/figures/.drawn

figures: $(BIN)/langbench $(FIG_STAMP)
	@echo "figures: results in $(RESULTS)/, figures in $(RESULTS)/figures/"

$(FIG_STAMP): $(FIG_H5) $(FIG_CSV) $(FIG_INPUTS) $(wildcard plots/*.gp) scripts/figures.sh
	sh scripts/figures.sh $(RESULTS) $(RESULTS)/figures
	@touch $@

# only when missing: the binary and the config are order-only prerequisites
$(RESULTS)/%.h5: | $(BIN)/langbench experiments/%.cfg
	@mkdir -p $(RESULTS)
	$(BIN)/langbench run experiments/$*.cfg --out $@ --threads $(FIG_THREADS)

$(RESULTS)/%.csv $(RESULTS)/%_rates.csv: $(RESULTS)/%.h5 $(BIN)/langbench
	$(BIN)/langbench export $< --out $(RESULTS)/$*.csv

$(RESULTS)/bias_mixtures.csv $(RESULTS)/bias_mixtures_rates.csv \
$(RESULTS)/ring8_samples.csv $(RESULTS)/ring8_density.csv &: \
    $(RESULTS)/bias_mixtures.h5 $(BIN)/langbench
	$(BIN)/langbench export $< --out $(RESULTS)/bias_mixtures.csv --figure-data $(RESULTS)

$(RESULTS)/double_well_mixing.csv $(RESULTS)/double_well_mixing_rates.csv \
$(RESULTS)/double_well_trajectories.csv $(RESULTS)/double_well_fractions.csv &: \
    $(RESULTS)/double_well_mixing.h5 $(BIN)/langbench
	$(BIN)/langbench export $< --out $(RESULTS)/double_well_mixing.csv --figure-data $(RESULTS)

# make models: retrain the shipped noise-prediction models (README, "Shipped
# models") with the default settings of `langbench train`; their /weights
# are reproduced bit for bit (the result does not depend on the threads).
MODEL_THREADS ?= 2
models: $(BIN)/langbench
	$(BIN)/langbench train --data moons --out targets/models/moons.h5 --threads $(MODEL_THREADS)
	$(BIN)/langbench train --data 8gaussians --out targets/models/8gaussians.h5 --threads $(MODEL_THREADS)
	$(BIN)/langbench train --data gmm:preset=ring8 --out targets/models/ring8.h5 --threads $(MODEL_THREADS)

# Figures 1-3 from the default experiment of `make run` (which draws them
# too), redrawn from its data in seconds: results/default-figures/.
figures-default: $(BIN)/langbench
	@[ -f results/default-data/bias_gaussian.csv ] || sh scripts/run-default.sh $(BIN)/langbench
	sh scripts/figures.sh results/default-data results/default-figures fig1 fig2 fig3

clean:
	rm -rf build build-asan bin

endif
