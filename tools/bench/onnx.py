"""PyTorch reference timings for `neurostream bench onnx`: one forward pass (batch 1, 1 thread, no_grad)
of each shipped ONNX decoder's architecture on its parity-fixture input.

The networks are built from tools/models/nets.py with the shipped models' hyper-parameters and random
weights (inference time does not depend on the weight values). Prints one JSON object
{"<model>": seconds_per_forward, ...}. Usage: onnx.py [dir...] (default decoders/onnx/testdata and, if
present, .cache/onnx-bench with the full-size brain module).
"""
import base64
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
import nets  # noqa: E402


def build(name, c, t):
    pos = torch.rand(c, 2)
    arch = name.split("-")[0]
    if arch in ("eegnet", "shallow", "mvcnet"):  # tools/models/train_mi.py names them <arch>-<pair>
        return {"eegnet": nets.EEGNet, "shallow": nets.ShallowConvNet, "mvcnet": nets.MVCNet}[arch](c, t, 2)
    return {
        # Must match tools/models/train_retrieval.py.
        "speech-sim": lambda: nets.BrainModule(pos, t, 2, 64, d1=48, hidden=48, n_blocks=3, time_bins=12),
        "visual-sim": lambda: nets.BrainModule(pos, t, 1, 32, d1=48, hidden=48, n_blocks=2, time_bins=6),
        # Must match tools/models/export_fullsize_brain_module.py.
        "brain-module-fullsize": lambda: nets.BrainModule(pos, t, 1, 64, d1=270, hidden=320, n_blocks=5, time_bins=12),
        "brain-module-fullsize-folded": lambda: nets.FoldedBrainModule(
            nets.BrainModule(pos, t, 1, 64, d1=270, hidden=320, n_blocks=5, time_bins=12), 0),
        "brain-module-fullsize-folded-conv2d": lambda: nets.Conv2dFoldedBrainModule(nets.FoldedBrainModule(
            nets.BrainModule(pos, t, 1, 64, d1=270, hidden=320, n_blocks=5, time_bins=12), 0)),
    }[name]()


def seconds_per_op(fn, min_time=1.0):
    for _ in range(10):
        fn()
    n, best = 10, float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        best = min(best, dt / n)
        n = max(10, int(min_time / 3 / max(best, 1e-6)))
    return best


def main():
    dirs = sys.argv[1:] or [os.path.join(HERE, "..", "..", "decoders", "onnx", "testdata"),
                            os.path.join(HERE, "..", "..", ".cache", "onnx-bench")]
    torch.set_num_threads(1)
    out = {}
    fixtures = [(d, f) for d in dirs if os.path.isdir(d) for f in sorted(os.listdir(d)) if f.endswith(".fixture.json")]
    for testdata, fname in fixtures:
        name = fname[: -len(".fixture.json")]
        with open(os.path.join(testdata, fname)) as f:
            fx = json.load(f)
        spec = fx["inputs"]["input"]
        x = np.frombuffer(base64.b64decode(spec["float32_le_base64"]), dtype="<f4").reshape(spec["shape"])
        x = torch.from_numpy(x.copy())
        model = build(name, x.shape[-2], x.shape[-1]).eval()
        args = [x]
        if "subject" in fx["inputs"]:
            args.append(torch.tensor(fx["inputs"]["subject"]["int64"]))
        with torch.no_grad():
            out[name] = seconds_per_op(lambda: model(*args))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
