#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what tests need (the ONNX Runtime shared library,
# from the npm registry, into .cache/), then vets and tests every package. Tests that read the shared
# recordings look for them in ../shared/data (or $NEUROSTREAM_DATA) and skip with a message if absent.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(bash tools/install-onnxruntime.sh | tail -n 1)
export NEUROSTREAM_ONNXRUNTIME="$lib"
echo "== go vet ./..."
go vet ./...
echo "== go test ./... (ONNX Runtime: $lib)"
go test -count=1 -timeout 20m ./...
