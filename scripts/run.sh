#!/usr/bin/env bash
# The main command: builds llmdb (release) and serves ./llmdb-data over REST and MCP on
# 127.0.0.1:7070 (`llmdb serve`); or pass arguments: scripts/run.sh put greeting '"hello"'.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "run: building llmdb (release; the first build takes a few minutes)" >&2
swift build -c release --product llmdb >&2
if [ "$#" -eq 0 ]; then
    echo "run: llmdb serve --db ./llmdb-data (REST and MCP on http://127.0.0.1:7070; Ctrl-C stops it)" >&2
    exec .build/release/llmdb serve --db ./llmdb-data
fi
exec .build/release/llmdb "$@"
