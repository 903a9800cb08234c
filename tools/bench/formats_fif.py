#!/usr/bin/python3
"""Reference timing for the FIF reader: mne.io.read_raw_fif(path, preload=True) on the MEG fixtures.

Prints one JSON object {"fif-read/<stem>": seconds_per_read, ...} (median of repeated reads), the same
workload as BenchmarkRead in acquisition/fif and the FIF cases of `neurostream bench formats`.
Usage: /usr/bin/python3 tools/bench/formats_fif.py [FIF_DIR]   (default ../shared/data/mne_testing_formats/FIF)
"""
import json
import os
import sys
import time

import mne

STEMS = ['test_elekta_3ch_raw', 'sample_audvis_trunc_raw_sss', 'neuromag122_test_file-raw']


def median_time(fn, min_total=1.0, min_reps=5):
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_total:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    fif_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        repo, '..', 'shared', 'data', 'mne_testing_formats', 'FIF')
    out = {}
    for stem in STEMS:
        path = os.path.join(fif_dir, stem + '.fif')
        out['fif-read/' + stem] = median_time(
            lambda: mne.io.read_raw_fif(path, preload=True, verbose=False))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
