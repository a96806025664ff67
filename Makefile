# LLMDB benchmark targets.
#   make baselines     build the C baselines into Benchmarks/baselines/bin/
#   make bench         baselines + Swift llmdb-bench + driver, then bench-wasm, bench-docs, bench-lql, bench-server, bench-python and bench-abi (SCALE=0.01 make bench for a quick run)
#   make bench-quick   same as bench with SCALE=0.02
#   make bench-wasm    the WebAssembly benchmark of issue 3: Swift llmdb-wasm-bench + scripts/bench_wasm.py
#                      (1,000,000 × SCALE records; wasmtime in a venv under .build/venv-wasmtime if it installs)
#   make bench-docs    the documents benchmark of issue 4: Swift llmdb-doc-bench + sqlite_json + scripts/bench_docs.py
#                      (100,000 × SCALE documents) into bench-out/docs.md
#   make bench-lql     the LQL benchmark of issue 5: Swift llmdb-lql-bench + sqlite_lql + scripts/bench_lql.py
#                      (100,000 × SCALE documents, at least 2,000) into bench-out/lql.md
#   make bench-server  the server benchmark of issue 6: `llmdb serve` (release, built in .build-bench) driven by
#                      wrk (installed with apt-get if missing) beside the in-process calls of llmdb-server-bench,
#                      scripts/bench_server.py (100,000 × SCALE memories and facts, at least 2,000) into
#                      bench-out/server.md
#   make bench-python  the Python benchmark of issue 7: the llmdb package (release libllmdb.so) against PyPI's lmdb,
#                      side by side in one process (100,000 × SCALE keys, at least 2,000), scripts/bench-python.sh
#                      into bench-out/python.md
#   make bench-vector-kernels  the distance kernels of LLMDBVector (release): an exact scan of 10,000 × 384 f32
#                      vectors at LMDB's 2-byte alignment, SIMD beside a scalar loop, into bench-out/vector-kernels.md
#   make bench-abi     the C ABI benchmark: libllmdb.so (release, scripts/build-lib.sh), Benchmarks/c/bench_abi.c
#                      and Swift llmdb-abi-bench read the same database in turns, scripts/bench_abi.py
#                      (100,000 × SCALE keys, at least 10,000) into bench-out/abi.md

SCALE ?= 1
CC ?= cc
BASELINE_CFLAGS = -O2 -Wall -Wextra
BASELINE_DIR = Benchmarks/baselines
BASELINE_BIN = $(BASELINE_DIR)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

WASM_RECORDS ?= $(shell python3 -c "print(max(1000, round(1000000 * $(SCALE))))")
WASM_ROUNDS ?= 3

DOC_COUNT ?= $(shell python3 -c "print(max(1000, round(100000 * $(SCALE))))")
DOC_ROUNDS ?= 5

LQL_DOCS ?= $(shell python3 -c "print(max(2000, round(100000 * $(SCALE))))")
LQL_ROUNDS ?= 5

SERVER_MEMORIES ?= $(shell python3 -c "print(max(2000, round(100000 * $(SCALE))))")
SERVER_SECONDS ?= $(shell python3 -c "print(max(1, round(5 * min(1, $(SCALE)))))")
SERVER_ROUNDS ?= 3
SERVER_BATCH ?= 5000

PY_KEYS ?= $(shell python3 -c "print(max(2000, round(100000 * $(SCALE))))")
PY_ROUNDS ?= 3

ABI_KEYS ?= $(shell python3 -c "print(max(10000, round(100000 * $(SCALE))))")
ABI_ROUNDS ?= 3
ABI_SECONDS ?= 1

.PHONY: bench-vector-kernels baselines bench bench-quick bench-wasm bench-docs bench-lql bench-server bench-python bench-abi wrk-dep baseline-deps baselines-clean

baselines: $(BASELINE_BIN)/lmdb_raw $(BASELINE_BIN)/sqlite_bitemporal $(BASELINE_BIN)/sqlite_json $(BASELINE_BIN)/sqlite_lql

baseline-deps:
	@pkg-config --exists lmdb || { echo "pkg-config: lmdb not found; installing liblmdb-dev via apt-get"; \
	  $(SUDO) apt-get install -y liblmdb-dev; }
	@pkg-config --exists sqlite3 || { echo "pkg-config: sqlite3 not found; installing libsqlite3-dev via apt-get"; \
	  $(SUDO) apt-get install -y libsqlite3-dev; }

