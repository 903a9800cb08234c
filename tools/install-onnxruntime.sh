#!/bin/sh
# Installs the ONNX Runtime shared library that decoders/onnx loads at run time, into a
# project-local cache (.cache/onnxruntime/, ignored by git), and prints its path.
#
# The library is taken from the npm package onnxruntime-node with `npm pack` (a download of the
# tarball only): `npm install` would run a postinstall script that fetches from outside the package
# registries. Version 1.24.3 matches the C headers github.com/yalue/onnxruntime_go v1.27.0 was built
# against. Running the script again when the library is already there does nothing.
#
# Usage: tools/install-onnxruntime.sh [dest-dir]
# Then: export NEUROSTREAM_ONNXRUNTIME="$(tools/install-onnxruntime.sh)"  (optional: the project-local
# cache is searched anyway).
set -eu

ORT_VERSION=1.24.3
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/.cache/onnxruntime"}
lib="$dest/libonnxruntime.so.$ORT_VERSION"
link="$dest/libonnxruntime.so"

if [ -s "$lib" ] && [ -L "$link" ]; then
	echo "$link"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*)
	echo "install-onnxruntime: only linux x86_64 is scripted; on $(uname -s)/$(uname -m) install ONNX Runtime $ORT_VERSION yourself and set NEUROSTREAM_ONNXRUNTIME to the library's path" >&2
	exit 1
	;;
esac
command -v npm >/dev/null 2>&1 || {
	echo "install-onnxruntime: npm is needed to fetch onnxruntime-node@$ORT_VERSION (apt-get install npm)" >&2
	exit 1
}

mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null) || {
	echo "install-onnxruntime: npm pack onnxruntime-node@$ORT_VERSION failed" >&2
	exit 1
}
tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
mv "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.part"
mv "$lib.part" "$lib"
ln -sf "libonnxruntime.so.$ORT_VERSION" "$link"
echo "$link"
