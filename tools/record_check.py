#!/usr/bin/python3
"""Opens the files `neurostream record` wrote in the round-trip test with MNE-Python, biosig (save2gdf)
and an independent XDF parser, and compares them with MNE's reading of the original PhysioNet run.

Produce the files first (replay S001R04 -> embedded Kafka -> record to .edf/.bdf/.xdf):
  NEUROSTREAM_RECORD_CHECK_DIR=/tmp/reccheck go test -run TestRoundTripPhysioNet ./cmd/neurostream/
then:
  /usr/bin/python3 tools/record_check.py /tmp/reccheck [DATA_DIR]

Checks: channel names, rate and length; every sample within half a quantisation step (from the
file's header) of the original's float32 value (what frames carry) for EDF/BDF, read by MNE and by
biosig's CSV export (plus its 6-digit print precision), and exactly float32 for XDF; annotations
(MNE) and events (biosig JSON) at the original onsets with the original labels and durations, and XDF
marker strings at the original onsets with the original labels (XDF markers have no durations).
EDF/BDF files are also opened in EDFbrowser (Debian's edfbrowser, under xvfb-run; x11-utils for
xwininfo), which checks EDF+/BDF+ compliance strictly on open: the file must open (window
"<file> - EDFbrowser") without an "Error" dialog. Skipped with a note when those tools are missing.
One line per check; non-zero exit on any mismatch.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import mne

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edf_writer_check import half_steps, first_record_onset  # noqa: E402
from xdf_check import FMT, varlen  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_xdf(path):
    """Every stream of an XDF file: name, format, srate, labels, timestamps t and values x (all of them)."""
    import struct
    import xml.etree.ElementTree as ET
    buf = open(path, 'rb').read()
    assert buf[:4] == b'XDF:', 'no XDF magic'
    pos, out = 4, {}
    while pos < len(buf):
        length, pos = varlen(buf, pos)
        tag = struct.unpack_from('<H', buf, pos)[0]
        body, pos = buf[pos + 2:pos + length], pos + length
        if tag not in (2, 3):
            continue
        sid, body = struct.unpack_from('<I', body)[0], body[4:]
        if tag == 2:
            root = ET.fromstring(body.decode())
            out[sid] = {'name': root.findtext('name'), 'format': root.findtext('channel_format'),
                        'n_ch': int(root.findtext('channel_count')), 'srate': float(root.findtext('nominal_srate')),
                        'labels': [c.findtext('label') for c in root.iter('channel')], 't': [], 'x': []}
            continue
        s = out[sid]
        n, p = varlen(body, 0)
        for _ in range(n):
            assert body[p] == 8, 'neurostream writes every timestamp'
            s['t'].append(struct.unpack_from('<d', body, p + 1)[0])
            p += 9
            if s['format'] == 'string':
                row = []
                for _ in range(s['n_ch']):
                    ln, p = varlen(body, p)
                    row.append(body[p:p + ln].decode())
                    p += ln
            else:
                f = FMT[s['format']]
                row = struct.unpack_from('<%d%s' % (s['n_ch'], f), body, p)
                p += struct.calcsize(f) * s['n_ch']
            s['x'].append(row)
    for s in out.values():
        if s['format'] != 'string':
            s['x'] = np.array(s['x'], dtype=np.float64)
    return out


EDFBROWSER_OPEN = r"""
edfbrowser "$1" >/dev/null 2>&1 &
pid=$!
for i in $(seq 80); do
  sleep 0.25
  w=$(xwininfo -root -tree 2>/dev/null)
  if printf '%s' "$w" | grep -q '"Error"'; then echo error; break; fi
  if printf '%s' "$w" | grep -qF "\"$(basename "$1") - EDFbrowser\""; then echo opened; break; fi
