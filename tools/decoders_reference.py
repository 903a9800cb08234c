#!/usr/bin/python3
"""Reference values for neurostream's native decoders (decoders/...).

Run with /usr/bin/python3 (Debian's python3-mne, python3-sklearn, python3-scipy). pyRiemann is not
packaged here, so its definitions (mean_riemann, distance_riemann, TangentSpace, MDM, Xdawn,
XdawnCovariances) are re-stated below in numpy/scipy, following its documentation.

  tools/decoders_reference.py math       # small synthetic fixtures for the unit tests
  tools/decoders_reference.py physionet  [DATA_DIR]   # PhysioNet S001 motor imagery side by side
  tools/decoders_reference.py p300       [DATA_DIR]   # bi2012 P300, 5-fold CV ROC-AUC

Conventions shared with the Go code (so labels can be compared trial by trial):
  * covariance of a window: X Xᵀ / n_samples, not centred (MNE CSP divides by n-1: a constant factor);
  * band-pass: scipy.signal.butter(4, band, btype='bandpass', fs=fs, output='sos') applied causally
    with sosfilt (zero initial state) to the continuous recording, then epoching — the online
    decoder sees a causally filtered stream, so training uses the same filter;
  * epochs: [onset + round(tmin*fs), onset + round(tmax*fs)] inclusive (MNE);
  * k-fold CV: contiguous folds in time order, trial i in fold i*k//n (KFold without shuffling).
"""
import json
import os
import sys

import numpy as np
import scipy.linalg as la
import scipy.signal as ss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")


def cov(x):
    return x @ x.T / x.shape[1]


def _fun(c, f):
    w, v = np.linalg.eigh(c)
    return (v * f(w)) @ v.T


def logm(c):
    return _fun(c, np.log)


def expm(c):
    return _fun(c, np.exp)


def sqrtm(c):
    return _fun(c, np.sqrt)


def invsqrtm(c):
    return _fun(c, lambda w: 1 / np.sqrt(w))


def mean_riemann(covs, tol=1e-8, maxiter=50, w=None):
    n = len(covs)
    w = np.ones(n) / n if w is None else np.asarray(w) / np.sum(w)
    c = np.einsum("i,ijk->jk", w, covs)
    nu, tau = 1.0, np.finfo(np.float64).max
    for _ in range(maxiter):
        c12, cm12 = sqrtm(c), invsqrtm(c)
        j = sum(wi * logm(cm12 @ ci @ cm12) for wi, ci in zip(w, covs))
        crit = np.linalg.norm(j, ord="fro")
        h = nu * crit
        c = c12 @ expm(nu * j) @ c12
        if crit <= tol or nu <= tol:
            break
        if h < tau:
            nu, tau = 0.95 * nu, h
        else:
            nu *= 0.5
    return c


def distance_riemann(a, b):
    return float(np.sqrt(np.sum(np.log(la.eigvalsh(a, b)) ** 2)))


def tangent_space(covs, ref):
    n = ref.shape[0]
    cm12 = invsqrtm(ref)
    iu = np.triu_indices(n)
    coef = (np.sqrt(2) * np.triu(np.ones((n, n)), 1) + np.eye(n))[iu]
    return np.array([coef * logm(cm12 @ c @ cm12)[iu] for c in covs])


