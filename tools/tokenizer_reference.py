#!/usr/bin/python3
"""Reference for tokenizer/: scikit-learn KMeans (Lloyd, given init, n_init=1, tol=0) on z-scored
32-sample patches of the first 8 channels of PhysioNet S001 R01, read with MNE, and the nearest-centre
tokens of R02's patches under the fitted centres. Writes tokenizer/testdata/kmeans_reference.json.

Run: /usr/bin/python3 tools/tokenizer_reference.py [DATA_DIR]   (default ../shared/data)
"""
import json
import os
import sys

import mne
import numpy as np
from sklearn.cluster import KMeans

PATCH, CHANNELS, K = 32, 8, 16


def patches(path):
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    data = raw.get_data()[:CHANNELS]
    out = []
    for ch in data:
        for s in range(0, len(ch) - PATCH + 1, PATCH):
            p = ch[s:s + PATCH].astype(np.float64)
            m, sd = p.mean(), p.std()
            if sd < 1e-13:
                continue
            out.append((p - m) / sd)
    return np.array(out)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    d = os.path.join(root, "physionet_eegmmidb_S001")
    x = patches(os.path.join(d, "S001R01.edf"))
    init_idx = [int(i) for i in np.linspace(0, len(x) - 1, K).round()]
    km = KMeans(n_clusters=K, init=x[init_idx], n_init=1, algorithm="lloyd", max_iter=300, tol=0.0).fit(x)
    test = patches(os.path.join(d, "S001R02.edf"))
    out = {
        "source": "tools/tokenizer_reference.py (scikit-learn %s, MNE %s)" % (__import__("sklearn").__version__, mne.__version__),
        "patch_samples": PATCH, "channels": CHANNELS, "k": K,
        "train_patches": int(len(x)), "init_indices": init_idx,
        "iterations": int(km.n_iter_), "inertia": float(km.inertia_),
        "centers": km.cluster_centers_.tolist(),
        "train_labels": km.labels_.astype(int).tolist(),
        "test_patches": int(len(test)),
        "test_labels": km.predict(test).astype(int).tolist(),
    }
    dst = os.path.join(os.path.dirname(__file__), "..", "tokenizer", "testdata", "kmeans_reference.json")
    with open(dst, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", dst, "iterations", km.n_iter_, "inertia", km.inertia_)


if __name__ == "__main__":
    main()
