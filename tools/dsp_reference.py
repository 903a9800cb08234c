#!/usr/bin/python3
"""Golden fixtures for package dsp, computed with scipy.signal 1.10 and MNE 1.3 (Debian packages).

Run from the repository root:  /usr/bin/python3 tools/dsp_reference.py [path/to/S001R01.edf]
Writes small JSON files under dsp/testdata/. The input samples of the real recording are stored in the
fixtures themselves, so the Go tests never need the EDF file or Python.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.signal as sig
import mne

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "dsp", "testdata")
DEFAULT_EDF = os.path.join(REPO, "..", "shared", "data", "physionet_eegmmidb_S001", "S001R01.edf")
DEFAULT_EDF_TASK = os.path.join(REPO, "..", "shared", "data", "physionet_eegmmidb_S001", "S001R04.edf")


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"{path}: {os.path.getsize(path)} bytes")


def lst(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def designs():
    cases = []
    bands = {"lowpass": [30.0], "highpass": [1.0], "bandpass": [8.0, 30.0], "bandstop": [48.0, 52.0]}
    for fs in (250.0, 160.0, 1000.0):
        for ftype in ("butter", "cheby1", "cheby2"):
            for order in (1, 2, 3, 4, 5, 8):
                for btype, wn in bands.items():
                    if ftype == "butter":
                        sos = sig.butter(order, wn, btype, fs=fs, output="sos")
                        param = 0.0
                    elif ftype == "cheby1":
                        param = 0.5
                        sos = sig.cheby1(order, param, wn, btype, fs=fs, output="sos")
                    else:
                        param = 40.0
                        sos = sig.cheby2(order, param, wn, btype, fs=fs, output="sos")
                    cases.append({"ftype": ftype, "order": order, "param": param, "band": btype,
                                  "cutoff_hz": wn, "fs_hz": fs, "sos": [lst(r) for r in sos]})
    notches = []
    for f0, q, fs in ((50.0, 30.0, 250.0), (60.0, 30.0, 250.0), (50.0, 35.0, 1000.0), (60.0, 10.0, 160.0)):
        b, a = sig.iirnotch(f0, q, fs=fs)
        notches.append({"f0_hz": f0, "q": q, "fs_hz": fs, "b": lst(b), "a": lst(a)})
    combs = []
    for f0, q, fs, pz in ((50.0, 30.0, 1000.0, False), (60.0, 30.0, 240.0, False), (50.0, 20.0, 250.0, True)):
        b, a = sig.iircomb(f0, q, ftype="notch", fs=fs, pass_zero=pz)
        combs.append({"f0_hz": f0, "q": q, "fs_hz": fs, "pass_zero": pz, "b": lst(b), "a": lst(a)})
    firs = []
    for ntaps, cutoff, window, pass_zero, fs in (
            (31, [30.0], "hamming", True, 250.0),
            (64, [10.0], "hann", True, 160.0),
            (101, [1.0], "hamming", False, 250.0),
            (81, [8.0, 30.0], "hamming", False, 250.0),
            (81, [48.0, 52.0], "blackman", True, 250.0),
            (55, [8.0, 30.0], ["kaiser", 5.0], False, 160.0),
            (121, [40.0], ["kaiser", 8.6], True, 1000.0),
            (33, [20.0], "boxcar", True, 250.0)):
        w = tuple(window) if isinstance(window, list) else window
        h = sig.firwin(ntaps, cutoff, window=w, pass_zero=pass_zero, fs=fs)
        firs.append({"num_taps": ntaps, "cutoff_hz": cutoff, "window": window, "pass_zero": pass_zero,
                     "fs_hz": fs, "h": lst(h)})
    kaiser = []
    for ripple, width in ((40.0, 0.05), (60.0, 0.02), (25.0, 0.1), (80.0, 0.01)):
        n, beta = sig.kaiserord(ripple, width)
        kaiser.append({"ripple_db": ripple, "width": width, "num_taps": int(n), "beta": float(beta)})
    dump("designs.json", {"scipy": scipy.__version__, "iir": cases, "notch": notches, "comb": combs,
                          "firwin": firs, "kaiserord": kaiser})


def filters(edf):
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    picks = ["C3..", "Cz..", "Oz.."]
    fs = float(raw.info["sfreq"])
    start, n = int(10 * fs), 800  # 5 s from t = 10 s
    x = raw.get_data(picks=picks)[:, start:start + n]
    sos_bp = sig.butter(4, [8.0, 30.0], "bandpass", fs=fs, output="sos")
    sos_hp = sig.cheby1(3, 0.5, [1.0], "highpass", fs=fs, output="sos")
    sos_bs = sig.cheby2(4, 40.0, [48.0, 52.0], "bandstop", fs=fs, output="sos")
    out = {"source": os.path.basename(edf), "channels": picks, "fs_hz": fs, "start_sample": start,
           "x": [lst(r) for r in x]}
    out["sos_bp"] = [lst(r) for r in sos_bp]
    out["sos_hp"] = [lst(r) for r in sos_hp]
    out["sos_bs"] = [lst(r) for r in sos_bs]
    out["sosfilt_bp"] = [lst(sig.sosfilt(sos_bp, r)) for r in x]
    out["sosfilt_zi_bp"] = [lst(r) for r in sig.sosfilt_zi(sos_bp)]
    zi = sig.sosfilt_zi(sos_bp)[:, None, :] * x[None, :, 0, None]
    out["sosfilt_bp_steady"] = [lst(sig.sosfilt(sos_bp, x, axis=-1, zi=zi)[0][0])]
    out["sosfiltfilt_bp"] = lst(sig.sosfiltfilt(sos_bp, x[0]))
    out["sosfiltfilt_hp"] = lst(sig.sosfiltfilt(sos_hp, x[1]))
    out["sosfiltfilt_bs"] = lst(sig.sosfiltfilt(sos_bs, x[2]))
    h = sig.firwin(33, [8.0, 30.0], pass_zero=False, fs=fs)
    out["fir_h"] = lst(h)
    out["lfilter_fir"] = [lst(sig.lfilter(h, [1.0], r)) for r in x]
    bc, ac = sig.iircomb(20.0, 30.0, ftype="notch", fs=fs)
    out["comb_b"], out["comb_a"] = lst(bc), lst(ac)
    out["lfilter_comb"] = lst(sig.lfilter(bc, ac, x[0]))
    out["detrend_linear"] = lst(sig.detrend(x[0], type="linear"))
    out["detrend_constant"] = lst(sig.detrend(x[0], type="constant"))
    dump("filters.json", out)

    res = {"source": os.path.basename(edf), "fs_hz": fs, "x": lst(x[0]), "cases": []}
    for up, down in ((25, 16), (3, 25), (3, 4), (2, 1), (1, 3), (5, 5)):
        res["cases"].append({"up": up, "down": down, "y": lst(sig.resample_poly(x[0], up, down))})
    dump("resample.json", res)


def epochs(edf):
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    picks = ["C3..", "Cz..", "C4.."]
    raw.pick(picks)
    fs = float(raw.info["sfreq"])
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    events = events[1:6]  # the first event is at t = 0, where [tmin, tmax] runs off the data
    tmin, tmax = -0.5, 1.0
    ep = mne.Epochs(raw, events, tmin=tmin, tmax=tmax, baseline=(None, 0), preload=True,
                    reject_by_annotation=False, verbose="error")
    data = ep.get_data()
    lo = max(0, int(events[:, 0].min() + round(tmin * fs)) - 5)
    hi = int(events[:, 0].max() + round(tmax * fs)) + 6
    x = raw.get_data()[:, lo:hi]
    dump("epochs.json", {"source": os.path.basename(edf), "fs_hz": fs, "tmin_sec": tmin, "tmax_sec": tmax,
                         "baseline": [None, 0], "first_sample": lo, "x": [lst(r) for r in x],
                         "event_samples": [int(e) - lo for e in events[:, 0]],
                         "n_times": int(data.shape[2]), "epochs": [[lst(c) for c in e] for e in data]})


def main():
    edf = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_EDF
    edf_task = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_EDF_TASK
    os.makedirs(OUT, exist_ok=True)
    designs()
    filters(edf)
    epochs(edf_task)


if __name__ == "__main__":
    main()
