# The README contract: `make run` and `make test` install what is missing, build, and run.
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: setup configure build run test unit e2e bench clean format tsa \
        asan tsan fuzz fuzz-smoke crash-soak soak

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/larder serve $(ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

e2e: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

# clang build with -Wthread-safety: keeps GUARDED_BY/REQUIRES annotations honest.
tsa: setup
	@CC=clang CXX=clang++ cmake -S . -B build-tsa -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLARDER_THREAD_SAFETY=ON -DBUILD_TESTING=OFF >/dev/null
	@cmake --build build-tsa -j $(JOBS)

bench: build
	bash bench/run.sh

# ---- Hardening (docs/hardening.md) ----
# Sanitizers: the unit tests and the e2e suites against instrumented binaries (tools/sanitize.sh;
# any sanitizer report fails the run). SAN_TESTS picks a subset, e.g. "L:unit R:e2e_test_runtime".
SAN_TESTS ?= all
asan: setup
	@SAN_TESTS="$(SAN_TESTS)" bash tools/sanitize.sh asan
tsan: setup
	@SAN_TESTS="$(SAN_TESTS)" bash tools/sanitize.sh tsan
# libFuzzer targets (fuzz/, clang): `make fuzz` builds them into build-asan/; `make fuzz-smoke`
# runs each for FUZZ_SECONDS. FUZZ_TARGETS picks some (default: all).
FUZZ_SECONDS ?= 25
FUZZ_TARGETS ?=
fuzz: setup
	@bash tools/fuzz.sh --build-only $(FUZZ_TARGETS)
fuzz-smoke: setup
	@bash tools/fuzz.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)
# Long runs, not part of `make test`: kill -9 cycles in both durability modes, and the soak.
CRASH_CYCLES ?= 100
crash-soak: build
	LARDER_BIN=$(BUILD_DIR)/larder python3 tools/crash_soak.py --cycles $(CRASH_CYCLES) --durability process
	LARDER_BIN=$(BUILD_DIR)/larder python3 tools/crash_soak.py --cycles $(CRASH_CYCLES) --durability fsync
SOAK_MINUTES ?= 30
soak: build
	LARDER_BIN=$(BUILD_DIR)/larder python3 tools/soak.py --minutes $(SOAK_MINUTES)

format:
	@find src include test bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-tsa build-asan build-tsan build-soak
