#!/usr/bin/python3
"""MNE-Python 1.3 summaries of the EDF/BDF/GDF reader fixtures and the PhysioNet EDF+ runs.

Each format has its own function and output file, so that other formats can be added beside it:
  edf_bdf() -> acquisition/edf/testdata/mne_edf.json  (mne_testing_formats/EDF, BDF, PhysioNet S001)
  gdf()     -> acquisition/gdf/testdata/mne_gdf.json  (mne_testing_formats/GDF)

A summary holds shape, rate, channel names/types, meas_date, per-channel sums, sums of squares,
min/max, the values at a few fixed sample indices, a SHA-256 of the float32-rounded data (for exact
comparison where MNE's arithmetic is reproduced bit for bit), the annotations, and for files with a
stim channel the events of mne.find_events with the settings the Go reader mirrors. Never whole arrays.

Usage: /usr/bin/python3 tools/formats_reference.py [DATA_DIR]
DATA_DIR defaults to ../shared/data relative to the repository root.
"""
import glob
import hashlib
import json
import os
import sys

import numpy as np
import mne

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_PICK = 8  # sample indices per channel kept in a fixture


def pick_indices(n_times):
    rng = np.random.RandomState(0)
    idx = {0, int(n_times) - 1} | set(int(i) for i in rng.randint(0, n_times, N_PICK - 2))
    return sorted(idx)


def data_summary(raw):
    data = raw.get_data()
    idx = pick_indices(raw.n_times) if raw.n_times else []
    meas = raw.info['meas_date']
    stim = [raw.ch_names[i] for i, t in enumerate(raw.get_channel_types()) if t == 'stim']
    out = {
        'mne_version': mne.__version__,
        'sfreq': float(raw.info['sfreq']),
        'n_times': int(raw.n_times),
        'meas_date_unix': None if meas is None else meas.timestamp(),
        'ch_names': list(raw.ch_names),
        'ch_types': raw.get_channel_types(),
        'orig_units': [raw._orig_units.get(n, '') for n in raw.ch_names] if raw._orig_units else [],
        'sample_indices': idx,
        'samples': [[float(v) for v in row[idx]] for row in data],
        'sums': [float(s) for s in data.sum(axis=1)],
        'sumsq': [float(s) for s in (data ** 2).sum(axis=1)],
        'mins': [float(s) for s in data.min(axis=1)],
        'maxs': [float(s) for s in data.max(axis=1)],
        # channel-major float32 little-endian bytes
        'sha256_float32': hashlib.sha256(data.astype('<f4').tobytes()).hexdigest(),
        'annotations': annotations(raw.annotations),
    }
    if stim:
        ev = mne.find_events(raw, stim_channel=stim[0], consecutive='increasing', mask=0xFFFF,
                             mask_type='and', shortest_event=1, initial_event=False, verbose=False)
        # (sample, new code) pairs; a file can hold thousands, so keep a head and a checksum of
        # all of them (int64 little-endian, row-major).
        pairs = np.ascontiguousarray(ev[:, [0, 2]].astype('<i8'))
        out['stim_channel'] = stim[0]
        out['n_events'] = int(len(ev))
        out['events_head'] = pairs[:50].tolist()
        out['events_sha256'] = hashlib.sha256(pairs.tobytes()).hexdigest()
    return out


def annotations(ann):
    return [{'onset': float(o), 'duration': float(d), 'description': str(s)}
            for o, d, s in zip(ann.onset, ann.duration, ann.description)]


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'), ensure_ascii=False, default=repr)
        f.write('\n')
    print(f'wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path)} bytes)', file=sys.stderr)


def edf_bdf(data_dir):
    files = sorted(glob.glob(os.path.join(data_dir, 'mne_testing_formats', 'EDF', '*.edf')))
    files += sorted(glob.glob(os.path.join(data_dir, 'mne_testing_formats', 'BDF', '*.bdf')))
    files += sorted(glob.glob(os.path.join(data_dir, 'physionet_eegmmidb_S001', '*.edf')))
    out = {}
    for path in files:
        rel = os.path.relpath(path, data_dir)
        try:
            if path.endswith('.bdf'):
                raw = mne.io.read_raw_bdf(path, preload=True, verbose=False)
            else:
                raw = mne.io.read_raw_edf(path, preload=True, verbose=False)
        except Exception as e:  # record what MNE could not read instead of hiding it
            out[rel] = {'mne_error': f'{type(e).__name__}: {e}'}
            continue
        if len(raw.ch_names) == 0 or raw.n_times == 0:
            out[rel] = {'mne_error': 'no data channels'}
        else:
            out[rel] = data_summary(raw)
    # Annotation-only files (hypnograms): MNE documents mne.read_annotations for these.
    for path in files:
        rel = os.path.relpath(path, data_dir)
        if 'mne_error' in out.get(rel, {}):
            try:
                out[rel]['read_annotations'] = annotations(mne.read_annotations(path))
            except Exception as e:
                out[rel]['read_annotations_error'] = f'{type(e).__name__}: {e}'
    write(os.path.join(REPO, 'acquisition', 'edf', 'testdata', 'mne_edf.json'), out)


def gdf(data_dir):
    files = sorted(glob.glob(os.path.join(data_dir, 'mne_testing_formats', 'GDF', '*.gdf')))
    out = {}
    for path in files:
        rel = os.path.relpath(path, data_dir)
        try:
            raw = mne.io.read_raw_gdf(path, preload=True, verbose=False)
        except Exception as e:
            out[rel] = {'mne_error': f'{type(e).__name__}: {e}'}
            continue
        out[rel] = data_summary(raw)
    write(os.path.join(REPO, 'acquisition', 'gdf', 'testdata', 'mne_gdf.json'), out)


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, '..', 'shared', 'data')
    mne.set_log_level('ERROR')
    edf_bdf(data_dir)
    gdf(data_dir)


if __name__ == '__main__':
    main()
