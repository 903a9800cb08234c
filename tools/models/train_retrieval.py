"""Trains and exports the speech (Défossez-style) and visual (Benchetrit-style) retrieval decoders on
SIMULATED recordings (see simulate.py), and reports top-1 / top-10 retrieval accuracy against chance.

speech: 3-s windows; the latent is a set of band-limited trajectories (stand-in for wav2vec 2.0 features)
        that drive cortical sources through a per-subject forward model; the segment embedding is a fixed
        linear read-out of the time-binned latent. Loss: CLIP (contrastive) as in Défossez et al. 2023.
visual: 1-s windows after image onset; the image embedding (stand-in for CLIP, clustered in 20 categories)
        scales the early and late evoked responses of 16 sources. Loss: MSE + CLIP as in Benchetrit et al.
        2024.

Training on real data: replace simulate_* with windows cut from your recordings (speech: 3-s windows
aligned to the audio, with the embeddings of the heard segments from a pretrained speech model; visual:
windows after each image onset, with the images' CLIP embeddings), keep the channel names and rate in the
contract, and export with the same call. Usage:
  /usr/bin/python3 tools/models/train_retrieval.py --task speech --out decoders/onnx/testdata
Prints one JSON line with the accuracies.
"""
import argparse
import base64
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import export
import nets
import simulate

SPEECH = dict(window_sec=3.0, n_latent=8, time_bins=12, emb=64, subjects=["sim01", "sim02"], n_train=300, n_test=200)
VISUAL = dict(window_sec=1.0, n_sources=16, emb=32, subjects=["sim01"], n_train=800, n_test=200, n_categories=20)


def simulate_speech(xyz, rng, n_segments, subject_mix, noise, proj, snr):
    p = SPEECH
    n = int(p["window_sec"] * simulate.FS_HZ)
    x = np.empty((n_segments, len(xyz), n), np.float32)
    emb = np.empty((n_segments, p["emb"]), np.float32)
    for i in range(n_segments):
        z = simulate.smooth_latents(p["n_latent"], n, rng)
        binned = z.reshape(p["n_latent"], p["time_bins"], -1).mean(axis=2).ravel()
        emb[i] = proj @ binned
        x[i] = snr * (subject_mix @ z) + noise.sample(n)
    return x, emb


def simulate_visual(xyz, rng, embeddings, mix, kernels, noise, snr):
    n = int(VISUAL["window_sec"] * simulate.FS_HZ)
    x = np.empty((len(embeddings), len(xyz), n), np.float32)
    for i, e in enumerate(embeddings):
        early = (mix[0] @ e)[:, None] * kernels[0]
        late = (mix[1] @ e)[:, None] * kernels[1]
        x[i] = snr * (mix[2] @ (early + late)) + noise.sample(n)
    return x


