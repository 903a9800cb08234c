#!/usr/bin/env bash
# Regenerates streams/pb from streams/proto. Needs protoc (Debian: protobuf-compiler); installs
# protoc-gen-go at the version go.mod pins.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
ver=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
GOBIN="$PWD/.cache/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$ver"
PATH="$PWD/.cache/bin:$PATH" protoc -I streams/proto \
  --go_out=streams/pb --go_opt=paths=source_relative --go_opt=Mneurostream/v1/neurostream.proto=github.com/neurostream/neurostream/streams/pb \
  neurostream/v1/neurostream.proto
mv streams/pb/neurostream/v1/neurostream.pb.go streams/pb/neurostream.pb.go
rm -rf streams/pb/neurostream
