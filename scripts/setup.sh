#!/usr/bin/env bash
# Installs what LLMDB needs to build, if it is missing, and says what it does.
# Sourced by scripts/run.sh and scripts/test.sh.
set -euo pipefail

need_apt=()
if ! pkg-config --exists lmdb 2>/dev/null; then
    need_apt+=(liblmdb-dev)
fi
if ! command -v pkg-config >/dev/null 2>&1; then
    need_apt+=(pkg-config)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get (LMDB's C library and headers)" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi
if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    else
        echo "setup: no Swift toolchain found (need Swift 6.2 or later on PATH)" >&2
        exit 1
    fi
fi
