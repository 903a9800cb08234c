#!/usr/bin/python3
"""Learns neurostream's learnt-VQ tokenizer: a small causal convolutional autoencoder with a
vector-quantisation bottleneck (VQ-VAE, van den Oord et al. 2017; the tokenizers of LaBraM and
BrainOmni are larger relatives) on z-scored single-channel patches of PhysioNet S001 EEG.

Data as the Go tokenizer sees it: every channel band-passed 1-40 Hz with a causal Butterworth filter
(order 4, steady-state start, as tokenizer.Train), cut into 0.2-s patches (32 samples at 160 Hz),
each z-scored. Learnt on runs R01-R06; runs R07-R14 are held out (neurostream bench tokens judges on
them). Writes, into configs/models/:

  tokenizer-vq-eeg.onnx          the encoder: patch [1, 1, 32] -> latent [1, D], with its contract
  tokenizer-vq-eeg.json          the codebook: latent codewords (K x D) for the nearest-code search in
                                 Go and the decoder's output for each (K x 32), which detokenizing uses
and tokenizer/testdata/tokenizer-vq-eeg.fixture.json: held-out patches with PyTorch's latents and
tokens, for the Go parity test.

Run: /usr/bin/python3 tools/models/train_tokenizer_vq.py [--steps N]   (a few minutes on one core)
"""
import argparse
import base64
import datetime
import json
import os
import sys
import time

import mne
import numpy as np
import scipy.signal
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import CONTRACT_KEY  # noqa: E402

import onnx  # noqa: E402

FS_HZ, BAND_HZ, PATCH = 160.0, (1.0, 40.0), 32
TRAIN_RUNS = ["R01", "R02", "R03", "R04", "R05", "R06"]
FIXTURE_RUN = "R07"
NAME = "tokenizer-vq-eeg"


def data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "..", "shared", "data")
    return os.path.join(os.environ.get("NEUROSTREAM_DATA", default), "physionet_eegmmidb_S001")


def patches(run):
    raw = mne.io.read_raw_edf(os.path.join(data_dir(), f"S001{run}.edf"), preload=True, verbose="error")
    sos = scipy.signal.butter(4, BAND_HZ, btype="bandpass", fs=FS_HZ, output="sos")
    zi = scipy.signal.sosfilt_zi(sos)
    out = []
    for ch in raw.get_data():
        y, _ = scipy.signal.sosfilt(sos, ch, zi=zi * ch[0])
        for s in range(0, len(y) - PATCH + 1, PATCH):
            p = y[s:s + PATCH]
            m, sd = p.mean(), p.std()
            if sd < 1e-13:
                continue
            out.append((p - m) / sd)
    return np.asarray(out, dtype=np.float32)


class CausalConv(nn.Module):
    """Conv1d that sees only the present and past samples (left padding)."""

    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.pad = k - 1
        self.conv = nn.Conv1d(cin, cout, k, stride=stride)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, 0)))


