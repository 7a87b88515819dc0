# The two commands a newcomer runs: `make run` and `make test`. Everything they need is installed
# by `make deps` (Debian packages, through apt-get, as root; chromium for the UI's browser tests)
# and, for the end-to-end tests, by `make e2e-deps` (the OpenTelemetry JS SDK and playwright-core
# from the npm registry, into tests/e2e/node_modules).
#
# The Release build (`make build`, `run`, `test`) also builds the web UI (ui/) into tailtraced:
# CMake's TAILTRACE_BUILD_UI (ON by default) runs `npm ci` in ui/ when ui/package-lock.json
# changes and the UI's build (tsc, vite) when ui/ changes, with node and npm from `make deps`
# (query/ui_assets.cmake). The sanitizer, TSan and fuzz builds run C++ tests only and configure
# with -DTAILTRACE_BUILD_UI=OFF.

BUILD_DIR   ?= build
BUILD_TYPE  ?= Release
CONFIG      ?= config/tailtrace.yaml
JOBS        ?= $(shell nproc)

# clickhouse-server: the ClickHouse backend's tests start a private server (tailtraced itself
# needs none installed; it reaches a ClickHouse server over HTTP). zookeeper: the tests of
# storage.clickhouse.cluster start a private ZooKeeper for the replicated tables.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config \
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libabsl-dev \
  librocksdb-dev libzstd-dev liblz4-dev zlib1g-dev libdeflate-dev libjemalloc-dev \
  libspdlog-dev libboost-dev libboost-system-dev libyaml-cpp-dev rapidjson-dev \
  libgtest-dev libgmock-dev libcli11-dev libbenchmark-dev \
  libsimdjson-dev libre2-dev libssl-dev openssl clang libclang-rt-14-dev curl \
  chromium clickhouse-server zookeeper

.PHONY: all deps build run test unit-test ui-test e2e-test e2e-deps sanitize-test tsan-test bench fuzz format clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -z "$$missing" ]; then echo "deps: all system packages present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	if [ "$$(id -u)" != 0 ]; then \
	  if command -v sudo >/dev/null; then SUDO=sudo; else \
	    echo "deps: missing packages:$$missing"; \
	    echo "deps: run 'make deps' as root (or install them with apt-get) and try again"; exit 1; fi; \
	fi; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p data
	$(BUILD_DIR)/daemon/tailtraced --config $(CONFIG)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

# package-lock.json pins every transitive package; `npm ci` installs exactly that.
e2e-deps:
	@cd tests/e2e && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch node_modules; fi

e2e-test: build e2e-deps
	TAILTRACED=$(abspath $(BUILD_DIR))/daemon/tailtraced node --test tests/e2e/

# The UI's logic (span tree, critical path, layouts, search and services models) with Vitest;
# ui/node_modules comes from the build (TAILTRACE_BUILD_UI). The browser tests are e2e tests
# (tests/e2e/ui_browser.test.mjs: Debian's chromium driven by playwright-core).
ui-test: build
	cd ui && npx vitest run

test: unit-test ui-test e2e-test

# The unit and integration tests (and the daemon they start) built with AddressSanitizer and
# UndefinedBehaviorSanitizer; any report fails the test. .ci/run runs it after `make test`.
SAN_BUILD_DIR ?= build-asan
SANITIZE      ?= address,undefined
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
  LSAN_OPTIONS=suppressions=$(abspath tests/sanitizer/lsan.supp) \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(SAN_BUILD_DIR)/build.ninja:
	cmake -S . -B $(SAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
	  -DTAILTRACE_SANITIZE=$(SANITIZE) -DTAILTRACE_BUILD_BENCH=OFF -DTAILTRACE_BUILD_UI=OFF

sanitize-test: deps $(SAN_BUILD_DIR)/build.ninja
	cmake --build $(SAN_BUILD_DIR) -j $(JOBS)
	cd $(SAN_BUILD_DIR) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 600

# The pipeline's, the write-ahead log's, the cluster membership's and the exporter's tests
# (threads, queues, group commit, snapshots, retries) under ThreadSanitizer. Only code of ours runs
# threads there; gRPC and RocksDB are not instrumented, so the tests that use them stay out.
TSAN_BUILD_DIR ?= build-tsan

$(TSAN_BUILD_DIR)/build.ninja:
	cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
	  -DTAILTRACE_SANITIZE=thread -DTAILTRACE_BUILD_BENCH=OFF -DTAILTRACE_BUILD_UI=OFF

tsan-test: deps $(TSAN_BUILD_DIR)/build.ninja
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS) --target collector_pipeline_test wal_test cluster_test \
	  exporter_test spanmetrics_test storage_clickhouse_unit_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  $(TSAN_BUILD_DIR)/tests/collector/collector_pipeline_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN_BUILD_DIR)/tests/wal/wal_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN_BUILD_DIR)/tests/cluster/cluster_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN_BUILD_DIR)/tests/exporter/exporter_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  $(TSAN_BUILD_DIR)/tests/spanmetrics/spanmetrics_test
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  $(TSAN_BUILD_DIR)/tests/storage/storage_clickhouse_unit_test

bench: build
	bench/run.sh $(BUILD_DIR)

# libFuzzer with ASan+UBSan on every decoder of network bytes, FUZZ_SECONDS per harness, in a
# separate clang build directory (without the UI); prints the executions each harness survived
# (tests/fuzz/README.md).
FUZZ_SECONDS   ?= 60
FUZZ_BUILD_DIR ?= build-fuzz

fuzz: deps
	tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS)

format:
	find cluster collector common config daemon exporter proto query storage wal bench tests \
	  \( -name '*.h' -o -name '*.cc' \) -not -path '*/node_modules/*' | xargs clang-format -i
	cd ui && npm run format

clean:
	rm -rf $(BUILD_DIR)
