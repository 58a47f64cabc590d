# langbench -- build, test, bench, figures, asan.   GPL-3.0-or-later.
#
#   make run      install packages, build, run the default experiment
#   make test     install packages, build, run the Criterion suite
#   make bench    performance ratios (see README)
#   make bench-scaleout  MPI/shard scale-out numbers (see README)
#   make asan     the test suite under AddressSanitizer + UBSan
#   make figures  every figure into results/figures/
#   make fresh-check  make run + make test on a bare Debian 12 root (root)
#   make models   retrain the shipped diffusion models in targets/models/
#   make fuzz     each libFuzzer harness of tests/fuzz/ for FUZZ_S seconds
#
# BUILD and BIN may be overridden to keep several builds apart.

BUILD ?= build
BIN   ?= bin
CC    ?= cc

# Every target that builds or runs something first installs the Debian
# packages (scripts/install-deps.sh, idempotent), then does the real work
# in a sub-make with LB_DEPS=ok: nothing below that line is computed before
# the packages are there (pkg-config itself is one of them).
PUBLIC := all run test bench bench-scaleout asan figures figures-default models fuzz

.DEFAULT_GOAL := all

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
	rm -rf build build-asan build-fuzz bin
else

HDF5_CFLAGS := $(shell pkg-config --cflags hdf5)
HDF5_LDIR   := $(shell pkg-config --libs-only-L hdf5)
# Open MPI (installed by scripts/install-deps.sh): the normal build links
# libmpi so that `mpirun bin/langbench run` works; MPI is initialised only
# when an MPI launcher started the process (README, Scale-out).  MPI=no,
# or no Open MPI found, builds without it.
MPI ?= $(if $(shell pkg-config --exists ompi-c && echo yes),yes,no)
ifeq ($(MPI),yes)
MPI_CFLAGS := -DLB_HAVE_MPI $(shell pkg-config --cflags ompi-c)
MPI_LIBS   := $(shell pkg-config --libs ompi-c)
endif

OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
# WERROR is empty in the fuzz build (clang): make test must not depend on
# warnings that only clang gives.
WERROR   ?= -Werror
OPENMP   ?= -fopenmp
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPENMP) -Wall -Wextra -Wshadow $(WERROR) \
            $(addprefix -I,$(SRC_DIRS)) -Itargets $(HDF5_CFLAGS) $(MPI_CFLAGS) $(SANITIZE)
LDFLAGS  += $(OPENMP) $(SANITIZE) $(HDF5_LDIR)
LDLIBS   += -lhdf5_hl -lhdf5 -lconfig -lgsl -lopenblas $(MPI_LIBS) -lpthread -lm

# src/ has one folder per layer (README, Layout); each is on the include path.
SRC_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard src/*/*.h src/*/*.c))))
LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*/*.c src/*/*/*.c targets/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/presets.o
TEST_SRC := $(wildcard tests/test_*.c) tests/testutil.c $(wildcard tests/fuzz/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC:= $(wildcard tests/bench*.c)
BENCH_OBJ:= $(BENCH_SRC:%.c=$(BUILD)/%.o)
PRESETS  := $(wildcard targets/presets/*.cfg)

.PHONY: $(PUBLIC) clean
all: $(BIN)/langbench

$(BUILD)/%.o: %.c $(wildcard src/*/*.h src/*/*/*.h targets/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Adam's sqrt in a vector loop: without errno (sqrt of v >= 0 never sets
# it) GCC vectorises it; results are unchanged (sqrt is correctly rounded).
$(BUILD)/src/mlp/mlp.o: CFLAGS += -fno-math-errno

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
# Before it, the short fuzz run (fuzz-smoke, below; FUZZ_SMOKE=0 skips it).
FUZZ_SMOKE ?= 1
test: $(BIN)/langbench $(BUILD)/run_tests $(if $(filter 1,$(FUZZ_SMOKE)),fuzz-smoke)
	LANGBENCH_BIN=$(abspath $(BIN)/langbench) OMP_NUM_THREADS=1 \
	  $(BUILD)/run_tests --jobs 2 $(TESTFLAGS)

# -O2, not -O1: GCC inserts vzeroupper only from -O2 on (with
# -fexpensive-optimizations); at -O1 rng.c's AVX-512/AVX2 Philox kernels
# returned with the upper vector state dirty and the SSE code after them
# ran about 40 times slower (a libm fma() call: 181 ns instead of 4.5 ns;
# 3-D PLMC K=16 fine, 4000 chains x 300 steps: 281 s, now 3 s).  The
# vector clones of vmath.h stay on under the sanitizers (the instrumented
# build runs the kernels the normal build runs); -fno-omit-frame-pointer
# keeps ASan's stack traces whole.
asan:
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	$(MAKE) test BUILD=build-asan BIN=build-asan/bin OPT=-O2 FUZZ_SMOKE=0 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

