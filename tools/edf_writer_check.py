#!/usr/bin/python3
"""Opens the EDF+/BDF+ files neurostream wrote with MNE-Python and biosig (save2gdf) and compares
them with MNE's reading of the original PhysioNet run.

Produce the files first:
  NEUROSTREAM_EDF_CHECK_DIR=/tmp/edfcheck go test -run TestWriteForExternalCheck ./acquisition/edf/
then:
  /usr/bin/python3 tools/edf_writer_check.py /tmp/edfcheck [DATA_DIR]

Checks, per written file: channel names, rate and length; every sample within half a quantisation
step of the original (MNE read and biosig's CSV export, the latter also within its 6-digit print
precision); annotations (MNE) and events (biosig JSON) with the same onsets, durations and labels.
Prints one line per check and exits non-zero on any mismatch.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import mne

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def half_steps(path, n_ch):
    raw_header = open(path, 'rb').read(256 + 256 * (n_ch + 1))
    ns = int(raw_header[252:256])
    def field(off, width, i):
        start = 256 + ns * off + width * i
        return raw_header[start:start + width].decode('latin-1').strip()
    out = []
    for i in range(n_ch):
        pmin, pmax = float(field(104, 8, i)), float(field(112, 8, i))
        dmin, dmax = float(field(120, 8, i)), float(field(128, 8, i))
        out.append((pmax - pmin) / (dmax - dmin) / 2 * 1e-6)  # header unit is uV
    return np.array(out)


def main():
    out_dir = sys.argv[1]
    data_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, '..', 'shared', 'data')
    mne.set_log_level('ERROR')
    orig = mne.io.read_raw_edf(os.path.join(data_dir, 'physionet_eegmmidb_S001', 'S001R04.edf'), preload=True)
    want = orig.get_data()
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(('ok   ' if ok else 'FAIL ') + what)
        failures += not ok

    for name in ('S001R04_written.edf', 'S001R04_written.bdf'):
        path = os.path.join(out_dir, name)
        reader = mne.io.read_raw_bdf if name.endswith('.bdf') else mne.io.read_raw_edf
        raw = reader(path, preload=True)
        got = raw.get_data()
        tol = half_steps(path, len(orig.ch_names))[:, None] * (1 + 1e-6)
        check(raw.ch_names == orig.ch_names and raw.info['sfreq'] == orig.info['sfreq'] and got.shape == want.shape,
              f'{name}: MNE channels/rate/shape {got.shape} @ {raw.info["sfreq"]} Hz')
        err = np.abs(got - want)
        check(bool(np.all(err <= tol)), f'{name}: MNE samples within half a step (max error {err.max():.3g} V, '
                                         f'max half step {tol.max():.3g} V)')
        a, b = raw.annotations, orig.annotations
        same = (len(a) == len(b) and np.allclose(a.onset, b.onset, atol=1e-6)
                and np.allclose(a.duration, b.duration, atol=1e-6) and list(a.description) == list(b.description))
        check(same, f'{name}: MNE annotations ({len(a)} vs {len(b)})')

        with tempfile.TemporaryDirectory() as tmp:
            csv = os.path.join(tmp, 'out.csv')
            subprocess.run(['save2gdf', '-CSV', path, csv], check=True, capture_output=True)
            bio = np.loadtxt(csv, delimiter=',', skiprows=1).T * 1e-6  # uV -> V
            js = subprocess.run(['save2gdf', '-JSON', path], check=True, capture_output=True, text=True).stdout
        # biosig prints 6 significant digits
        bio_tol = tol + np.abs(want) * 1e-5 + 1e-12
        check(bio.shape == want.shape and bool(np.all(np.abs(bio - want) <= bio_tol)),
              f'{name}: biosig samples {bio.shape} within half a step + print precision')
        js = js[js.index('{'):]
        events = json.loads(js).get('EVENT', [])
        ok = (len(events) == len(b)
              and np.allclose([e['POS'] for e in events], b.onset, atol=1e-6)
              and np.allclose([e['DUR'] for e in events], b.duration, atol=1e-6)
              and [e['Description'] for e in events] == list(b.description))
        check(ok, f'{name}: biosig events ({len(events)} vs {len(b)})')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
