#!/usr/bin/python3
"""Reference timings for `neurostream bench decoders`: the same workload as the Go suite.

Workload: PhysioNet S001 R03+R07 (real left/right fist), 64 channels at 160 Hz, butter(4, [8, 30])
applied causally to each run, epochs 0.5-2.5 s after T1/T2 (30 epochs x 64 ch x 321 samples).
  fit-*      : fit on the 30 epochs (MNE CSP(4) + sklearn LDA(lsqr, auto); numpy tangent space at the
               Riemannian mean + sklearn LogisticRegression; numpy MDM), median of repeats
  predict-*  : one 64 ch x 321-sample window to class probabilities, median of many calls
Prints one JSON object {case: seconds per op}.  Usage: decoders.py [DATA_DIR]
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import decoders_reference as ref  # noqa: E402


def median_time(fn, repeats, inner=1):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        ts.append((time.perf_counter() - t0) / inner)
    return float(np.median(ts))


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NEUROSTREAM_DATA", ref.DEFAULT_DATA)
    import mne
    from mne.decoding import CSP
    mne.set_log_level("ERROR")
    x, y, _, _, _, _ = ref.physionet_epochs(data, ["R03", "R07"], {"T1": "left", "T2": "right"})
    window = x[:1]
    out = {}

    def fit_csp_lda():
        csp = CSP(n_components=4)
        return csp, ref.lda().fit(csp.fit_transform(x, y), y)
    out["fit-csp-lda"] = median_time(fit_csp_lda, 7)
    csp, clf = fit_csp_lda()
    out["predict-csp-lda"] = median_time(lambda: clf.predict_proba(csp.transform(window)), 7, 300)

    def covs(ep):
        return np.array([ref.cov(e) for e in ep])

    def fit_ts_lr():
        c = covs(x)
        m = ref.mean_riemann(c)
        return m, ref.logreg().fit(ref.tangent_space(c, m), y)
    out["fit-ts-lr"] = median_time(fit_ts_lr, 3)
    m, lr = fit_ts_lr()
    out["predict-ts-lr"] = median_time(lambda: lr.predict_proba(ref.tangent_space(covs(window), m)), 5, 100)

    out["fit-mdm"] = median_time(lambda: ref.MDM().fit(covs(x), y), 3)
    mdm = ref.MDM().fit(covs(x), y)
    out["predict-mdm"] = median_time(lambda: mdm.predict_proba(covs(window)), 5, 100)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
