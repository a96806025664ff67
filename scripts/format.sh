#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format (.swift-format is swift-nio's
# configuration), then lints them. `scripts/format.sh --check` only lints.
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Sources)
if [ "${1:-}" != "--check" ]; then
    echo "format: formatting in place" >&2
    swift format format --in-place --recursive --parallel "${paths[@]}"
fi
echo "format: linting" >&2
swift format lint --strict --recursive --parallel "${paths[@]}"
