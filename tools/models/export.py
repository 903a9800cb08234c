"""Exports a trained network to ONNX with neurostream's model contract, and writes its parity fixture.

The contract is a JSON object stored in the ONNX file's metadata_props under the key
"neurostream.contract" (decoders/onnx reads it back; see decoders/onnx/doc.go for the fields).
The fixture holds one random input and the PyTorch output for it, so `go test` checks ONNX Runtime
against PyTorch without Python.
"""
import base64
import json

import numpy as np
import onnx
import torch

CONTRACT_KEY = "neurostream.contract"


def export(model, example_inputs, input_names, output_name, contract, onnx_path, fixture_path, seed=0):
    model.eval()
    torch.onnx.export(model, tuple(example_inputs), onnx_path, opset_version=13, do_constant_folding=True,
                      input_names=input_names, output_names=[output_name])
    m = onnx.load(onnx_path)
    m.doc_string = contract.get("description", "")
    entry = m.metadata_props.add()
    entry.key = CONTRACT_KEY
    entry.value = json.dumps(contract, separators=(",", ":"))
    onnx.checker.check_model(m)
    onnx.save(m, onnx_path)

    # Fixture: a random input in the model's normalised units and the PyTorch output.
    rng = np.random.default_rng(seed)
    inputs, feed = {}, []
    for name, ex in zip(input_names, example_inputs):
        if ex.dtype == torch.int64:
            v = ex.numpy().astype(np.int64)
            inputs[name] = {"shape": list(v.shape), "int64": v.ravel().tolist()}
            feed.append(torch.from_numpy(v))
        else:
            v = rng.standard_normal(ex.shape).astype(np.float32)
            inputs[name] = {"shape": list(v.shape),
                            "float32_le_base64": base64.b64encode(v.astype("<f4").tobytes()).decode()}
            feed.append(torch.from_numpy(v))
    with torch.no_grad():
        out = model(*feed).numpy().astype(np.float32)
    fixture = {"model": onnx_path.split("/")[-1], "inputs": inputs,
               "output": {"name": output_name, "shape": list(out.shape), "values": out.ravel().tolist()},
               "source": "PyTorch %s, tools/models/export.py" % torch.__version__}
    with open(fixture_path, "w") as f:
        json.dump(fixture, f)
