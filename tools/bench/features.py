#!/usr/bin/python3
"""Reference timings for `neurostream bench features` (and features/bench_test.go): the same workloads
with scipy.signal / numpy / scikit-learn on the same input, printed as one JSON object of seconds per op.

Workload: the 64 channels of PhysioNet S001R01 (volts, read with MNE) treated as a 250 Hz stream.
  welch-psd-64ch        scipy.signal.welch on a (64, 500) window, nperseg=250 (Hann, 50 % overlap)
  welch-bandpower-64ch  the same plus absolute and relative power in the six default bands
  chain-30s             30 s of the stream in 8-sample frames: sosfilt with zi for iirnotch(50, 30) and
                        butter(4, [1, 40]) per frame, common average, and per 2-s window every 0.5 s the
                        band power above plus sklearn LedoitWolf on the window

Each is timed as wall time and, under "<key>-cpu", as process CPU time (time.process_time, all threads),
which other load on the machine hardly changes.

usage: /usr/bin/python3 tools/bench/features.py [shared data dir]
"""
import json
import os
import sys
import time

import mne
import numpy as np
import scipy.signal as ss
from sklearn.covariance import LedoitWolf

here = os.path.dirname(os.path.abspath(__file__))
ddir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data")
FS, WIN, STEP, FRAME, SECONDS, NCH = 250.0, 500, 125, 8, 30, 64
BANDS = [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45), (65, 125)]

raw = mne.io.read_raw_edf(os.path.join(ddir, "physionet_eegmmidb_S001", "S001R01.edf"), preload=True, verbose="error")
data = raw.get_data()[:NCH]
window = np.ascontiguousarray(data[:, :WIN])

f = np.fft.rfftfreq(250, 1 / FS)
df = FS / 250
masks = [np.nonzero((f >= lo) & ((f < hi) | ((hi >= f[-1]) & (f <= f[-1]))))[0] for lo, hi in BANDS]
total = np.nonzero((f >= 1) & (f <= f[-1]))[0]


def bandpower(x):
    _, p = ss.welch(x, fs=FS, nperseg=250)
    tot = p[:, total].sum(axis=1) * df
    ab = np.stack([p[:, m].sum(axis=1) * df for m in masks])
    return ab, ab / tot


def best_of(fn, min_time=1.0, clock=time.perf_counter):
    """Seconds per call on clock: the best of 3 batches that each run at least min_time/3."""
    fn()
    n, t = 1, 0.0
    while True:
        t0 = clock()
        for _ in range(n):
            fn()
        t = clock() - t0
        if t > min_time / 3:
            break
        n *= 2
    best = t / n
    for _ in range(2):
        t0 = clock()
        for _ in range(n):
            fn()
        best = min(best, (clock() - t0) / n)
    return best


notch = ss.tf2sos(*ss.iirnotch(50, 30, fs=FS))
band = ss.butter(4, [1, 40], btype="bandpass", fs=FS, output="sos")
stream = np.ascontiguousarray(data[:, :int(SECONDS * FS)].astype(np.float32).astype(np.float64))


def chain():
    zn = np.zeros((notch.shape[0], NCH, 2))
    zb = np.zeros((band.shape[0], NCH, 2))
    buf = np.empty((NCH, 0))
    next_end = WIN
    pushed = 0
    lw = LedoitWolf()
    for off in range(0, stream.shape[1] - FRAME + 1, FRAME):
        x = stream[:, off:off + FRAME]
        x, zn = ss.sosfilt(notch, x, axis=1, zi=zn)
        x, zb = ss.sosfilt(band, x, axis=1, zi=zb)
        x = x - x.mean(axis=0)
        buf = np.concatenate([buf[:, -WIN:], x], axis=1)
        pushed += FRAME
        while pushed >= next_end:
            w = buf[:, buf.shape[1] - (pushed - next_end) - WIN: buf.shape[1] - (pushed - next_end)]
            bandpower(w)
            lw.fit(w.T)
            next_end += STEP


res = {
    "welch-psd-64ch": best_of(lambda: ss.welch(window, fs=FS, nperseg=250)),
    "welch-bandpower-64ch": best_of(lambda: bandpower(window)),
    "chain-30s": best_of(chain, min_time=2.0),
    "welch-psd-64ch-cpu": best_of(lambda: ss.welch(window, fs=FS, nperseg=250), clock=time.process_time),
    "welch-bandpower-64ch-cpu": best_of(lambda: bandpower(window), clock=time.process_time),
    "chain-30s-cpu": best_of(chain, min_time=2.0, clock=time.process_time),
}
print(json.dumps(res))