done
kill $pid 2>/dev/null
wait $pid 2>/dev/null
"""


def edfbrowser_opens(path):
    """'opened', 'error' (EDFbrowser rejected the file) or '' (neither within 20 s)."""
    r = subprocess.run(['xvfb-run', '-a', 'bash', '-c', EDFBROWSER_OPEN, 'edfbrowser_check', path],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.strip()


def main():
    out_dir = sys.argv[1]
    data_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, '..', 'shared', 'data')
    mne.set_log_level('ERROR')
    orig = mne.io.read_raw_edf(os.path.join(data_dir, 'physionet_eegmmidb_S001', 'S001R04.edf'), preload=True)
    want = orig.get_data().astype(np.float32).astype(np.float64)
    sfreq = orig.info['sfreq']
    b = orig.annotations
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(('ok   ' if ok else 'FAIL ') + what)
        failures += not ok

    for name in ('r04.edf', 'r04.bdf'):
        path = os.path.join(out_dir, name)
        reader = mne.io.read_raw_bdf if name.endswith('.bdf') else mne.io.read_raw_edf
        raw = reader(path, preload=True)
        got = raw.get_data()
        tol = half_steps(path, len(orig.ch_names))[:, None] * (1 + 1e-6)
        check(raw.ch_names == orig.ch_names and raw.info['sfreq'] == sfreq and got.shape == want.shape,
              f'{name}: MNE channels/rate/shape {got.shape} @ {raw.info["sfreq"]} Hz')
        err = np.abs(got - want)
        check(bool(np.all(err <= tol)), f'{name}: MNE samples within half a step (max error {err.max():.3g} V, '
                                         f'max half step {tol.max():.3g} V)')
        a = raw.annotations
        same = (len(a) == len(b) and np.allclose(a.onset, b.onset, atol=1e-6)
                and np.allclose(a.duration, b.duration, atol=1e-6) and list(a.description) == list(b.description))
        check(same, f'{name}: MNE annotations ({len(a)} vs {len(b)}: onsets, durations, labels)')

        with tempfile.TemporaryDirectory() as tmp:
            csv = os.path.join(tmp, 'out.csv')
            subprocess.run(['save2gdf', '-CSV', path, csv], check=True, capture_output=True)
            bio = np.loadtxt(csv, delimiter=',', skiprows=1).T * 1e-6  # uV -> V
            js = subprocess.run(['save2gdf', '-JSON', path], check=True, capture_output=True, text=True).stdout
        bio_tol = tol + np.abs(want) * 1e-5 + 1e-12  # biosig prints 6 significant digits
        check(bio.shape == want.shape and bool(np.all(np.abs(bio - want) <= bio_tol)),
              f'{name}: biosig samples {bio.shape} within half a step + print precision')
        events = json.loads(js[js.index('{'):]).get('EVENT', [])
        shift = first_record_onset(path)  # biosig counts from the header's whole-second start
        ok = (len(events) == len(b)
              and np.allclose([e['POS'] - shift for e in events], b.onset, atol=0.5 / sfreq + 1e-6)
              and np.allclose([e.get('DUR', 0) for e in events], b.duration, atol=1e-6)
              and [e['Description'] for e in events] == list(b.description))
        check(ok, f'{name}: biosig events ({len(events)} vs {len(b)}: onsets, durations, labels)')
        if all(shutil.which(t) for t in ('edfbrowser', 'xvfb-run', 'xwininfo')):
            got = edfbrowser_opens(path)
            check(got == 'opened', f'{name}: EDFbrowser opens it without an error dialog ({got or "no window"})')
        else:
            print(f'skip {name}: EDFbrowser check needs edfbrowser, xvfb-run and xwininfo (apt-get install edfbrowser xvfb x11-utils)')

    xdf = read_xdf(os.path.join(out_dir, 'r04.xdf'))
    data = [x for x in xdf.values() if x['format'] == 'float32']
    marks = [x for x in xdf.values() if x['format'] == 'string']
    print('xdf streams:', {k: (x['name'], x['format'], len(x['t'])) for k, x in xdf.items()})
    ok = len(data) == 1 and len(marks) == 1
    check(ok and data[0]['labels'] == orig.ch_names and data[0]['srate'] == sfreq and data[0]['x'].shape == want.T.shape,
          'r04.xdf: one float32 stream with the 64 channel names at 160 Hz, 20000 samples, and one marker stream')
    if ok:
        check(bool(np.array_equal(data[0]['x'].T, want)), 'r04.xdf: every sample equals the original float32 value')
        onsets = np.array(marks[0]['t']) - data[0]['t'][0]
        check([v[0] for v in marks[0]['x']] == list(b.description) and np.allclose(onsets, b.onset, atol=1e-9),
              f'r04.xdf: {len(marks[0]["x"])} markers with the original labels at the original onsets')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
