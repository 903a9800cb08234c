#!/usr/bin/python3
"""Reference timings for `neurostream bench dsp` (and dsp/bench_test.go): scipy.signal.sosfilt.

Workload: 64 channels x 150,000 samples of real EEG, PhysioNet S001 runs R03..R10 concatenated (read
with MNE), band-passed by butter(4, [8, 30], fs=250) as second-order sections.
Prints one JSON object of seconds per operation, one operation being the whole array:
  sosfilt-whole     sosfilt on the (64, 150000) array in one call
  sosfilt-frames-8  sosfilt with zi (n_sections, 64, 2) called once per 8-sample frame over all channels
each as wall time and, under "<key>-cpu", as process CPU time (time.process_time), which other load on
the machine hardly changes.
Usage: dsp.py [DATA_DIR]   (default ../shared/data beside the repository)
"""
import json
import os
import sys
import time

import numpy as np
import scipy.signal as sig
import mne

RUNS = ["R03", "R04", "R05", "R06", "R07", "R08", "R09", "R10"]
N_CH, N_SAMPLES, FS = 64, 150000, 250.0


def load(data_dir):
    parts, have = [], 0
    for run in RUNS:
        path = os.path.join(data_dir, "physionet_eegmmidb_S001", f"S001{run}.edf")
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        d = raw.get_data()[:N_CH]
        parts.append(d[:, :N_SAMPLES - have])
        have += parts[-1].shape[1]
        if have >= N_SAMPLES:
            break
    x = np.ascontiguousarray(np.concatenate(parts, axis=1))
    assert x.shape == (N_CH, N_SAMPLES), x.shape
    return x


def best_of(fn, repeats, clock=time.perf_counter):
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data")
    x = load(data_dir)
    sos = sig.butter(4, [8.0, 30.0], "bandpass", fs=FS, output="sos")

    def whole():
        sig.sosfilt(sos, x, axis=-1)

    def frames8():
        zi = np.zeros((sos.shape[0], N_CH, 2))
        for i in range(0, N_SAMPLES, 8):
            _, zi = sig.sosfilt(sos, x[:, i:i + 8], axis=-1, zi=zi)

    whole()
    res = {"sosfilt-whole": best_of(whole, 5), "sosfilt-frames-8": best_of(frames8, 3),
           "sosfilt-whole-cpu": best_of(whole, 5, time.process_time),
           "sosfilt-frames-8-cpu": best_of(frames8, 3, time.process_time)}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
