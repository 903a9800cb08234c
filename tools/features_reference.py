#!/usr/bin/python3
"""Writes features/testdata/features_reference.json: every features/ extractor computed with
numpy/scipy/scikit-learn in the same definition (see the Go doc comments) on real EEG windows
(PhysioNet EEGMMIDB S001 R01 eyes open and R02 eyes closed, 2-s windows, 7 channels, volts), with the
windows included so the Go tests need neither the EDF nor Python.

usage: /usr/bin/python3 tools/features_reference.py [dir with S001R01.edf and S001R02.edf] [out.json]
"""
import json
import math
import os
import sys

import mne
import numpy as np
import scipy
import scipy.signal as ss
import sklearn
from sklearn.covariance import OAS, EmpiricalCovariance, LedoitWolf

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
ddir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "..", "shared", "data", "physionet_eegmmidb_S001")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(repo, "features", "testdata", "features_reference.json")

CH = ["Fz..", "C3..", "Cz..", "C4..", "O1..", "Oz..", "O2.."]
BANDS = [("delta", 1, 4), ("theta", 4, 8), ("alpha", 8, 13), ("beta", 13, 30), ("low_gamma", 30, 45), ("high_gamma", 65, 100)]


def welch_setup(fs, n, seg_sec=1.0, frac=0.5):
    nper = min(int(round(seg_sec * fs)), n)
    return nper, int(math.floor(frac * nper))


def psd(x, fs, seg_sec=1.0):
    nper, nov = welch_setup(fs, x.shape[-1], seg_sec)
    return ss.welch(x, fs=fs, nperseg=nper, noverlap=nov)


def bin_range(f, lo, hi):
    nyq = f[-1]
    if hi >= nyq:
        return np.nonzero((f >= lo) & (f <= nyq))[0]
    return np.nonzero((f >= lo) & (f < hi))[0]


def bandpower(x, fs):
    f, p = psd(x, fs)
    df = fs / (welch_setup(fs, x.shape[-1])[0])
    nyq = f[-1]
    bands = [(n, lo, min(hi, nyq)) for n, lo, hi in BANDS]
    lo, hi = min(b[1] for b in bands), max(b[2] for b in bands)
    tot = p[:, bin_range(f, lo, hi)].sum(axis=1) * df
    res = {}
    absv = {n: p[:, bin_range(f, a, b)].sum(axis=1) * df for n, a, b in bands}
    for n, _, _ in bands:
        for c, ch in enumerate(CH):
            res[f"{n}_abs/{ch}"] = absv[n][c]
    for n, _, _ in bands:
        for c, ch in enumerate(CH):
            res[f"{n}_rel/{ch}"] = absv[n][c] / tot[c]
    return res


def spectral_edge(x, fs, frac=0.95, rng=(1, 40)):
    f, p = psd(x, fs)
    k = bin_range(f, *rng)
    res = {}
    for c, ch in enumerate(CH):
        cum = np.cumsum(p[c, k])
        i = int(np.argmax(cum >= frac * cum[-1]))
        res[f"sef95/{ch}"] = f[k[i]]
    return res


def peak_alpha(x, fs, rng=(7, 14)):
    f, p = psd(x, fs)
    k = bin_range(f, *rng)
    df = f[1] - f[0]
    res = {}
    for c, ch in enumerate(CH):
        i = int(np.argmax(p[c, k]))
        fr = f[k[i]]
        if 0 < i < len(k) - 1:
            a, b, cc = p[c, k[i - 1]], p[c, k[i]], p[c, k[i + 1]]
            fr += 0.5 * (a - cc) / (a - 2 * b + cc) * (fs / welch_setup(fs, x.shape[-1])[0])
        res[f"paf/{ch}"] = fr
    return res


def aperiodic(x, fs, rng=(2, 40)):
    # specparam's _robust_ap_fit (fixed mode) with exact least squares in place of curve_fit.
    f, p = psd(x, fs)
    k = np.nonzero((f >= rng[0]) & (f <= rng[1]))[0]
    lf = np.log10(f[k])
    res = {}
    for c, ch in enumerate(CH):
        lp = np.log10(p[c, k])
        slope, off = np.polyfit(lf, lp, 1)
        flat = lp - (off + slope * lf)
        flat[flat < 0] = 0
        thr = np.percentile(flat, 0.025)
        m = flat <= thr
        slope, off = np.polyfit(lf[m], lp[m], 1)
        res[f"ap_offset/{ch}"] = off
        res[f"ap_exponent/{ch}"] = -slope
    return {k2: res[k2] for k2 in [f"ap_offset/{ch}" for ch in CH] + [f"ap_exponent/{ch}" for ch in CH]}


def covariance(x, est):
    model = {"ledoit_wolf": LedoitWolf(), "oas": OAS(), "empirical": EmpiricalCovariance()}[est].fit(x.T)
    cov = model.covariance_
    res = {}
    for i in range(len(CH)):
        for j in range(i, len(CH)):
            res[f"cov/{CH[i]}/{CH[j]}"] = cov[i, j]
    res["cov_shrinkage"] = getattr(model, "shrinkage_", 0.0)
    return res


