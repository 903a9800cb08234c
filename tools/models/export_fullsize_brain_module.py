"""Exports a full-size Défossez-style brain module with random weights, for timing only.

The shipped speech-sim model is small (48 hidden channels) because it is trained on a shared 2-core
machine; this one has the paper's proportions (273 MEG sensors, 270 spatial-attention channels,
320 hidden channels, 5 residual blocks of 2 dilated convs, 3-s windows at 120 Hz), so the
"<= 15 ms per 3-s window" target is checked on a realistic size. It is ~15 MB and is NOT committed:
the output goes to an ignored directory (default .cache/onnx-bench/), where the Go benchmark
BenchmarkDecodeBrainModuleFullSize and `neurostream bench onnx` pick it up if present.
It also exports brain-module-fullsize-folded: the same network with its linear front end (spatial
attention, merge conv, subject layer, input conv) folded into one 1x1 conv for the subject
(nets.FoldedBrainModule), after checking in PyTorch that its output equals the unfolded one's, and
brain-module-fullsize-folded-conv2d: the folded network with every 1-D conv written as the 2-D conv
of kernel (1, k) on [B, C, 1, T] (nets.Conv2dFoldedBrainModule), which ONNX Runtime's x86 CPU
provider runs with its blocked NCHWc kernels; its PyTorch output is checked against the folded one's.
Usage: /usr/bin/python3 tools/models/export_fullsize_brain_module.py [out-dir]
"""
import json
import os
import sys

import numpy as np
import torch

import export
import nets

N_SENSORS, FS_HZ, WINDOW_SEC, EMB = 273, 120.0, 3.0, 64


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", ".cache", "onnx-bench")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    t = int(FS_HZ * WINDOW_SEC)
    pos = torch.rand(N_SENSORS, 2)
    model = nets.BrainModule(pos, t, 1, EMB, d1=270, hidden=320, n_blocks=5, time_bins=12).eval()
    with torch.no_grad():  # a subject layer that is not the identity, so folding it is tested
        model.subject_layers.add_(0.1 * torch.randn_like(model.subject_layers))
    names = [f"MEG{i:03d}" for i in range(N_SENSORS)]
    contract = {
        "format": "neurostream-onnx-contract/1",
        "name": "brain-module-fullsize-random",
        "task": "speech",
        "description": "random weights, for benchmarking only",
        "channels": names,
        "sample_rate_hz": FS_HZ,
        "window_samples": t,
        "normalisation": {"scale": [1e12]},
        "input": {"name": "input", "shape": [1, N_SENSORS, t]},
        "output": {"name": "embedding", "kind": "embedding", "embedding_size": EMB},
        "subjects": ["bench"],
    }
    name = "brain-module-fullsize"
    export.export(model, [torch.zeros(1, N_SENSORS, t), torch.zeros(1, dtype=torch.int64)], ["input", "subject"],
                  "embedding", contract, os.path.join(out, name + ".onnx"), os.path.join(out, name + ".fixture.json"))
    folded = nets.FoldedBrainModule(model, 0).eval()
    x = torch.randn(4, N_SENSORS, t)
    with torch.no_grad():
        ref, got = model(x, torch.zeros(4, dtype=torch.int64)), folded(x)
    diff = float((ref - got).abs().max())
    print("folded vs unfolded, PyTorch: max abs diff %.2g (outputs up to %.2g)" % (diff, float(ref.abs().max())))
    if diff > 1e-5:
        raise SystemExit("folding changed the output by more than 1e-5")
    fc = dict(contract, name="brain-module-fullsize-folded-random", description="random weights, front end folded for "
              "subject 'bench', for benchmarking only")
    del fc["subjects"]
    export.export(folded, [torch.zeros(1, N_SENSORS, t)], ["input"], "embedding", fc,
                  os.path.join(out, name + "-folded.onnx"), os.path.join(out, name + "-folded.fixture.json"))
    conv2d = nets.Conv2dFoldedBrainModule(folded).eval()
    with torch.no_grad():
        got2 = conv2d(x)
    diff = float((got - got2).abs().max())
    print("conv2d form vs folded, PyTorch: max abs diff %.2g" % diff)
    if diff > 1e-5:
        raise SystemExit("the conv2d form changed the output by more than 1e-5")
    c2 = dict(fc, name="brain-module-fullsize-folded-conv2d-random", description=fc["description"] +
              ", 1-D convs written as (1, k) 2-D convs")
    export.export(conv2d, [torch.zeros(1, N_SENSORS, t)], ["input"], "embedding", c2,
                  os.path.join(out, name + "-folded-conv2d.onnx"), os.path.join(out, name + "-folded-conv2d.fixture.json"))
    rng = np.random.default_rng(0)
    bank = {"format": "neurostream-embedding-bank/1", "dim": EMB,
            "items": [{"id": f"seg-{i:04d}", "embedding": rng.standard_normal(EMB).round(5).tolist()} for i in range(1000)]}
    for n in (name, name + "-folded", name + "-folded-conv2d"):
        with open(os.path.join(out, n + ".bank.json"), "w") as f:
            json.dump(bank, f)
    print(os.path.join(out, name + ".onnx"), sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main()
