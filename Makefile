# midge: `make run` builds and starts the broker; `make test` builds and
# runs every test. Both install the Debian packages they lack first.
JOBS := $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
ARGS ?=

.PHONY: all build asan run test unit integration fuzz bench format format-check clean size \
	install deb arm64 arm64-smoke

all: build

build:
	@scripts/deps.sh build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

# clang build with ASan+UBSan and the libFuzzer targets.
asan:
	@scripts/deps.sh test
	@CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
		-DMIDGE_SANITIZE=ON -DMIDGE_FUZZ=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

run: build
	./build/midge $(ARGS)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory format-check build asan
	@$(MAKE) --no-print-directory unit fuzz integration arm64-smoke

unit:
	ctest --test-dir build --output-on-failure -j$(JOBS)
	ctest --test-dir build-asan --output-on-failure -j$(JOBS)

fuzz:
	scripts/run-fuzz.sh build-asan $(FUZZ_SECONDS)

integration:
	scripts/run-integration.sh build-asan

bench: build
	@scripts/deps.sh bench
	scripts/run-bench.sh build

# PREFIX (default /usr/local) and DESTDIR (staging root) as usual. The
# prefix is set when configuring, since it decides where the configuration
# goes (/etc for PREFIX=/usr, PREFIX/etc otherwise).
PREFIX ?= /usr/local
install:
	@scripts/deps.sh build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build -j$(JOBS)
	cmake --install build

# A Debian package of the release build, in build/ (installs under /usr).
deb:
	@scripts/deps.sh build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	@cmake --build build -j$(JOBS)
	cd build && cpack -G DEB

format:
	@git ls-files '*.c' '*.h' | xargs -r clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror

# midge-lite's Cortex-M4 footprint (both builds) against its targets.
size:
	@scripts/deps.sh test
	@scripts/size.sh build/size

# arm64 (Raspberry Pi with a 64-bit OS, arm64 VPS) with Debian's cross
# compiler: broker, tools and libmidge in build-arm64/.
ARM64_TARGETS := midge midge_pub midge_sub midge_rr midge_passwd midge_client \
	midge_client_shared
arm64:
	@scripts/deps.sh arm64
	@cmake -S . -B build-arm64 -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/toolchain-aarch64.cmake >/dev/null
	@cmake --build build-arm64 -j$(JOBS) --target $(ARM64_TARGETS)

# The arm64 build under qemu-user: broker started, pub/sub round trips.
arm64-smoke: arm64
	cd tests/integration && MIDGE_ARM64_BUILD=$(CURDIR)/build-arm64 \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider --timeout=120 test_arm64.py

clean:
	rm -rf build build-asan build-arm64
