#!/usr/bin/python3
"""Writes dsp/spectral/testdata/spectral_reference.json: scipy.signal 1.10 Welch PSD, CSD, coherence,
Hilbert and get_window on real EEG (PhysioNet EEGMMIDB S001R02, eyes closed), inputs included so the Go
tests never need the EDF or Python.

usage: /usr/bin/python3 tools/spectral_reference.py [path/to/S001R02.edf] [out.json]
"""
import json
import os
import sys

import mne
import numpy as np
import scipy
import scipy.signal as ss

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
edf = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "..", "shared", "data", "physionet_eegmmidb_S001", "S001R02.edf")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(repo, "dsp", "spectral", "testdata", "spectral_reference.json")

raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
fs = float(raw.info["sfreq"])
names = ["O1..", "Oz..", "O2.."]
start, n = int(5 * fs), int(10 * fs)  # 10 s from t = 5 s
x = raw.get_data(picks=names)[:, start:start + n]

cases = []
def welch_case(name, ch, **kw):
    f, p = ss.welch(x[ch], fs=fs, **kw)
    cfg = {k: v for k, v in kw.items()}
    cases.append({"name": name, "channel": ch, "config": cfg, "freqs": f.tolist(), "psd": p.tolist()})

welch_case("hann-default-2s", 0, nperseg=320)
welch_case("hamming-linear-spectrum-noovl", 1, nperseg=256, noverlap=0, window="hamming", detrend="linear", scaling="spectrum")
welch_case("blackman-median-odd-nseg", 2, nperseg=200, noverlap=150, window="blackman", average="median")
welch_case("flattop-median-even-nseg", 0, nperseg=160, noverlap=80, window="flattop", average="median")
welch_case("boxcar-none-odd-nfft", 1, nperseg=300, noverlap=100, nfft=301, window="boxcar", detrend=False)
welch_case("nuttall-linear-odd-nperseg", 2, nperseg=161, noverlap=40, window="nuttall", detrend="linear")

csd_cases = []
for name, kw in [("csd-O1-O2-default", dict(nperseg=160)), ("csd-O1-O2-median", dict(nperseg=160, average="median", window="hamming"))]:
    f, p = ss.csd(x[0], x[2], fs=fs, **kw)
    csd_cases.append({"name": name, "x": 0, "y": 2, "config": kw, "re": p.real.tolist(), "im": p.imag.tolist()})

f, coh = ss.coherence(x[0], x[1], fs=fs, nperseg=160)
coh_case = {"x": 0, "y": 1, "config": {"nperseg": 160}, "coh": coh.tolist()}

hil = []
for m in (1000, 999):
    z = ss.hilbert(x[0, :m])
    hil.append({"n": m, "re": z.real.tolist(), "im": z.imag.tolist()})

# Alpha band (8-12 Hz) zero-phase filtered O1 and its scipy analytic signal: the reference the streaming
# Hilbert's envelope and phase are compared with (away from the block ends).
sos = ss.butter(4, [8, 12], btype="bandpass", fs=fs, output="sos")
alpha = ss.sosfiltfilt(sos, x[0])
za = ss.hilbert(alpha)
alpha_case = {"x": alpha.tolist(), "envelope": np.abs(za).tolist(), "phase": np.angle(za).tolist()}

windows = {}
for w in ["hann", "hamming", "blackman", "nuttall", "blackmanharris", "flattop", "boxcar", "bartlett", "triang"]:
    windows[w] = {str(m): ss.get_window(w, m).tolist() for m in (16, 17)}

doc = {
    "source": "PhysioNet EEGMMIDB S001R02.edf, channels %s, samples %d..%d, volts (MNE get_data)" % (names, start, start + n),
    "scipy": scipy.__version__, "mne": mne.__version__,
    "fs_hz": fs, "channels": names, "x": x.tolist(),
    "welch": cases, "csd": csd_cases, "coherence": coh_case, "hilbert": hil,
    "alpha_hilbert": alpha_case, "windows": windows,
}
with open(out, "w") as fh:
    json.dump(doc, fh)
print("wrote", out, os.path.getsize(out), "bytes")
