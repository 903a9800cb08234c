"""Trains EEGNet-v4, ShallowConvNet or the MVCNet-style network on PhysioNet S001 motor imagery, reports
test-run accuracy, and exports the model with its contract and parity fixture.

Usage: /usr/bin/python3 tools/models/train_mi.py --arch eegnet --pair imagined-lr --out decoders/onnx/testdata
Prints one JSON line: {"arch", "pair", "train_acc", "test_acc", "test_pred": [...]}.
CPU only, 1 thread, a few minutes at most (the machine is shared).
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import export
import nets
import physionet


def augment(x, gen):
    """MVCNet's three views of a trial: time (shift + amplitude), frequency (random band-stop on the
    spectrum), spatial (random channel dropout). Each sample gets one random view."""
    b, _, c, t = x.shape
    out = x.clone()
    kind = torch.randint(0, 3, (b,), generator=gen)
    for i in range(b):
        if kind[i] == 0:
            shift = int(torch.randint(-16, 17, (1,), generator=gen))
            out[i] = torch.roll(out[i], shift, dims=-1) * (0.8 + 0.4 * torch.rand(1, generator=gen))
        elif kind[i] == 1:
            spec = torch.fft.rfft(out[i], dim=-1)
            lo = int(torch.randint(0, spec.shape[-1] - 8, (1,), generator=gen))
            spec[..., lo:lo + 8] = 0
            out[i] = torch.fft.irfft(spec, n=t, dim=-1)
        else:
            keep = (torch.rand(c, generator=gen) > 0.2).float().view(1, c, 1)
            out[i] = out[i] * keep
    return out


def info_nce(a, b, temperature=0.2):
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(len(a))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["eegnet", "shallow", "mvcnet"], required=True)
    ap.add_argument("--pair", choices=sorted(physionet.PAIRS), default="imagined-lr")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    train_runs, test_runs, l1, l2 = physionet.PAIRS[args.pair]
    shifts = [s / 10 for s in range(-2, 4)]  # window start 0.3-0.8 s after the cue
    xtr, ytr, names = physionet.epochs(train_runs, shifts)
    xte, yte, _ = physionet.epochs(test_runs)
    # Per-channel scale from the training data: volts -> unit variance.
    std = xtr.std(axis=(0, 2))
    scale = 1.0 / std
    xtr_n = torch.from_numpy((xtr * scale[None, :, None]).astype(np.float32)).unsqueeze(1)
    xte_n = torch.from_numpy((xte * scale[None, :, None]).astype(np.float32)).unsqueeze(1)
    ytr_t = torch.from_numpy(ytr)

    c, t = xtr.shape[1], xtr.shape[2]
    model = {"eegnet": nets.EEGNet, "shallow": nets.ShallowConvNet, "mvcnet": nets.MVCNet}[args.arch](c, t, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    n = len(ytr)
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, 32):
            idx = perm[s:s + 32]
            xb, yb = xtr_n[idx], ytr_t[idx]
            if args.arch == "mvcnet":
                v1, v2 = augment(xb, gen), augment(xb, gen)
                zc1, zt1 = model.features(v1)
                zc2, zt2 = model.features(v2)
                logits = model.classify(torch.cat([F.elu(zc1), F.elu(zt1)], dim=1))
                cross_view = info_nce(torch.cat([zc1, zt1], 1), torch.cat([zc2, zt2], 1))
                cross_branch = 0.5 * (info_nce(zc1, zt1) + info_nce(zc2, zt2))
                loss = F.cross_entropy(logits, yb) + 0.1 * cross_view + 0.1 * cross_branch
            else:
                loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if args.arch == "eegnet":
                model.max_norm_()
    model.eval()
    with torch.no_grad():
        train_acc = float((model(xtr_n).argmax(1).numpy() == ytr).mean())
        pred = model(xte_n).argmax(1).numpy()
    test_acc = float((pred == yte).mean())
    result = {"arch": args.arch, "pair": args.pair, "train_runs": train_runs, "test_runs": test_runs,
              "train_acc": train_acc, "test_acc": test_acc, "test_pred": pred.tolist(), "test_true": yte.tolist()}
    print(json.dumps(result))

    if args.out:
        name = f"{args.arch}-{args.pair}"
        contract = {
            "format": "neurostream-onnx-contract/1",
            "name": name,
            "task": "motor-imagery",
            "description": f"{args.arch} trained on PhysioNet EEGMMIDB S001 {'+'.join(train_runs)} "
                           f"(T1={l1}, T2={l2}), tested on {'+'.join(test_runs)}",
            "channels": names,
            "sample_rate_hz": physionet.FS_HZ,
            "window_samples": t,
            "preprocessing": {"bandpass_hz": list(physionet.BAND_HZ), "filter": "butter order 4, causal sosfilt",
                              "window": "0.5-2.5 s after the cue"},
            "normalisation": {"offset": [0.0] * c, "scale": scale.tolist(), "window_zscore": False},
            "input": {"name": "input", "shape": [1, 1, c, t]},
            "output": {"name": "logits", "kind": "logits", "labels": [l1, l2]},
        }
        os.makedirs(args.out, exist_ok=True)
        export.export(model, [torch.zeros(1, 1, c, t)], ["input"], "logits", contract,
                      os.path.join(args.out, name + ".onnx"), os.path.join(args.out, name + ".fixture.json"))
        # PyTorch's test-run predictions, which the Go online-accuracy test compares with its own.
        with open(os.path.join(args.out, name + ".accuracy.json"), "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
