#!/usr/bin/env bash
# Soak test (not in CI): a 64-channel 250 Hz synthetic headset through the multi-process setup
# (broker, source, filter pipeline, decode pipeline, each its own process) for a given time, sampling
# the resident memory (RSS) of every process each interval, so that growth shows up as a curve.
#
#   bash tools/soak.sh                      # 1 hour, one sample a minute, broker retention 15 min
#   SOAK_SEC=600 RETENTION=3m bash tools/soak.sh    # 10 minutes; retention short enough to reach
#
# Environment: SOAK_SEC (3600), INTERVAL_SEC (60), RETENTION (15m), CHANNELS (64), OUT (a temp dir),
# SPOOL_DIR (the source's on-disk spool, $OUT/spool; "off": none), BIN (a built binary instead of
# building this checkout, e.g. to compare two versions side by side).
# It prints one line per sample (elapsed seconds, then RSS in MiB per process) and writes the same
# table to $OUT/rss.tsv, with each process's log beside it. Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SEC=${SOAK_SEC:-3600}
INTERVAL_SEC=${INTERVAL_SEC:-60}
RETENTION=${RETENTION:-15m}
CHANNELS=${CHANNELS:-64}
OUT=${OUT:-$(mktemp -d -t neurostream-soak-XXXXXX)}
mkdir -p "$OUT"
bin=${BIN:-$OUT/neurostream}
[ -n "${BIN:-}" ] || go build -o "$bin" ./cmd/neurostream

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
cat >"$OUT/soak.yaml" <<YAML
kafka:
  brokers: [$addr]
  namespace: soak
spool:
  dir: ${SPOOL_DIR:-$OUT/spool}
sources:
  - kind: synthetic
    stream_id: soak-1
    channels: $CHANNELS
    sample_rate_hz: 250
    frame_samples: 8
    realtime: true
pipelines:
  - name: filter
    input: raw
    output: clean
    stages:
      - {kind: notch, freq_hz: 50}
      - {kind: bandpass, low_hz: 1, high_hz: 40}
  - name: decode
    input: clean
    stages:
      - kind: features
        window_sec: 2
        step_sec: 0.5
        extractors: [{kind: bandpower}]
      - {kind: decoder, decoder: alpha, model: $PWD/configs/models/alpha-synthetic.json, step_sec: 0.5}
YAML

pids=()
names=()
cleanup() { # the broker last, so the pipelines' last snapshots reach it
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT
start() { # name, command...
	local name=$1
	shift
	"$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
	names+=("$name")
}
start broker "$bin" broker --addr "$addr" --data-dir "$OUT/broker" --retention "$RETENTION"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
start filter "$bin" run --config "$OUT/soak.yaml" --pipeline filter
start decode "$bin" run --config "$OUT/soak.yaml" --pipeline decode
start source "$bin" run --config "$OUT/soak.yaml" --only sources

rss() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo dead; }
header="elapsed_s"
for n in "${names[@]}"; do header+=$'\t'"${n}_rss_mib"; done
echo "$header" | tee "$OUT/rss.tsv"
t0=$(date +%s)
while :; do
	now=$(($(date +%s) - t0))
	line="$now"
	for p in "${pids[@]}"; do line+=$'\t'"$(rss "$p")"; done
	echo "$line" | tee -a "$OUT/rss.tsv"
	[ "$now" -ge "$SOAK_SEC" ] && break
	sleep "$INTERVAL_SEC"
done
echo "logs and rss.tsv in $OUT"
