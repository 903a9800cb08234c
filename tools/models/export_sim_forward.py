"""Writes the generative model behind the speech-sim and visual-sim decoders (simulate.py, as set up by
train_retrieval.py with its default seed) to decoders/onnx/testdata/<task>-sim.forward.json, so that Go
tests can simulate fresh recordings from the same forward model without Python.

The forward model (noise topographies, subject mixing matrices, the speech read-out, the visual
category centres, response kernels and mixing) is drawn from the same random stream, in the same order,
as train_retrieval.py draws it; the script checks that by regenerating the held-out test set and
comparing it with the committed bank and simulated windows. Go draws its own random latents and noise
(not numpy's stream), so its recordings are new samples of the same simulation, not copies.
Usage: /usr/bin/python3 tools/models/export_sim_forward.py [--out decoders/onnx/testdata]
"""
import argparse
import base64
import json
import os

import numpy as np

import simulate
import train_retrieval as tr


def r(a):
    return np.round(np.asarray(a, dtype=float), 7).tolist()


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "decoders", "onnx", "testdata"))
    ap.add_argument("--snr", type=float, default=1.0)
    args = ap.parse_args()
    names = simulate.channel_names()
    xyz, _ = simulate.montage(names)
    for task in ("speech", "visual"):
        rng = np.random.default_rng(0)  # train_retrieval.py's default --seed
        noise = simulate.Noise(xyz, rng)
        desc = {"format": "neurostream-sim-forward/1", "task": task, "channels": names, "sample_rate_hz": simulate.FS_HZ,
                "snr": args.snr,
                "noise": {"sources": r(noise.bg), "alpha": r(noise.alpha), "alpha_gain": 2.0, "alpha_hz": [9, 11],
                          "white_sd": 0.3}}
        if task == "speech":
            p = tr.SPEECH
            base = simulate.topographies(xyz, p["n_latent"], rng)
            mixes = [base + 0.3 * simulate.topographies(xyz, p["n_latent"], rng) for _ in p["subjects"]]
            proj = rng.standard_normal((p["emb"], p["n_latent"] * p["time_bins"])) / np.sqrt(p["n_latent"] * p["time_bins"])
            desc.update({"window_samples": int(p["window_sec"] * simulate.FS_HZ), "n_latent": p["n_latent"],
                         "time_bins": p["time_bins"], "latent_band_hz": [0.5, 8.0], "latent_pad": 120,
                         "subjects": {s: r(m) for s, m in zip(p["subjects"], mixes)}, "readout": r(proj)})
            # Check: the rest of train_retrieval.py's draws give the committed test set.
            for mix in mixes:
                tr.simulate_speech(xyz, rng, p["n_train"], mix, noise, proj, args.snr)
            xte, ete = tr.simulate_speech(xyz, rng, p["n_test"], mixes[0], noise, proj, args.snr)
        else:
            p = tr.VISUAL
            centres = rng.standard_normal((p["n_categories"], p["emb"]))
            n = int(p["window_sec"] * simulate.FS_HZ)
            t = np.arange(n) / simulate.FS_HZ
            peaks = [rng.uniform(0.08, 0.15, p["n_sources"]), rng.uniform(0.25, 0.45, p["n_sources"])]
            kernels = [np.exp(-((t[None, :] - pk[:, None]) ** 2) / (2 * 0.04 ** 2)) for pk in peaks]
            mix = [rng.standard_normal((p["n_sources"], p["emb"])) / np.sqrt(p["emb"]) * 4,
                   rng.standard_normal((p["n_sources"], p["emb"])) / np.sqrt(p["emb"]) * 4,
                   simulate.topographies(xyz, p["n_sources"], rng)]
            desc.update({"window_samples": n, "category_centres": r(centres), "within_category_sd": 0.7,
                         "early_peaks_sec": r(peaks[0]), "late_peaks_sec": r(peaks[1]), "kernel_sd_sec": 0.04,
                         "early_weights": r(mix[0]), "late_weights": r(mix[1]), "topographies": r(mix[2])})

            def images(k):
                e = centres[rng.integers(p["n_categories"], size=k)] + 0.7 * rng.standard_normal((k, p["emb"]))
                return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)
            e = images(p["n_train"])
            tr.simulate_visual(xyz, rng, e, mix, kernels, noise, args.snr)
            ete = images(p["n_test"])
            xte = tr.simulate_visual(xyz, rng, ete, mix, kernels, noise, args.snr)
        with open(os.path.join(args.out, f"{task}-sim.bank.json")) as f:
            bank = np.array([it["embedding"] for it in json.load(f)["items"]])
        with open(os.path.join(args.out, f"{task}-sim.sim.json")) as f:
            w0 = json.load(f)["windows"][0]
        x0 = np.frombuffer(base64.b64decode(w0["window_float32_le_base64"]), dtype="<f4").reshape(xte[0].shape)
        eb, ex = np.abs(bank - ete).max(), np.abs(x0 - xte[0]).max()
        if eb > 1e-5 or ex > 1e-5:
            raise SystemExit(f"{task}: regenerated test set differs from the committed one (bank {eb:g}, window {ex:g}): "
                             "train_retrieval.py's draws changed; update this script")
        path = os.path.join(args.out, f"{task}-sim.forward.json")
        with open(path, "w") as f:
            json.dump(desc, f, separators=(",", ":"))
        print(path, os.path.getsize(path), "bytes; test set reproduced (max diff bank %.1g, window %.1g)" % (eb, ex))


if __name__ == "__main__":
    main()
