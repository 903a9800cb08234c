#!/usr/bin/python3
"""Learns neurostream's learnt-VQ tokenizers: a small causal convolutional autoencoder with a
vector-quantisation bottleneck (VQ-VAE, van den Oord et al. 2017; the tokenizers of LaBraM and
BrainOmni are larger relatives) on z-scored single-channel patches, one for EEG (PhysioNet S001) and
one for MEG (--modality meg: MNE's test_elekta_3ch_raw.fif, magnetometer and gradiometers together).

Data as the Go tokenizer sees it: every channel band-passed 1-40 Hz with a causal Butterworth filter
(order 4, steady-state start, as tokenizer.Train), cut into 0.2-s patches (32 samples at 160 Hz),
each z-scored. Learnt on runs R01-R06; runs R07-R14 are held out (neurostream bench tokens judges on
them). Writes, into configs/models/:

  tokenizer-vq-eeg.onnx          the encoder: patch [1, 1, 32] -> latent [1, D], with its contract
  tokenizer-vq-eeg.json          the codebook: latent codewords (K x D) for the nearest-code search in
                                 Go and the decoder's output for each (K x 32), which detokenizing uses
and tokenizer/testdata/tokenizer-vq-eeg.fixture.json: held-out patches with PyTorch's latents and
tokens, for the Go parity test.

MEG (--modality meg): test_elekta_3ch_raw.fif (1 magnetometer + 2 gradiometers, 1 kHz, 80 s), band-passed
1-40 Hz the same way, 0.2-s patches (200 samples); learnt on the first 56 s (patches every 10 samples: the
recording is short), held out the last 24 s, as `neurostream bench tokens` splits it. Writes
tokenizer-vq-meg.{onnx,json} and tokenizer/testdata/tokenizer-vq-meg.fixture.json. The modality
(channel types) is in both the codebook and the encoder's contract; Go refuses a pair that disagree.

Both codebooks carry side-information ranges per channel type (what a tokenizer stage's side_bits
quantises each patch's mean and scale over), learnt on the training data as Go's tokenizer.FitSide
learns them: ln(patch std) from its 0.5th to 99.5th percentile, |mean/std| up to its 99.5th, over
back-to-back patches of the band-passed training channels. --side-only adds them to the existing
codebook without training again.

Run: /usr/bin/python3 tools/models/train_tokenizer_vq.py [--modality eeg|meg] [--steps N] [--side-only]
(minutes on one core; --side-only seconds)
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

BAND_HZ = (1.0, 40.0)
TRAIN_RUNS = ["R01", "R02", "R03", "R04", "R05", "R06"]
FIXTURE_RUN = "R07"
MEG_FILE, MEG_CUT_SEC, MEG_TRAIN_STEP = "test_elekta_3ch_raw.fif", 56.0, 10
SIDE_PERCENTILE = 0.005  # share of training patches beyond each end of a side range (tokenizer/side.go)

# Per modality: name, rate, patch length, channel types (the contract), default codebook size.
MODALITIES = {
    "eeg": dict(name="tokenizer-vq-eeg", fs=160.0, patch=32, types=["eeg"], codewords=256,
                what="EEG, 160 Hz", training="PhysioNet S001 runs " + ", ".join(TRAIN_RUNS)),
    "meg": dict(name="tokenizer-vq-meg", fs=1000.0, patch=200, types=["mag", "grad"], codewords=64,
                what="MEG magnetometers and gradiometers, 1 kHz", training=MEG_FILE + " [0:56 s]"),
}
FS_HZ, PATCH, NAME = None, None, None  # set from the modality in main()


def data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("NEUROSTREAM_DATA", os.path.join(here, "..", "..", "..", "shared", "data"))


def eeg_run(run):
    """One PhysioNet run's channels (volts) and their types."""
    raw = mne.io.read_raw_edf(os.path.join(data_dir(), "physionet_eegmmidb_S001", f"S001{run}.edf"),
                              preload=True, verbose="error")
    return raw.get_data(), ["eeg"] * len(raw.ch_names)


def meg_part(part):
    """The magnetometer and gradiometers of the MEG sample (tesla, tesla/metre) and their types,
    split as bench tokens splits it."""
    raw = mne.io.read_raw_fif(os.path.join(data_dir(), "mne_testing_formats", "FIF", MEG_FILE), verbose="error")
    picks = mne.pick_types(raw.info, meg=True)
    data = raw.get_data(picks=picks)
    cut = int(MEG_CUT_SEC * FS_HZ)
    return (data[:, :cut] if part == "train" else data[:, cut:]), raw.get_channel_types(picks=picks)


def patches(run, step=None):
    return zscored_patches(eeg_run(run)[0], step)


def meg_patches(part, step=None):
    return zscored_patches(meg_part(part)[0], step)


def bandpassed(data):
    """Each channel band-passed causally from a steady state at its first sample (as tokenizer.Prepare)."""
    sos = scipy.signal.butter(4, BAND_HZ, btype="bandpass", fs=FS_HZ, output="sos")
    zi = scipy.signal.sosfilt_zi(sos)
    for ch in data:
        yield scipy.signal.sosfilt(sos, ch, zi=zi * ch[0])[0]