def segment_spectra(x, fs, seg_sec):
    nper, nov = welch_setup(fs, x.shape[-1], seg_sec)
    step = nper - nov
    nseg = (x.shape[-1] - nov) // step
    win = ss.get_window("hann", nper)
    segs = np.stack([x[:, s * step:s * step + nper] for s in range(nseg)], axis=1)  # ch, seg, t
    segs = (segs - segs.mean(axis=-1, keepdims=True)) * win
    return np.fft.rfftfreq(nper, 1 / fs), np.fft.rfft(segs, axis=-1), nper, nov


def connectivity(x, fs, seg_sec=0.5):
    f, X, nper, nov = segment_spectra(x, fs, seg_sec)
    nyq = f[-1]
    bands = [(n, lo, min(hi, nyq)) for n, lo, hi in BANDS]
    res = {}
    per = {}
    pairs = [(i, j) for i in range(len(CH)) for j in range(i + 1, len(CH))]
    for i, j in pairs:
        S = X[i] * np.conj(X[j])  # seg, freq
        coh = np.abs(S.sum(0)) ** 2 / ((np.abs(X[i]) ** 2).sum(0) * (np.abs(X[j]) ** 2).sum(0))
        # Cross-check the definition against scipy's coherence on the same segments.
        _, sc = ss.coherence(x[i], x[j], fs=fs, nperseg=nper, noverlap=nov)
        assert np.allclose(coh, sc, rtol=1e-10, atol=0), "coherence definition differs from scipy"
        plv = np.abs((S / np.abs(S)).mean(0))
        den = np.abs(S.imag).mean(0)
        wpli = np.divide(np.abs(S.imag.mean(0)), den, out=np.zeros_like(den), where=den > 0)  # 0 where every Im S is 0
        per[(i, j)] = {"coh": coh, "plv": plv, "wpli": wpli}
    for m in ["coh", "plv", "wpli"]:
        for n, lo, hi in bands:
            k = bin_range(f, lo, hi)
            for i, j in pairs:
                res[f"{m}_{n}/{CH[i]}/{CH[j]}"] = per[(i, j)][m][k].mean()
    return res


