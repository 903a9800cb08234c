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


def first_record_onset(path):
    """Onset of the first data record after the header's whole-second start time (its time-keeping TAL)."""
    raw = open(path, 'rb').read()
    ns = int(raw[252:256])
    hdr = int(raw[184:192])
    bps = 3 if raw[0] == 0xff else 2
    spr = [int(raw[256 + 216 * ns + 8 * i:256 + 216 * ns + 8 * i + 8]) for i in range(ns)]
    start = hdr + bps * sum(spr[:-1])  # the annotation signal is the last one in files we write
    tal = raw[start:start + bps * spr[-1]]
    return float(tal[:tal.index(0x14)])


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

    # *_written.*: edf.Write of the whole recording; *_streamed.*: edf.Create + WriteFrame with the
    # annotations as frame markers (markers carry no duration, so durations are 0 there).
    for name in ('S001R04_written.edf', 'S001R04_written.bdf', 'S001R04_streamed.edf', 'S001R04_streamed.bdf'):
        streamed = 'streamed' in name
        path = os.path.join(out_dir, name)
        reader = mne.io.read_raw_bdf if name.endswith('.bdf') else mne.io.read_raw_edf
        raw = reader(path, preload=True)
        got = raw.get_data()
        tol = half_steps(path, len(orig.ch_names))[:, None] * (1 + 1e-6)
        if streamed:
            tol = tol + np.abs(want) * 2 ** -24  # frames carry float32 samples
        check(raw.ch_names == orig.ch_names and raw.info['sfreq'] == orig.info['sfreq'] and got.shape == want.shape,
              f'{name}: MNE channels/rate/shape {got.shape} @ {raw.info["sfreq"]} Hz')
        err = np.abs(got - want)
        check(bool(np.all(err <= tol)), f'{name}: MNE samples within half a step (max error {err.max():.3g} V, '
                                         f'max half step {tol.max():.3g} V)')
        a, b = raw.annotations, orig.annotations
        want_dur = np.zeros(len(b)) if streamed else b.duration
        same = (len(a) == len(b) and np.allclose(a.onset, b.onset, atol=1e-6)
                and np.allclose(a.duration, want_dur, atol=1e-6) and list(a.description) == list(b.description))
        check(same, f'{name}: MNE annotations ({len(a)} vs {len(b)})')

        with tempfile.TemporaryDirectory() as tmp:
            csv = os.path.join(tmp, 'out.csv')
            subprocess.run(['save2gdf', '-CSV', path, csv], check=True, capture_output=True)
            bio = np.loadtxt(csv, delimiter=',', skiprows=1).T * 1e-6  # uV -> V
            js = subprocess.run(['save2gdf', '-JSON', path], check=True, capture_output=True, text=True).stdout
        # biosig prints 6 significant digits
        bio_tol = tol + np.abs(want) * 1e-5 + 1e-12
        bio_dur = [max(d, 0) for d in want_dur]
        check(bio.shape == want.shape and bool(np.all(np.abs(bio - want) <= bio_tol)),
              f'{name}: biosig samples {bio.shape} within half a step + print precision')
        js = js[js.index('{'):]
        events = json.loads(js).get('EVENT', [])
        # biosig counts event positions from the header's whole-second start time, not from the
        # first sample, so a sub-second start (the streaming writer's) shifts them all; it also
        # stores positions as whole samples, hence the half-sample tolerance.
        shift = first_record_onset(path)
        ok = (len(events) == len(b)
              and np.allclose([e['POS'] - shift for e in events], b.onset, atol=0.5 / orig.info['sfreq'] + 1e-6)
              and np.allclose([e.get('DUR', 0) for e in events], bio_dur, atol=1e-6)
              and [e['Description'] for e in events] == list(b.description))
        check(ok, f'{name}: biosig events ({len(events)} vs {len(b)})')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