def side_ranges(parts):
    """Side-information ranges per channel type from (data, types) pairs, as Go's tokenizer.FitSide
    computes them: every back-to-back patch with a std of at least 1e-13, its ln(std) and |mean/std|;
    the percentile is the sorted list's element at round(q * (n - 1))."""
    logs, ratio = {}, {}
    for data, types in parts:
        for y, t in zip(bandpassed(data), types):
            for s in range(0, len(y) - PATCH + 1, PATCH):
                p = y[s:s + PATCH]
                m = p.mean()
                sd = np.sqrt(np.mean((p - m) ** 2))
                if sd < 1e-13:
                    continue
                logs.setdefault(t, []).append(np.log(sd))
                ratio.setdefault(t, []).append(abs(m / sd))

    def at(v, q):
        return float(v[int(q * (len(v) - 1) + 0.5)])
    out = []
    for t in sorted(logs):
        lv, rv = sorted(logs[t]), sorted(ratio[t])
        out.append({"channel_type": t, "log_scale_lo": at(lv, SIDE_PERCENTILE), "log_scale_hi": at(lv, 1 - SIDE_PERCENTILE),
                    "offset_max_z": at(rv, 1 - SIDE_PERCENTILE), "patches": len(lv)})
    return out


def training_side_ranges(modality):
    if modality == "eeg":
        return side_ranges(eeg_run(r) for r in TRAIN_RUNS)
    return side_ranges([meg_part("train")])


def zscored_patches(data, step=None):
    """Each channel band-passed (see bandpassed), cut into patches (every `step` samples; default:
    back to back), each z-scored; flat patches are left out."""
    out = []
    for y in bandpassed(data):
        for s in range(0, len(y) - PATCH + 1, step or PATCH):
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
    ap.add_argument("--modality", choices=sorted(MODALITIES), default="eeg")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--codewords", type=int, default=0, help="codebook size (default: 256 EEG, 64 MEG)")
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--side-only", action="store_true",
                    help="only learn the side-information ranges and add them to the existing codebook")
    args = ap.parse_args()
    mod = MODALITIES[args.modality]
    global FS_HZ, PATCH, NAME
    FS_HZ, PATCH, NAME = mod["fs"], mod["patch"], mod["name"]
    args.codewords = args.codewords or mod["codewords"]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    models = os.path.join(root, "configs", "models")
    if args.side_only:
        path = os.path.join(models, NAME + ".json")
        with open(path) as f:
            book = json.load(f)
        book["side_ranges"] = training_side_ranges(args.modality)
        with open(path, "w") as f:
            json.dump(book, f)
        print(f"side ranges {book['side_ranges']} written into {path}", file=sys.stderr)
        return
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    if args.modality == "eeg":
        x = np.concatenate([patches(r) for r in TRAIN_RUNS])
    else:
        x = meg_patches("train", step=MEG_TRAIN_STEP)
    print(f"{len(x)} training patches from {mod['training']}", file=sys.stderr)
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
    onnx_path = os.path.join(models, NAME + ".onnx")
    contract = {
        "format": "neurostream-onnx-contract/1", "name": NAME, "task": "tokenizer",
        "description": "Encoder of a causal convolutional VQ autoencoder: one channel's z-scored 0.2-s patch "
                       f"({mod['what']}, band-passed 1-40 Hz causally) to its latent vector; the nearest latent "
                       f"codeword ({NAME}.json) is the token.",
        "channels": ["patch"], "sample_rate_hz": FS_HZ, "window_samples": PATCH,
        "preprocessing": {"bandpass_hz": list(BAND_HZ), "filter": "butterworth order 4, causal",
                          "channel_handling": "per channel: every channel's patch is encoded on its own",
                          "channel_types": mod["types"]},
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
        "normalisation": "patch-zscore", "band_hz": list(BAND_HZ), "channel_types": mod["types"],
        "encoder": NAME + ".onnx",
        "latent_codewords": cb.tolist(), "codewords": decoded.tolist(),
        "side_ranges": training_side_ranges(args.modality),
        "training": {"recordings": ["S001" + r for r in TRAIN_RUNS] if args.modality == "eeg" else [mod["training"]],
                     "patches": len(x), "iterations": args.steps,
                     "inertia": float(loss.item()), "seed": 0,
                     "created_at": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    with open(os.path.join(models, NAME + ".json"), "w") as f:
        json.dump(book, f)

    # Parity fixture: held-out patches, PyTorch's latents and nearest codewords.
    held = patches(FIXTURE_RUN) if args.modality == "eeg" else meg_patches("test")
    pick = held[rng.choice(len(held), 16, replace=False)]
    with torch.no_grad():
        lat = enc(torch.from_numpy(pick[:, None, :]))
        tok = nearest(lat.double(), cb)
    fixture = {"model": NAME + ".onnx", "codebook": NAME + ".json",
               "patches_float32_le_base64": base64.b64encode(pick.astype("<f4").tobytes()).decode(),
               "patch_samples": PATCH, "latents": lat.numpy().astype(np.float32).tolist(), "tokens": tok.tolist(),
               "source": "PyTorch %s, tools/models/train_tokenizer_vq.py --modality %s, held-out %s" % (
                   torch.__version__, args.modality, FIXTURE_RUN if args.modality == "eeg" else MEG_FILE + " [56:80 s]")}
    with open(os.path.join(root, "tokenizer", "testdata", NAME + ".fixture.json"), "w") as f:
        json.dump(fixture, f)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), codebook and fixture in {time.time() - t0:.0f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