class MDM:
    def fit(self, covs, y):
        self.classes_ = np.unique(y)
        self.means_ = [mean_riemann(covs[y == k]) for k in self.classes_]
        return self

    def distances(self, covs):
        return np.array([[distance_riemann(c, m) for m in self.means_] for c in covs])

    def predict(self, covs):
        return self.classes_[np.argmin(self.distances(covs), axis=1)]

    def predict_proba(self, covs):
        d2 = -self.distances(covs) ** 2
        e = np.exp(d2 - d2.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def xdawn_fit(epochs, y, nfilter=4):
    classes = np.unique(y)
    cx = np.mean([cov(e) for e in epochs], axis=0)
    filters, evokeds = [], []
    for k in classes:
        p = epochs[y == k].mean(axis=0)
        vals, vecs = la.eigh(cov(p), cx)
        vecs = vecs[:, np.argsort(vals)[::-1]]
        vecs /= np.linalg.norm(vecs, axis=0)
        filters.append(vecs[:, :nfilter].T)
        evokeds.append(vecs[:, :nfilter].T @ p)
    return np.concatenate(filters), np.concatenate(evokeds)


def xdawn_covariances(epochs, filters, evokeds):
    return np.array([cov(np.concatenate([evokeds, filters @ e])) for e in epochs])


def lda():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def logreg():
    from sklearn.linear_model import LogisticRegression
    # C=1, L2, lbfgs as scikit-learn's defaults; max_iter raised so that the optimum is reached
    # (the problem is strictly convex; the Go side also runs to convergence).
    # tol is tightened from 1e-4 for the same reason.
    return LogisticRegression(max_iter=1000, tol=1e-10)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def tolist(a):
    return np.asarray(a).tolist()


# ---------------------------------------------------------------- synthetic fixtures
def synthetic(rng, n_per_class=8, n_ch=5, n_t=60, n_classes=2):
    """Epochs whose class changes the variance of one spatial source."""
    mix = rng.normal(size=(n_ch, n_ch))
    xs, ys = [], []
    for k in range(n_classes):
        for _ in range(n_per_class):
            src = rng.normal(size=(n_ch, n_t))
            src[k % n_ch] *= 3.0
            xs.append(mix @ src)
            ys.append(k)
    return np.array(xs), np.array(ys)


def cmd_math():
    import mne
    from mne.decoding import CSP
    mne.set_log_level("ERROR")
    rng = np.random.default_rng(5)
    x, y = synthetic(rng)
    covs = np.array([cov(e) for e in x])

    csp = CSP(n_components=4)
    feat = csp.fit_transform(x, y)
    vals = la.eigh(covs[y == 0].mean(0), covs[y == 0].mean(0) + covs[y == 1].mean(0), eigvals_only=True)
    x3c, y3c = synthetic(np.random.default_rng(9), n_per_class=6, n_classes=3)
    feat3 = CSP(n_components=3).fit_transform(x3c, y3c)
    write_json(os.path.join(ROOT, "decoders/csp/testdata/csp_reference.json"), {
        "epochs": tolist(x), "labels": tolist(y), "features": tolist(feat),
        "gen_eigenvalues": tolist(vals),
        "multiclass": {"epochs": tolist(x3c), "labels": tolist(y3c), "features": tolist(feat3)},
        "source": "mne.decoding.CSP(n_components=4) fit_transform; scipy.linalg.eigh(C0, C0+C1); 3 classes: CSP(n_components=3)"})

    clf = lda().fit(feat, y)
    x3, y3 = synthetic(np.random.default_rng(7), n_classes=3)
    f3 = np.array([np.log(np.diag(cov(e))) for e in x3])
    clf3 = lda().fit(f3, y3)
    write_json(os.path.join(ROOT, "decoders/lda/testdata/lda_reference.json"), {
        "binary": {"x": tolist(feat), "y": tolist(y), "coef": tolist(clf.coef_), "intercept": tolist(clf.intercept_),
                   "proba": tolist(clf.predict_proba(feat))},
        "multi": {"x": tolist(f3), "y": tolist(y3), "coef": tolist(clf3.coef_), "intercept": tolist(clf3.intercept_),
                  "proba": tolist(clf3.predict_proba(f3))},
        "source": "sklearn LinearDiscriminantAnalysis(solver='lsqr', shrinkage='auto')"})

    ref = mean_riemann(covs)
    ts = tangent_space(covs, ref)
    lr = logreg().fit(ts, y)
    lr3 = logreg().fit(f3, y3)
    write_json(os.path.join(ROOT, "decoders/logreg/testdata/logreg_reference.json"), {
        "binary": {"x": tolist(ts), "y": tolist(y), "coef": tolist(lr.coef_), "intercept": tolist(lr.intercept_),
                   "proba": tolist(lr.predict_proba(ts))},
        "multi": {"x": tolist(f3), "y": tolist(y3), "coef": tolist(lr3.coef_), "intercept": tolist(lr3.intercept_),
                  "proba": tolist(lr3.predict_proba(f3))},
        "source": "sklearn LogisticRegression(C=1.0, lbfgs, max_iter=1000)"})

    mdm = MDM().fit(covs, y)
    a, b = covs[0], covs[1]
    write_json(os.path.join(ROOT, "decoders/riemann/testdata/riemann_reference.json"), {
        "covs": tolist(covs), "labels": tolist(y), "epoch0": tolist(x[0]),
        "mean_riemann": tolist(ref), "distance_0_1": distance_riemann(a, b),
        "logm_0": tolist(logm(a)), "expm_0": tolist(expm(a / np.trace(a))), "sqrtm_0": tolist(sqrtm(a)),
        "invsqrtm_0": tolist(invsqrtm(a)), "gen_eig_0_1": tolist(la.eigh(a, b, eigvals_only=True)),
        "tangent": tolist(ts), "mdm_means": tolist(mdm.means_), "mdm_proba": tolist(mdm.predict_proba(covs)),
        "source": "numpy/scipy restatement of pyRiemann mean_riemann, distance_riemann, TangentSpace, MDM"})

    # P300-like epochs: class 1 adds an evoked waveform on a spatial pattern.
    rng = np.random.default_rng(11)
    n_ch, n_t = 6, 40
    pattern, wave = rng.normal(size=n_ch), np.sin(np.linspace(0, np.pi, n_t)) * 2
    ex, ey = [], []
    for i in range(24):
        e = rng.normal(size=(n_ch, n_t))
        k = int(i % 3 == 0)
        if k:
            e += np.outer(pattern, wave)
        ex.append(e)
        ey.append(k)
    ex, ey = np.array(ex), np.array(ey)
    filt, evk = xdawn_fit(ex, ey, nfilter=2)
    xc = xdawn_covariances(ex, filt, evk)
    write_json(os.path.join(ROOT, "decoders/xdawn/testdata/xdawn_reference.json"), {
        "epochs": tolist(ex), "labels": tolist(ey), "n_filter": 2,
        "cov_eigenvalues": tolist([np.linalg.eigvalsh(c) for c in xc]),
        "cov_diagonal": tolist([np.diag(c) for c in xc]),
        "source": "numpy/scipy restatement of pyRiemann Xdawn(nfilter=2) + XdawnCovariances (estimator X Xᵀ/n)"})


# ---------------------------------------------------------------- PhysioNet motor imagery
SCENARIOS = [
    ("imagined-left-right", ["R04"], ["R08"], {"T1": "left", "T2": "right"}),
    ("imagined-fists-feet", ["R06"], ["R10"], {"T1": "fists", "T2": "feet"}),
    ("real-left-right", ["R03", "R07"], ["R11"], {"T1": "left", "T2": "right"}),
]
BAND, TMIN, TMAX, ORDER = (8.0, 30.0), 0.5, 2.5, 4


def physionet_epochs(data_dir, runs, mapping, band=BAND, tmin=TMIN, tmax=TMAX):
    import mne
    xs, ys, onsets = [], [], []
    labels = sorted(set(mapping.values()), key=list(mapping.values()).index)
    for run in runs:
        raw = mne.io.read_raw_edf(os.path.join(data_dir, "physionet_eegmmidb_S001", f"S001{run}.edf"),
                                  preload=True, verbose="error")
        fs = raw.info["sfreq"]
        data = raw.get_data()
        sos = ss.butter(ORDER, band, btype="bandpass", fs=fs, output="sos")
        filt = ss.sosfilt(sos, data, axis=1)
        a, b = int(round(tmin * fs)), int(round(tmax * fs))
        for onset, desc in zip(raw.annotations.onset, raw.annotations.description):
            if desc not in mapping:
                continue
            s = int(round(onset * fs))
            if s + a < 0 or s + b >= filt.shape[1]:
                continue
            xs.append(filt[:, s + a:s + b + 1])
            ys.append(labels.index(mapping[desc]))
            onsets.append(s)
    return np.array(xs), np.array(ys), onsets, labels, raw.ch_names, fs


# Filter-bank CSP as neurostream fits it (decoders/model fitFBCSP): each epoch (already 8-30 Hz) is
# band-passed again per band by butter(4) from zero state, as the online decoder filters each
# window; MNE CSP(4, reg=0.5) per band (shrunk class covariances); log-variance features of all
# bands; the best FBCSP_SELECT by mutual information; shrinkage LDA.
FBCSP_BANDS = [(8.0, 12.0), (12.0, 16.0), (16.0, 20.0), (20.0, 24.0), (24.0, 30.0)]
FBCSP_SELECT, FBCSP_SHRINK = 8, 0.5


def fbcsp(xtr, ytr, xte, yte, fs):
    from mne.decoding import CSP
    from sklearn.feature_selection import SelectKBest, mutual_info_classif
    ftr, fte = [], []
    for band in FBCSP_BANDS:
        sos = ss.butter(ORDER, band, btype="bandpass", fs=fs, output="sos")
        btr, bte = ss.sosfilt(sos, xtr, axis=-1), ss.sosfilt(sos, xte, axis=-1)
        csp = CSP(n_components=4, reg=FBCSP_SHRINK)
        ftr.append(csp.fit_transform(btr, ytr))
        fte.append(csp.transform(bte))
    ftr, fte = np.hstack(ftr), np.hstack(fte)
    # mutual_info_classif's k-NN estimator adds small noise to the features: fixed seed.
    sel = SelectKBest(lambda a, b: mutual_info_classif(a, b, random_state=0), k=FBCSP_SELECT).fit(ftr, ytr)
    clf = lda().fit(sel.transform(ftr), ytr)
    p = clf.predict(sel.transform(fte))
    return {"pred": tolist(p), "accuracy": float(np.mean(p == yte)),
            "selected": tolist(np.sort(np.flatnonzero(sel.get_support()))),
            "p1": [round(float(v), 6) for v in clf.predict_proba(sel.transform(fte))[:, 1]],
            "source": "per band: scipy butter(4) sosfilt from zero state per epoch, MNE CSP(4, reg=0.5); "
                      "SelectKBest(mutual_info_classif(random_state=0), k=8); LDA(lsqr, auto)"}


def cmd_physionet(data_dir):
    import mne
    from mne.decoding import CSP
    mne.set_log_level("ERROR")
    out = {"band_hz": BAND, "tmin_sec": TMIN, "tmax_sec": TMAX, "filter": f"butter({ORDER}) sosfilt causal",
           "scenarios": []}
    for name, train_runs, test_runs, mapping in SCENARIOS:
        xtr, ytr, _, labels, chs, fs = physionet_epochs(data_dir, train_runs, mapping)
        xte, yte, on_te, _, _, _ = physionet_epochs(data_dir, test_runs, mapping)
        res = {"name": name, "train": train_runs, "test": test_runs, "labels": labels,
               "n_train": len(ytr), "n_test": len(yte), "n_samples": xtr.shape[2], "test_onsets": on_te,
               "test_truth": tolist(yte)}
        csp = CSP(n_components=4)
        clf = lda().fit(csp.fit_transform(xtr, ytr), ytr)
        ftest = csp.transform(xte)
        p = clf.predict(ftest)
        res["csp_lda"] = {"pred": tolist(p), "accuracy": float(np.mean(p == yte)),
                          "p1": [round(v, 6) for v in clf.predict_proba(ftest)[:, 1]]}
        ctr = np.array([cov(e) for e in xtr])
        cte = np.array([cov(e) for e in xte])
        ref = mean_riemann(ctr)
        lr = logreg().fit(tangent_space(ctr, ref), ytr)
        p = lr.predict(tangent_space(cte, ref))
        res["ts_lr"] = {"pred": tolist(p), "accuracy": float(np.mean(p == yte))}
        p = MDM().fit(ctr, ytr).predict(cte)
        res["mdm"] = {"pred": tolist(p), "accuracy": float(np.mean(p == yte))}
        res["fbcsp"] = fbcsp(xtr, ytr, xte, yte, fs)
        print(f"{name}: CSP+LDA {res['csp_lda']['accuracy']:.3f}  FBCSP {res['fbcsp']['accuracy']:.3f}  "
              f"TS+LR {res['ts_lr']['accuracy']:.3f}  MDM {res['mdm']['accuracy']:.3f}  "
              f"(train {len(ytr)}, test {len(yte)})", file=sys.stderr)
        out["scenarios"].append(res)
    write_json(os.path.join(ROOT, "decoders/train/testdata/physionet_reference.json"), out)


# ---------------------------------------------------------------- bi2012 P300
P300_BAND, P300_NSAMP, P300_FOLDS, P300_NFILTER = (1.0, 20.0), 128, 5, 4


def p300_epochs(data_dir):
    z = np.load(os.path.join(data_dir, "eegle_bi2012_p300", "subject_01_session_01.npz"))
    data, stim = z["data"][:, :16].astype(np.float64).T, z["stim"]
    fs = 128.0
    sos = ss.butter(ORDER, P300_BAND, btype="bandpass", fs=fs, output="sos")
    filt = ss.sosfilt(sos, data, axis=1)
    on = [i for i in np.flatnonzero(stim) if i + P300_NSAMP <= filt.shape[1]]
    x = np.array([filt[:, i:i + P300_NSAMP] for i in on])
    y = np.array([int(stim[i] == 2) for i in on])
    return x, y


def folds_of(n, k):
    return np.array([i * k // n for i in range(n)])


def p300_cv(x, y):
    from sklearn.metrics import roc_auc_score
    fold = folds_of(len(y), P300_FOLDS)
    proba = np.zeros(len(y))
    aucs = []
    for f in range(P300_FOLDS):
        tr, te = fold != f, fold == f
        filt, evk = xdawn_fit(x[tr], y[tr], P300_NFILTER)
        ctr, cte = xdawn_covariances(x[tr], filt, evk), xdawn_covariances(x[te], filt, evk)
        ref = mean_riemann(ctr)
        lr = logreg().fit(tangent_space(ctr, ref), y[tr])
        proba[te] = lr.predict_proba(tangent_space(cte, ref))[:, 1]
        aucs.append(float(roc_auc_score(y[te], proba[te])))
    return proba, aucs


def cmd_p300(data_dir):
    x, y = p300_epochs(data_dir)
    proba, aucs = p300_cv(x, y)
    print(f"P300 xDAWN-cov + TS + LR: fold AUCs {np.round(aucs, 3)} mean {np.mean(aucs):.3f}", file=sys.stderr)
    write_json(os.path.join(ROOT, "decoders/train/testdata/p300_reference.json"), {
        "band_hz": P300_BAND, "n_samples": P300_NSAMP, "folds": P300_FOLDS, "n_filter": P300_NFILTER,
        "n_epochs": len(y), "n_target": int(y.sum()), "fold_auc": aucs, "mean_auc": float(np.mean(aucs)),
        "proba": [round(float(v), 5) for v in proba]})


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "math"
    data = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("NEUROSTREAM_DATA", DEFAULT_DATA)
    {"math": lambda: cmd_math(), "physionet": lambda: cmd_physionet(data), "p300": lambda: cmd_p300(data)}[cmd]()
