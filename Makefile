# The README contract: `make run` and `make test` install what is missing, build, and run.
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc)
ARGS       ?=

.PHONY: setup configure build run test unit e2e bench clean format tsa

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

format:
	@find src include test bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) build-tsa