def pac(x, fs, pb=(4, 8), ab=(30, 45), nbins=18):
    n = x.shape[-1]
    df = fs / n
    X = np.fft.rfft(x, axis=-1)

    def analytic(lo, hi):
        klo, khi = max(1, math.ceil(lo / df)), min((n - 1) // 2, math.floor(hi / df))
        Z = np.zeros((x.shape[0], n), complex)
        Z[:, klo:khi + 1] = 2 * X[:, klo:khi + 1]
        return np.fft.ifft(Z, axis=-1)

    ph = np.angle(analytic(*pb))
    amp = np.abs(analytic(*ab))
    res = {}
    for c, ch in enumerate(CH):
        b = np.clip(np.floor((ph[c] + np.pi) / (2 * np.pi) * nbins).astype(int), 0, nbins - 1)
        m = np.array([amp[c, b == i].mean() if np.any(b == i) else 0.0 for i in range(nbins)])
        P = m / m.sum()
        P = P[P > 0]
        H = -(P * np.log(P)).sum()
        res[f"pac_mi/{ch}"] = (np.log(nbins) - H) / np.log(nbins)
    return res


def hjorth(x):
    d1, d2 = np.diff(x, axis=-1), np.diff(x, n=2, axis=-1)
    v0, v1, v2 = x.var(-1), d1.var(-1), d2.var(-1)
    mob = np.sqrt(v1 / v0)
    comp = np.sqrt(v2 / v1) / mob
    res = {}
    for name, v in [("hjorth_activity", v0), ("hjorth_mobility", mob), ("hjorth_complexity", comp)]:
        for c, ch in enumerate(CH):
            res[f"{name}/{ch}"] = v[c]
    return res


def dfa(x, smin=10, smax=None, nsc=10):
    n = x.shape[-1]
    smax = smax or n // 4
    scales = np.unique(np.round(np.exp(np.linspace(np.log(smin), np.log(smax), nsc))).astype(int))
    res = {}
    for c, ch in enumerate(CH):
        y = np.cumsum(x[c] - x[c].mean())
        F = []
        for s in scales:
            nw = n // s
            rss = 0.0
            t = np.arange(s)
            for w in range(nw):
                seg = y[w * s:(w + 1) * s]
                coef = np.polyfit(t, seg, 1)
                rss += ((seg - np.polyval(coef, t)) ** 2).sum()
            F.append(np.sqrt(rss / (nw * s)))
        res[f"dfa_alpha/{ch}"] = np.polyfit(np.log10(scales), np.log10(F), 1)[0]
    return res


def lz76(s):
    i, k, l, c, kmax, n = 0, 1, 1, 1, 1, len(s)
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:
                c += 1
                break
        else:
            kmax = max(kmax, k)
            i += 1
            if i == l:
                c += 1
                l += kmax
                if l + 1 > n:
                    break
                i, k, kmax = 0, 1, 1
            else:
                k = 1
    return c


def lzc(x):
    n = x.shape[-1]
    return {f"lzc/{ch}": lz76(list(x[c] > np.median(x[c]))) * math.log2(n) / n for c, ch in enumerate(CH)}


def avalanches(x, fs, thr_sd=2.0, bin_samples=2):
    n = x.shape[-1]
    nb = n // bin_samples
    counts = np.zeros(nb, int)
    for c in range(x.shape[0]):
        a = np.abs(x[c] - x[c].mean())
        sd = np.sqrt(x[c].var())
        above = a > thr_sd * sd
        t = 0
        while t < n:
            if above[t]:
                e = t
                while e < n and above[e]:
                    e += 1
                peak = t + int(np.argmax(a[t:e]))
                if peak // bin_samples < nb:
                    counts[peak // bin_samples] += 1
                t = e
            else:
                t += 1
    sizes, durs, br = [], [], []
    b = 0
    while b < nb:
        if counts[b] == 0:
            b += 1
            continue
        st = b
        while b < nb and counts[b] > 0:
            b += 1
        sizes.append(counts[st:b].sum())
        durs.append(b - st)
        br.append(counts[st + 1] / counts[st] if b - st > 1 else 0.0)
    res = {"aval_count": float(len(sizes))}
    cls = lambda v, k: min(int(math.floor(math.log2(v))), k - 1)
    binsec = bin_samples / fs
    if sizes:
        res.update(aval_size_mean=np.mean(sizes), aval_size_max=max(sizes), aval_dur_mean_s=np.mean(durs) * binsec,
                   aval_dur_max_s=max(durs) * binsec, aval_branching=np.mean(br))
    else:
        res.update(aval_size_mean=0.0, aval_size_max=0.0, aval_dur_mean_s=0.0, aval_dur_max_s=0.0, aval_branching=0.0)
    sh, dh = [0] * 6, [0] * 5
    for s in sizes:
        sh[cls(s, 6)] += 1
    for d in durs:
        dh[cls(d, 5)] += 1
    for i in range(6):
        res[f"aval_size_hist_{1 << i}"] = float(sh[i])
    for i in range(5):
        res[f"aval_dur_hist_{1 << i}"] = float(dh[i])
    return res


CONFIGS = [
    ({"Kind": "bandpower"}, lambda x, fs: bandpower(x, fs)),
    ({"Kind": "spectral_edge"}, lambda x, fs: spectral_edge(x, fs)),
    ({"Kind": "peak_alpha"}, lambda x, fs: peak_alpha(x, fs)),
    ({"Kind": "aperiodic"}, lambda x, fs: aperiodic(x, fs)),
    ({"Kind": "covariance"}, lambda x, fs: covariance(x, "ledoit_wolf")),
    ({"Kind": "covariance", "Estimator": "oas"}, lambda x, fs: covariance(x, "oas")),
    ({"Kind": "covariance", "Estimator": "empirical"}, lambda x, fs: covariance(x, "empirical")),
    ({"Kind": "connectivity", "Welch": {"SegmentSec": 0.5}}, lambda x, fs: connectivity(x, fs, 0.5)),
    ({"Kind": "pac"}, lambda x, fs: pac(x, fs)),
    ({"Kind": "variance"}, lambda x, fs: {f"var/{ch}": x[c].var() for c, ch in enumerate(CH)}),
    ({"Kind": "hjorth"}, lambda x, fs: hjorth(x)),
    ({"Kind": "line_length"}, lambda x, fs: {f"line_length/{ch}": np.abs(np.diff(x[c])).mean() for c, ch in enumerate(CH)}),
    ({"Kind": "dfa"}, lambda x, fs: dfa(x)),
    ({"Kind": "lzc"}, lambda x, fs: lzc(x)),
    ({"Kind": "avalanches", "ThresholdSD": 2.0, "BinSamples": 2}, lambda x, fs: avalanches(x, fs, 2.0, 2)),
]

windows = []
fs = None
for run, starts in [("R01", (10.0, 30.0)), ("R02", (10.0, 30.0))]:
    raw = mne.io.read_raw_edf(os.path.join(ddir, f"S001{run}.edf"), preload=True, verbose="error")
    fs = float(raw.info["sfreq"])
    data = raw.get_data(picks=CH)
    for t0 in starts:
        a = int(t0 * fs)
        x = data[:, a:a + int(2 * fs)]
        feats = []
        for cfg, fn in CONFIGS:
            r = fn(x, fs)
            feats.append({"config": cfg, "names": list(r.keys()), "values": [float(v) for v in r.values()]})
        windows.append({"source": f"S001{run}.edf t={t0}s", "data": x.tolist(), "features": feats})

doc = {"fs_hz": fs, "channels": CH, "numpy": np.__version__, "scipy": scipy.__version__,
       "sklearn": sklearn.__version__, "mne": mne.__version__, "windows": windows}
with open(out, "w") as fh:
    json.dump(doc, fh)
print("wrote", out, os.path.getsize(out), "bytes")
