#!/usr/bin/python3
"""MNE-Python summaries of the FIF, BrainVision and EEGLAB reader fixtures.

Writes one small JSON file per recording into the Go package's testdata/ (acquisition/fif,
acquisition/brainvision, acquisition/eeglab), so that `go test` compares the Go readers with MNE
without needing Python. The summaries hold channel names/types/locations, rates, shapes, selected
samples, per-channel sums, and events/annotations; never whole arrays.

Usage: /usr/bin/python3 tools/formats_reference_meg.py [DATA_DIR]
DATA_DIR defaults to ../shared/data/mne_testing_formats relative to the repository root.
"""
import json
import os
import sys

import numpy as np
import mne

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_PICK = 16  # sample indices per channel kept in a fixture


def pick_indices(n_times):
    return sorted(set(int(i) for i in np.linspace(0, n_times - 1, N_PICK).round()))


def finite_or_none(x):
    # JSON has no NaN; MNE marks unknown locations with NaN.
    return float(x) if np.isfinite(x) else None


def common_summary(raw):
    data = raw.get_data()
    idx = pick_indices(raw.n_times)
    meas = raw.info['meas_date']
    return {
        'mne_version': mne.__version__,
        'sfreq': float(raw.info['sfreq']),
        'n_times': int(raw.n_times),
        'first_samp': int(raw.first_samp),
        'meas_date_unix': None if meas is None else meas.timestamp(),
        'ch_names': list(raw.ch_names),
        'ch_types': raw.get_channel_types(),
        'locs': [[finite_or_none(x) for x in ch['loc'][:12]] for ch in raw.info['chs']],
        'sample_indices': idx,
        'samples': [[float(v) for v in row[idx]] for row in data],
        'sums': [float(s) for s in data.sum(axis=1)],
        'abs_sums': [float(s) for s in np.abs(data).sum(axis=1)],
    }


def annotations_summary(raw):
    ann = raw.annotations
    out = {
        'annotations': [
            {'onset': float(o), 'duration': float(d), 'description': str(s)}
            for o, d, s in zip(ann.onset, ann.duration, ann.description)
        ]
    }
    if len(ann):
        events, event_id = mne.events_from_annotations(raw, verbose=False)
        out['events_from_annotations'] = events.tolist()
        out['event_id'] = {k: int(v) for k, v in event_id.items()}
    return out


def fif_summary(path):
    raw = mne.io.read_raw_fif(path, preload=True, verbose=False)
    s = common_summary(raw)
    s['cals'] = [float(ch['cal'] * ch['range']) for ch in raw.info['chs']]
    s['coil_types'] = [int(ch['coil_type']) for ch in raw.info['chs']]
    s['units'] = [int(ch['unit']) for ch in raw.info['chs']]
    try:
        s['events'] = mne.find_events(raw, verbose=False).tolist()
    except ValueError as err:
        s['events'] = []
        s['find_events_error'] = str(err)
    s.update(annotations_summary(raw))
    return s


def fif_evoked_error(path):
    try:
        mne.io.read_raw_fif(path, preload=True, verbose=False)
    except ValueError as err:
        return {'mne_version': mne.__version__, 'raw_error': str(err)}
    raise SystemExit(f'{path}: expected MNE to refuse an evoked file as raw')


def brainvision_summary(path):
    raw = mne.io.read_raw_brainvision(path, preload=True, verbose=False)
    s = common_summary(raw)
    s.update(annotations_summary(raw))
    return s


def eeglab_summary(path):
    raw = mne.io.read_raw_eeglab(path, preload=True, verbose=False)
    s = common_summary(raw)
    s.update(annotations_summary(raw))
    return s


def write(pkg, stem, summary):
    out = os.path.join(REPO, 'acquisition', pkg, 'testdata', f'mne_{stem}.json')
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(summary, f, separators=(',', ':'))
    print(out, os.path.getsize(out), 'bytes')


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        REPO, '..', 'shared', 'data', 'mne_testing_formats')
    fif = os.path.join(data, 'FIF')
    for stem in ['test_elekta_3ch_raw', 'sample_audvis_trunc_raw_sss', 'neuromag122_test_file-raw']:
        write('fif', stem, fif_summary(os.path.join(fif, stem + '.fif')))
    write('fif', 'test_elekta-ave', fif_evoked_error(os.path.join(fif, 'test_elekta-ave.fif')))
    bv = os.path.join(data, 'Brainvision')
    for name in ['test_NO.vhdr', 'Analyzer_nV_Export.vhdr', 'test_VAmp.ahdr']:
        write('brainvision', os.path.splitext(name)[0], brainvision_summary(os.path.join(bv, name)))
    write('eeglab', 'test_raw', eeglab_summary(os.path.join(data, 'EEGLAB', 'test_raw.set')))


if __name__ == '__main__':
    main()
