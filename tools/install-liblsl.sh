#!/bin/sh
# Installs liblsl (the Lab Streaming Layer's reference C++ library) for the LSL interoperability
# tests and `neurostream bench lsl`, into a project-local cache (.cache/liblsl/, ignored by git), and
# prints the library's path. neurostream itself never links liblsl: its LSL code is pure Go; liblsl is
# the other party the tests talk to.
#
# The library comes from the npm package lsl.js (prebuilt/liblsl64.so: liblsl 1.12, data protocol
# 1.10), taken with `npm pack` (a download of the tarball only). Running the script again when the
# library is already there does nothing.
#
# Usage: tools/install-liblsl.sh [dest-dir]
set -eu

LSLJS_VERSION=1.1.2
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/.cache/liblsl"}
lib="$dest/liblsl64.so"

if [ -s "$lib" ]; then
	echo "$lib"
	exit 0
fi
case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*)
	echo "install-liblsl: only linux x86_64 is scripted; set NEUROSTREAM_LIBLSL to a liblsl shared library to run the LSL interop tests" >&2
	exit 1
	;;
esac
command -v npm >/dev/null 2>&1 || {
	echo "install-liblsl: npm is needed to fetch lsl.js@$LSLJS_VERSION (apt-get install npm)" >&2
	exit 1
}
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "lsl.js@$LSLJS_VERSION" >/dev/null) || {
	echo "install-liblsl: npm pack lsl.js@$LSLJS_VERSION failed" >&2
	exit 1
}
tar -xzf "$tmp/lsl.js-$LSLJS_VERSION.tgz" -C "$tmp" package/prebuilt/liblsl64.so
mv "$tmp/package/prebuilt/liblsl64.so" "$lib.part"
mv "$lib.part" "$lib"
echo "$lib"