class Encoder(nn.Module):
    def __init__(self, width, latent):
        super().__init__()
        self.net = nn.Sequential(CausalConv(1, width, 5), nn.ELU(), CausalConv(width, width, 5, stride=2), nn.ELU(),
                                 CausalConv(width, width, 5, stride=2), nn.ELU())
        self.out = nn.Linear(width * PATCH // 4, latent)

    def forward(self, x):  # [B, 1, PATCH] -> [B, latent]
        return self.out(self.net(x).flatten(1))


class Decoder(nn.Module):
    def __init__(self, width, latent):
        super().__init__()
        self.width = width
        self.inp = nn.Linear(latent, width * PATCH // 4)
        self.net = nn.Sequential(nn.ELU(), nn.Upsample(scale_factor=2), nn.Conv1d(width, width, 5, padding=2), nn.ELU(),
                                 nn.Upsample(scale_factor=2), nn.Conv1d(width, width, 5, padding=2), nn.ELU(),
                                 nn.Conv1d(width, 1, 5, padding=2))

    def forward(self, z):  # [B, latent] -> [B, 1, PATCH]
        return self.net(self.inp(z).view(-1, self.width, PATCH // 4))


def nearest(z, codebook):
    d = (z * z).sum(1, keepdim=True) - 2 * z @ codebook.t() + (codebook * codebook).sum(1)[None]
    return d.argmin(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--codewords", type=int, default=256)
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--width", type=int, default=16)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    x = np.concatenate([patches(r) for r in TRAIN_RUNS])
    print(f"{len(x)} training patches from {TRAIN_RUNS}", file=sys.stderr)
    x = torch.from_numpy(x[:, None, :])
    enc, dec = Encoder(args.width, args.latent), Decoder(args.width, args.latent)
    # Codebook initialised from encoder outputs of random patches (k-means++-like spread comes from the data).
    with torch.no_grad():
        codebook = enc(x[rng.choice(len(x), args.codewords, replace=False)]).clone()
    codebook = nn.Parameter(codebook)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()) + [codebook], lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    usage = torch.zeros(args.codewords)
    t0 = time.time()
    for step in range(1, args.steps + 1):
        batch = x[rng.integers(0, len(x), 128)]
        z = enc(batch)
        idx = nearest(z.detach(), codebook.detach())
        q = codebook[idx]
        zq = z + (q - z).detach()  # straight-through
        rec = dec(zq)
        loss = F.mse_loss(rec, batch) + F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        usage.mul_(0.99).index_add_(0, idx, torch.ones(len(idx)) * 0.01)
        if step % 100 == 0:  # restart dead codes on random current encodings
            with torch.no_grad():
                dead = (usage < 1e-3).nonzero().flatten()
                if len(dead):
                    codebook[dead] = z.detach()[torch.randint(0, len(z), (len(dead),))]
                    usage[dead] = 0.01
            print(f"step {step}: loss {loss.item():.4f} recon {F.mse_loss(rec, batch).item():.4f} "
                  f"dead {len(dead)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    enc.eval()
    dec.eval()

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    models = os.path.join(root, "configs", "models")
    onnx_path = os.path.join(models, NAME + ".onnx")
    contract = {
        "format": "neurostream-onnx-contract/1", "name": NAME, "task": "tokenizer",
        "description": "Encoder of a causal convolutional VQ autoencoder: one channel's z-scored 0.2-s patch "
                       "(EEG, 160 Hz, band-passed 1-40 Hz causally) to its latent vector; the nearest latent "
                       "codeword (tokenizer-vq-eeg.json) is the token.",
        "channels": ["patch"], "sample_rate_hz": FS_HZ, "window_samples": PATCH,
        "preprocessing": {"bandpass_hz": list(BAND_HZ), "filter": "butterworth order 4, causal",
                          "channel_handling": "per channel: every EEG channel's patch is encoded on its own",
                          "channel_types": ["eeg"]},
        "normalisation": {"window_zscore": True},
        "input": {"name": "patch", "shape": [1, 1, PATCH]},
        "output": {"name": "latent", "kind": "embedding", "embedding_size": args.latent},
    }
    torch.onnx.export(enc, (torch.zeros(1, 1, PATCH),), onnx_path, opset_version=13, do_constant_folding=True,
                      input_names=["patch"], output_names=["latent"])
    m = onnx.load(onnx_path)
    m.doc_string = contract["description"]
    entry = m.metadata_props.add()
    entry.key, entry.value = CONTRACT_KEY, json.dumps(contract, separators=(",", ":"))
    onnx.checker.check_model(m)
    onnx.save(m, onnx_path)

    with torch.no_grad():
        cb = codebook.detach().double()
        decoded = dec(codebook.detach()).squeeze(1).double()
    book = {
        "version": 2, "name": NAME, "method": "learnt-vq", "sample_rate_hz": FS_HZ, "patch_samples": PATCH,
        "normalisation": "patch-zscore", "band_hz": list(BAND_HZ), "channel_types": ["eeg"],
        "encoder": NAME + ".onnx",
        "latent_codewords": cb.tolist(), "codewords": decoded.tolist(),
        "training": {"recordings": ["S001" + r for r in TRAIN_RUNS], "patches": len(x), "iterations": args.steps,
                     "inertia": float(loss.item()), "seed": 0,
                     "created_at": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    with open(os.path.join(models, NAME + ".json"), "w") as f:
        json.dump(book, f)

    # Parity fixture: held-out patches, PyTorch's latents and nearest codewords.
    held = patches(FIXTURE_RUN)
    pick = held[rng.choice(len(held), 16, replace=False)]
    with torch.no_grad():
        lat = enc(torch.from_numpy(pick[:, None, :]))
        tok = nearest(lat.double(), cb)
    fixture = {"model": NAME + ".onnx", "codebook": NAME + ".json",
               "patches_float32_le_base64": base64.b64encode(pick.astype("<f4").tobytes()).decode(),
               "patch_samples": PATCH, "latents": lat.numpy().astype(np.float32).tolist(), "tokens": tok.tolist(),
               "source": "PyTorch %s, tools/models/train_tokenizer_vq.py, held-out run %s" % (torch.__version__, FIXTURE_RUN)}
    with open(os.path.join(root, "tokenizer", "testdata", NAME + ".fixture.json"), "w") as f:
        json.dump(fixture, f)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), codebook and fixture in {time.time() - t0:.0f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
