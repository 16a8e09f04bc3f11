# updraft. `./run <target>` installs missing packages first; these targets
# assume they are installed.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60

.PHONY: all build test demo powerloss asan fuzz fuzz-smoke bench test-rv32 footprint format clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	bash examples/demo/demo.sh $(BUILD)/updraft

# Power cut at every flash operation over a real 1.5 MB firmware.
powerloss: build
	UPDRAFT_POWERLOSS_IMAGE=../shared/firmware/esp32-esphome-demo/01_esphome-1.20.0-dev_2021-06-14a.bin \
	UPDRAFT_POWERLOSS_IMAGE2=../shared/firmware/esp32-esphome-demo/02_esphome-1.20.0-dev_2021-06-14b.bin \
	UPDRAFT_SHARED=$(CURDIR)/../shared $(BUILD)/powerloss_test_powerloss

asan:
	@cmake -S . -B build-asan -DUPDRAFT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

fuzz:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DUPDRAFT_FUZZ=ON -DUPDRAFT_HOST_TOOLS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=10

bench: build
	bash bench/run.sh $(BUILD)

test-rv32: build
	bash tests/rv32/run.sh

footprint:
	bash bench/footprint.sh

format:
	clang-format -i include/updraft/*.h src/core/*.[ch] src/port/host/*.c tools/updraft/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf $(BUILD) build-asan build-fuzz
