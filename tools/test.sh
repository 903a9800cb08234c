#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what tests need (the ONNX Runtime shared library,
# from the npm registry, into .cache/; staticcheck; Chromium for the live view's browser tests), builds
# the binary as the Dockerfile does, checks the deployment files, then vets and tests every package.
# Tests that read the shared recordings look for them in ../shared/data (or $NEUROSTREAM_DATA) and
# skip with a message if absent.
set -euo pipefail
cd "$(dirname "$0")/.."
# The toolchain go.mod names (the newest patch release the module proxy serves, with the standard
# library's security fixes); the go command fetches it from the module proxy like a module.
export GOTOOLCHAIN=go1.27.3
lib=$(bash tools/install-onnxruntime.sh | tail -n 1)
export NEUROSTREAM_ONNXRUNTIME="$lib"
# liblsl, the other party of the LSL interoperability tests (they skip without it).
if lsl=$(bash tools/install-liblsl.sh | tail -n 1); then
	export NEUROSTREAM_LIBLSL="$lsl"
fi
echo "== go build ./cmd/neurostream (as the Dockerfile builds it)"
CGO_ENABLED=1 go build -trimpath -o .cache/bin/neurostream ./cmd/neurostream
.cache/bin/neurostream version
echo "== go vet ./..., go mod tidy -diff, staticcheck ./..."
go vet ./...
go mod tidy -diff
# Built by the Go that analyses the code: a staticcheck built by an older Go fails on a newer standard library.
sc="$PWD/.cache/bin/$(go env GOVERSION)"
if [ -x "$sc/staticcheck" ] || GOBIN="$sc" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2; then
	"$sc/staticcheck" ./...
else
	echo "staticcheck: skipped (could not be installed from the module proxy)"
fi
echo "== deployment files"
bash tools/check-deploy.sh
# The live view's tests drive Debian's Chromium headless; without it they skip.
command -v chromium >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y chromium >/dev/null 2>&1 ||
	{ apt-get update >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=600 install -y chromium >/dev/null 2>&1; } ||
	echo "chromium: not installed, the browser tests will skip"
echo "== go test ./... (ONNX Runtime: $lib)"
go test -count=1 -timeout 20m ./...
# The Kafka paths (client, embedded broker, pipeline, record/replay round trip) again under the race
# detector; the drills and the test that runs the built binary are left to the plain run above.
echo "== go test -race (Kafka packages)"
go test -race -count=1 -timeout 10m -skip 'TestRestartDrill|TestStageAsSeparateProcess' ./streams/... ./pipeline/
go test -race -count=1 -timeout 10m -run 'TestRoundTripPhysioNet|TestRecord|TestConsume' ./cmd/neurostream/