$(BASELINE_BIN)/lmdb_raw: $(BASELINE_DIR)/lmdb_raw.c $(BASELINE_DIR)/common.h | baseline-deps
	@mkdir -p $(BASELINE_BIN)
	$(CC) $(BASELINE_CFLAGS) -o $@ $< $$(pkg-config --cflags --libs lmdb) -lpthread -lm

$(BASELINE_BIN)/sqlite_bitemporal: $(BASELINE_DIR)/sqlite_bitemporal.c $(BASELINE_DIR)/common.h $(BASELINE_DIR)/sqlite_common.h | baseline-deps
	@mkdir -p $(BASELINE_BIN)
	$(CC) $(BASELINE_CFLAGS) -o $@ $< $$(pkg-config --cflags --libs sqlite3) -lpthread -lm

$(BASELINE_BIN)/sqlite_json: $(BASELINE_DIR)/sqlite_json.c $(BASELINE_DIR)/common.h $(BASELINE_DIR)/sqlite_common.h | baseline-deps
	@mkdir -p $(BASELINE_BIN)
	$(CC) $(BASELINE_CFLAGS) -o $@ $< $$(pkg-config --cflags --libs sqlite3) -lpthread -lm

$(BASELINE_BIN)/sqlite_lql: $(BASELINE_DIR)/sqlite_lql.c $(BASELINE_DIR)/common.h $(BASELINE_DIR)/sqlite_common.h | baseline-deps
	@mkdir -p $(BASELINE_BIN)
	$(CC) $(BASELINE_CFLAGS) -o $@ $< $$(pkg-config --cflags --libs sqlite3) -lpthread -lm

bench: baselines
	swift build -c release --package-path Benchmarks --product llmdb-bench
	python3 scripts/bench.py --scale $(SCALE) --out bench-out/latest.md
	$(MAKE) bench-wasm SCALE=$(SCALE)
	$(MAKE) bench-docs SCALE=$(SCALE)
	$(MAKE) bench-lql SCALE=$(SCALE)
	$(MAKE) bench-server SCALE=$(SCALE)
	$(MAKE) bench-python SCALE=$(SCALE)
	$(MAKE) bench-abi SCALE=$(SCALE)

bench-wasm:
	swift build -c release --package-path Benchmarks --product llmdb-wasm-bench
	python3 scripts/bench_wasm.py --no-build --records $(WASM_RECORDS) --rounds $(WASM_ROUNDS) --out bench-out/wasm.md

bench-docs: $(BASELINE_BIN)/sqlite_json
	swift build -c release --package-path Benchmarks --product llmdb-doc-bench
	python3 scripts/bench_docs.py --no-build --docs $(DOC_COUNT) --rounds $(DOC_ROUNDS) --out bench-out/docs.md

bench-lql: $(BASELINE_BIN)/sqlite_lql
	swift build -c release --package-path Benchmarks --product llmdb-lql-bench
	python3 scripts/bench_lql.py --no-build --docs $(LQL_DOCS) --rounds $(LQL_ROUNDS) --out bench-out/lql.md

wrk-dep:
	@command -v wrk >/dev/null || { echo "wrk not found; installing it via apt-get"; $(SUDO) apt-get install -y wrk; }

bench-server: wrk-dep
	swift build -c release --product llmdb --scratch-path .build-bench
	swift build -c release --package-path Benchmarks --product llmdb-server-bench
	python3 scripts/bench_server.py --no-build --memories $(SERVER_MEMORIES) --facts $(SERVER_MEMORIES) \
	  --seconds $(SERVER_SECONDS) --rounds $(SERVER_ROUNDS) --batch $(SERVER_BATCH) --out bench-out/server.md

bench-python:
	bash scripts/bench-python.sh --keys $(PY_KEYS) --rounds $(PY_ROUNDS) --out bench-out/python.md

bench-abi:
	bash scripts/build-lib.sh
	swift build -c release --package-path Benchmarks --product llmdb-abi-bench
	python3 scripts/bench_abi.py --no-build --keys $(ABI_KEYS) --rounds $(ABI_ROUNDS) --seconds $(ABI_SECONDS) \
	  --out bench-out/abi.md

bench-quick:
	$(MAKE) bench SCALE=0.02

baselines-clean:
	rm -rf $(BASELINE_BIN)

bench-vector-kernels:
	swift build -c release --package-path Benchmarks --product llmdb-vector-bench
	@mkdir -p bench-out
	Benchmarks/.build/release/llmdb-vector-bench | tee bench-out/vector-kernels.md
