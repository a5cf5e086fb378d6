#!/usr/bin/env python3
"""Loads a bptrain checkpoint into a PyTorch nn.Sequential and evaluates it on a test set.

  /usr/bin/python3 scripts/torch_evaluate.py CHECKPOINT TEST
TEST: an IDX images file (.gz or plain; labels beside it, 'labels-idx1' for 'images-idx3'), a
directory holding t10k-*-ubyte[.gz], or an HDF5 file with /X and /y. Prints one JSON line with loss,
accuracy (or rmse) and samples, like `bptrain --evaluate`. Needs python3-torch and python3-h5py.
"""
import gzip
import json
import os
import struct
import sys

import h5py
import numpy as np
import torch

ACT = {"relu": torch.nn.ReLU, "leaky_relu": lambda: torch.nn.LeakyReLU(0.01), "tanh": torch.nn.Tanh,
       "sigmoid": torch.nn.Sigmoid, "identity": torch.nn.Identity}


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        zero, kind, nd = struct.unpack(">HBB", f.read(4))
        dims = struct.unpack(">" + "I" * nd, f.read(4 * nd))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def load_test(path):
    if os.path.isdir(path):
        for ext in ("", ".gz"):
            p = os.path.join(path, "t10k-images-idx3-ubyte" + ext)
            if os.path.exists(p):
                path = p
                break
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            return np.asarray(f["X"], dtype=np.float32), np.asarray(f["y"])
    x = read_idx(path)
    y = read_idx(path.replace("images-idx3", "labels-idx1"))
    return x.reshape(x.shape[0], -1).astype(np.float32), y.astype(np.int64)


def main(ckpt, test):
    layers = []
    with h5py.File(ckpt, "r") as f:
        n = int(f["model"].attrs["num_layers"])
        loss = f["model"].attrs["loss"]
        loss = loss.decode() if isinstance(loss, bytes) else loss
        for i in range(n):
            g = f[f"model/layer_{i}"]
            w = torch.from_numpy(np.asarray(g["weight"], dtype=np.float32))
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(torch.from_numpy(np.asarray(g["bias"], dtype=np.float32)))
            layers.append(lin)
            act = g.attrs["activation"]
            act = act.decode() if isinstance(act, bytes) else act
            if act != "identity":
                layers.append(ACT[act]())
        offset = np.asarray(f["data/offset"], dtype=np.float32)
        scale = np.asarray(f["data/scale"], dtype=np.float32)
    net = torch.nn.Sequential(*layers).eval()
    x, y = load_test(test)
    x = torch.from_numpy((x - offset) * scale)
    with torch.no_grad():
        out = net(x)
    result = {"checkpoint": ckpt, "samples": int(x.shape[0])}
    if loss == "cross_entropy":
        labels = torch.from_numpy(y.astype(np.int64))
        result["loss"] = float(torch.nn.functional.cross_entropy(out, labels))
        result["accuracy"] = float((out.argmax(1) == labels).double().mean())
    else:
        t = torch.from_numpy(y.astype(np.float32)).reshape(out.shape)
        mse = float(torch.nn.functional.mse_loss(out, t))
        result["loss"] = mse
        result["rmse"] = mse ** 0.5
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    main(sys.argv[1], sys.argv[2])
