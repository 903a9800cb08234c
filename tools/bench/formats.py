#!/usr/bin/python3
"""Reference timings for `neurostream bench formats` (and the Benchmark* functions in acquisition/edf):
MNE-Python reading whole files into memory.

Cases (one operation = one whole file read with preload=True):
  edf-physionet-R01   mne.io.read_raw_edf  physionet_eegmmidb_S001/S001R01.edf (64 ch, 160 Hz, 1 min)
  edf-physionet-R04   mne.io.read_raw_edf  physionet_eegmmidb_S001/S001R04.edf (64 ch, 160 Hz, 2 min)
  edf-physionet-all   mne.io.read_raw_edf  all 14 S001 runs, one after another
  bdf-generator       mne.io.read_raw_bdf  mne_testing_formats/BDF/test_generator_2.bdf (11 ch, 24-bit, 10 min)
Other formats may add their cases to the same JSON object.
Prints one JSON object {"case": seconds_per_op} (median of repeats) to stdout.
Usage: formats.py [DATA_DIR]   (default ../shared/data beside the repository)
"""
import glob
import json
import os
import sys
import time

import mne

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def median_time(fn, min_repeats=5, min_total_sec=1.0):
    fn()  # warm-up: imports, page cache
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - start < min_total_sec:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 200:
            break
    times.sort()
    return times[len(times) // 2]


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, '..', 'shared', 'data')
    mne.set_log_level('ERROR')
    phys = os.path.join(data_dir, 'physionet_eegmmidb_S001')
    all_runs = sorted(glob.glob(os.path.join(phys, 'S001R*.edf')))
    out = {}

    def edf(path):
        return lambda: mne.io.read_raw_edf(path, preload=True)

    out['edf-physionet-R01'] = median_time(edf(os.path.join(phys, 'S001R01.edf')))
    out['edf-physionet-R04'] = median_time(edf(os.path.join(phys, 'S001R04.edf')))
    out['edf-physionet-all'] = median_time(lambda: [mne.io.read_raw_edf(p, preload=True) for p in all_runs],
                                           min_repeats=3)
    bdf = os.path.join(data_dir, 'mne_testing_formats', 'BDF', 'test_generator_2.bdf')
    out['bdf-generator'] = median_time(lambda: mne.io.read_raw_bdf(bdf, preload=True))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
