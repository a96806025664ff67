#!/usr/bin/env bash
# The main command: builds llmdb (release) and runs it on ./llmdb-data (or pass
# arguments: scripts/run.sh put greeting '"hello"').
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "run: building llmdb (release; the first build takes a few minutes)" >&2
swift build -c release --product llmdb >&2
exec .build/release/llmdb "$@"