def topk_accuracy(pred, bank):
    sims = F.normalize(pred, dim=1) @ F.normalize(bank, dim=1).T
    ranks = (sims > sims.diag().view(-1, 1)).sum(1)
    return float((ranks < 1).float().mean()), float((ranks < 10).float().mean()), ranks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["speech", "visual"], required=True)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--snr", type=float, default=1.0, help="latent source amplitude relative to the noise sources")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    names = simulate.channel_names()
    xyz, xy = simulate.montage(names)
    noise = simulate.Noise(xyz, rng)

    if args.task == "speech":
        p = SPEECH
        base = simulate.topographies(xyz, p["n_latent"], rng)
        # Each subject's forward model: the shared sources, displaced a little (a different head).
        mixes = [base + 0.3 * simulate.topographies(xyz, p["n_latent"], rng) for _ in p["subjects"]]
        proj = rng.standard_normal((p["emb"], p["n_latent"] * p["time_bins"])) / np.sqrt(p["n_latent"] * p["time_bins"])
        def training_set():
            xs, es, ss = [], [], []
            for s, mix in enumerate(mixes):
                x, e = simulate_speech(xyz, rng, p["n_train"], mix, noise, proj, args.snr)
                xs.append(x), es.append(e), ss.append(np.full(len(x), s))
            return np.concatenate(xs), np.concatenate(es), np.concatenate(ss)

        xtr, etr, str_ = training_set()
        xte, ete = simulate_speech(xyz, rng, p["n_test"], mixes[0], noise, proj, args.snr)
        ste = np.zeros(len(xte), int)
        time_bins = p["time_bins"]
    else:
        p = VISUAL
        centres = rng.standard_normal((p["n_categories"], p["emb"]))

        def images(n):
            e = centres[rng.integers(p["n_categories"], size=n)] + 0.7 * rng.standard_normal((n, p["emb"]))
            return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)

        n = int(p["window_sec"] * simulate.FS_HZ)
        t = np.arange(n) / simulate.FS_HZ
        peaks = [rng.uniform(0.08, 0.15, p["n_sources"]), rng.uniform(0.25, 0.45, p["n_sources"])]
        kernels = [np.exp(-((t[None, :] - pk[:, None]) ** 2) / (2 * 0.04 ** 2)) for pk in peaks]
        mix = [rng.standard_normal((p["n_sources"], p["emb"])) / np.sqrt(p["emb"]) * 4,
               rng.standard_normal((p["n_sources"], p["emb"])) / np.sqrt(p["emb"]) * 4,
               simulate.topographies(xyz, p["n_sources"], rng)]
        def training_set():
            e = images(p["n_train"])
            return simulate_visual(xyz, rng, e, mix, kernels, noise, args.snr), e, np.zeros(len(e), int)

        xtr, etr, str_ = training_set()
        ete = images(p["n_test"])
        xte = simulate_visual(xyz, rng, ete, mix, kernels, noise, args.snr)
        ste = np.zeros(len(xte), int)
        time_bins = 6

    # Per-channel z-scoring with training statistics (the contract's normalisation).
    mean = xtr.mean(axis=(0, 2))
    std = xtr.std(axis=(0, 2))
    norm = lambda x: torch.from_numpy(((x - mean[None, :, None]) / std[None, :, None]).astype(np.float32))
    Xtr, Xte = norm(xtr), norm(xte)
    Etr, Ete = torch.from_numpy(etr), torch.from_numpy(ete)
    Str, Ste = torch.from_numpy(str_).long(), torch.from_numpy(ste).long()
    n_samples = Xtr.shape[-1]
    model = nets.BrainModule(torch.from_numpy(xy), n_samples, len(p["subjects"]), p["emb"],
                             d1=48, hidden=48, n_blocks=3 if args.task == "speech" else 2, time_bins=time_bins)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(args.seed)
    for ep in range(args.epochs):
        if ep > 0:
            # Fresh simulated segments every epoch: the simulator stands in for a large data set, and
            # reusing a few hundred windows only teaches the network to memorise them.
            xtr, etr, str_ = training_set()
            Xtr, Etr, Str = norm(xtr), torch.from_numpy(etr), torch.from_numpy(str_).long()
        model.train()
        perm = torch.randperm(len(Xtr), generator=gen)
        for s in range(0, len(perm), 64):
            idx = perm[s:s + 64]
            pred = model(Xtr[idx], Str[idx])
            loss = nets.clip_loss(pred, Etr[idx])
            if args.task == "visual":
                loss = loss + F.mse_loss(pred, Etr[idx]) * 10
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pte = model(Xte, Ste)
        ptr = model(Xtr[:200], Str[:200])  # windows of the last epoch's training set
    top1, top10, ranks = topk_accuracy(pte, Ete)
    tr1, tr10, _ = topk_accuracy(ptr, Etr[:200])
    n_bank = len(Ete)
    result = {"task": args.task, "snr": args.snr, "bank_size": n_bank, "test_top1": top1, "test_top10": top10,
              "chance_top1": 1 / n_bank, "chance_top10": 10 / n_bank, "train_top1_200": tr1, "train_top10_200": tr10}
    print(json.dumps(result))

    if args.out:
        name = f"{args.task}-sim"
        c, t = Xtr.shape[1], Xtr.shape[2]
        contract = {
            "format": "neurostream-onnx-contract/1",
            "name": name,
            "task": args.task,
            "description": f"{'Défossez' if args.task == 'speech' else 'Benchetrit'}-style brain module trained on "
                           f"SIMULATED 64-channel EEG (tools/models/simulate.py, snr {args.snr}); a demonstration "
                           "model, not trained on any real recording",
            "channels": names,
            "sample_rate_hz": simulate.FS_HZ,
            "window_samples": t,
            "preprocessing": {"window": "3 s" if args.task == "speech" else "0-1 s after image onset"},
            "normalisation": {"offset": mean.astype(float).tolist(), "scale": (1 / std).astype(float).tolist()},
            "input": {"name": "input", "shape": [1, c, t]},
            "output": {"name": "embedding", "kind": "embedding", "embedding_size": p["emb"]},
            "subjects": p["subjects"],
        }
        os.makedirs(args.out, exist_ok=True)
        onnx_path = os.path.join(args.out, name + ".onnx")
        export.export(model, [torch.zeros(1, c, t), torch.zeros(1, dtype=torch.int64)], ["input", "subject"],
                      "embedding", contract, onnx_path, os.path.join(args.out, name + ".fixture.json"))
        # The test bank (embeddings of the held-out segments / gallery images) and a few simulated windows
        # in stream units (volts-like), with PyTorch's ranking, for the Go end-to-end check.
        bank = {"format": "neurostream-embedding-bank/1", "dim": p["emb"],
                "items": [{"id": f"{args.task}-{i:03d}", "embedding": [round(float(v), 6) for v in e]}
                          for i, e in enumerate(ete)]}
        with open(os.path.join(args.out, name + ".bank.json"), "w") as f:
            json.dump(bank, f)
        bank_t = torch.tensor([it["embedding"] for it in bank["items"]])
        pick = [0, 1, 2] if args.task == "speech" else [0, 1, 2, 3, 4, 5]
        windows = []
        for i in pick:
            w = xte[i].astype(np.float32)
            with torch.no_grad():
                pr = model(norm(w[None]), Ste[i:i + 1])
            sims = (F.normalize(pr, dim=1) @ F.normalize(bank_t, dim=1).T)[0]
            order = torch.argsort(sims, descending=True)[:10]
            windows.append({"true_id": f"{args.task}-{i:03d}", "subject": p["subjects"][int(ste[i])],
                            "window_float32_le_base64": base64.b64encode(w.astype("<f4").tobytes()).decode(),
                            "pytorch_top10": [bank["items"][int(j)]["id"] for j in order],
                            "pytorch_true_rank": int(ranks[i])})
        with open(os.path.join(args.out, name + ".sim.json"), "w") as f:
            json.dump({"accuracy": result, "windows": windows}, f)


if __name__ == "__main__":
    main()