bench: $(BIN)/langbench $(BUILD)/bench
	$(BUILD)/bench

# scale-out numbers (README, Scale-out): 2 MPI ranks against 1, runner
# overhead per cell, assembly at 10^4 cells; a few minutes on 2 cores
bench-scaleout: $(BIN)/langbench
	sh scripts/bench-scaleout.sh $(BIN)/langbench

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
               ud_bias ud_speedup \
               diffusion_nfe
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

# ---- fuzzing (tests/fuzz/, README "Fuzzing") ------------------------------
# The library and each harness tests/fuzz/fuzz_NAME.c are built with clang
# and -fsanitize=fuzzer,address,undefined into build-fuzz/fuzz/NAME (a
# sub-make with BUILD=build-fuzz).  make fuzz runs each harness for FUZZ_S
# seconds on its seeds (tests/fuzz/corpus/NAME, read only) and a working
# corpus in build-fuzz/corpus/NAME, with nice; crash inputs land in
# build-fuzz/crashes/, logs in build-fuzz/logs/.  fuzz-smoke (part of
# make test) replays tests/fuzz/regress/NAME/* and runs each harness for
# a fixed number of inputs from a fixed seed (deterministic), two at a
# time.
FUZZ_BUILD := build-fuzz
FUZZ_S     ?= 60
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer
# OpenMP: clang links libgomp and ignores the pragmas, so the harnesses
# are serial.  libomp 14 aborts where /dev/shm is not writable (a chroot,
# some CI containers); libomp-14-dev is still needed for clang's omp.h.
FUZZ_WNO   := -Wno-unknown-pragmas -Wno-source-uses-openmp -Wno-pass-failed
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/%)
# allocator_may_return_null and the 1 TiB malloc limit: an impossible
# allocation fails as it would outside the sanitizers (NULL; lb_xcalloc
# then exits, which libFuzzer reports), while real use of more than 2 GiB
# is still caught by the RSS limit.
# TMPDIR: the harnesses' temporary directories (left behind when a
# harness crashes) stay under build-fuzz/tmp.
FUZZ_ENV   := TMPDIR=$(abspath $(FUZZ_BUILD))/tmp \
              OMP_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1 \
              ASAN_OPTIONS=allocator_may_return_null=1 \
              LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp)
FUZZ_OPTS  := -close_fd_mask=3 -timeout=20 -rss_limit_mb=2048 \
              -malloc_limit_mb=1048576 -print_final_stats=1

.PHONY: fuzz fuzz-bins fuzz-smoke
ifeq ($(BUILD),$(FUZZ_BUILD))
fuzz-bins: $(FUZZ_BINS)
$(FUZZ_BUILD)/fuzz/%: tests/fuzz/fuzz_%.c tests/fuzz/util.c tests/fuzz/fuzz.h \
    $(BUILD)/liblangbench.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DLB_FUZZ_LIBFUZZER -fsanitize=fuzzer -o $@ \
	  tests/fuzz/fuzz_$*.c tests/fuzz/util.c $(BUILD)/liblangbench.a \
	  $(LDFLAGS) $(LDLIBS)
else
fuzz-bins:
	@$(MAKE) -s --no-print-directory BUILD=$(FUZZ_BUILD) BIN=$(FUZZ_BUILD)/bin \
	  CC=clang OPT=-O1 WERROR= OPENMP=-fopenmp=libgomp \
	  SANITIZE="$(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FUZZ_WNO)" fuzz-bins
endif

fuzz: fuzz-bins
	@mkdir -p $(FUZZ_BUILD)/logs $(FUZZ_BUILD)/crashes $(FUZZ_BUILD)/tmp
	@fail=0; for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  $(FUZZ_ENV) nice $(FUZZ_BUILD)/fuzz/$$n $(FUZZ_OPTS) \
	    -max_total_time=$(FUZZ_S) -fork=1 -ignore_crashes=1 \
	    -artifact_prefix=$(abspath $(FUZZ_BUILD)/crashes)/$$n- \
	    $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
	    >$(FUZZ_BUILD)/logs/$$n.log 2>&1 || fail=1; \
	  sh tests/fuzz/summary.sh $$n $(FUZZ_BUILD); \
	done; exit $$fail

fuzz-smoke: fuzz-bins
	@mkdir -p $(FUZZ_BUILD)/tmp
	@FUZZ_ENV="$(FUZZ_ENV)" FUZZ_OPTS="$(FUZZ_OPTS)" \
	  sh tests/fuzz/smoke.sh $(FUZZ_BUILD) $(FUZZ_NAMES)

clean:
	rm -rf build build-asan build-fuzz bin

endif
