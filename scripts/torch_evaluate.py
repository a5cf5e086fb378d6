#!/usr/bin/env python3
"""Loads a bptrain checkpoint (dense, convolution and pooling layers) into a PyTorch nn.Sequential and
evaluates it on a test set.

  /usr/bin/python3 scripts/torch_evaluate.py CHECKPOINT TEST
TEST: an IDX images file (.gz or plain; labels beside it, 'labels-idx1' for 'images-idx3'), a
directory holding t10k-*-ubyte[.gz], an HDF5 file with /X and /y, or a CSV file (the label column,
separator and header as the checkpoint's run read its data: --label-column, --csv-delimiter,
--csv-header; separators ',', ';', tab and '|' found as bptrain finds them). Prints one JSON line with loss,
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


def settings(f):
    """The checkpoint's run settings ("key=value;" pairs of /train@config) as a dict."""
    out = {}
    for item in text(f["train"].attrs.get("config", b"")).split(";"):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k] = v
    return out


def number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def load_csv(path, cfg):
    import csv
    lines = [l for l in open(path, encoding="utf-8-sig", newline="").read().splitlines() if l.strip()]
    delim = {"tab": "\t"}.get(cfg.get("csv-delimiter", "auto"), cfg.get("csv-delimiter", "auto"))
    if delim in ("", "auto", "\0", "\x00"):  # auto: the first of these that splits the first line
        delim = next((d for d in (",", ";", "\t", "|") if d in lines[0]), ",")
    rows = list(csv.reader(lines, delimiter=delim))
    # auto, yes, no (before 2026-12-05: 0, 1, 2)
    header_flag = {"auto": "0", "yes": "1", "no": "2"}.get(cfg.get("csv-header", "auto"), cfg.get("csv-header", "0"))
    first = rows[0]
    counts = any(first == [str(c + b) for c in range(len(first))] for b in (0, 1))
    header = first if header_flag == "1" or (header_flag == "0" and (not all(map(number, first)) or counts)) else None
    if header is not None:
        rows = rows[1:]
    label = cfg.get("label-column", "")
    col = len(first) - 1 if label == "" else (header.index(label) if header and label in header else int(label))
    data = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    y = data[:, col]
    x = np.delete(data, col, axis=1).astype(np.float32)
    return x, y


def load_test(path, cfg):
    if os.path.isfile(path) and not h5py.is_hdf5(path) and open(path, "rb").read(2) not in (b"\x1f\x8b", b"\x00\x00"):
        return load_csv(path, cfg)
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


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def build(f):
    """The checkpoint's model as a PyTorch nn.Sequential on NCHW input (docs/checkpoint.md): every layer
    group by its `kind` (dense before kinds were written), a Flatten before the first dense layer after
    a convolution or pooling, no reordering of any weight."""
    m = f["model"]
    shape = tuple(int(m.attrs[k]) for k in ("input_channels", "input_height", "input_width")) \
        if "input_channels" in m.attrs else (int(m.attrs["input_size"]),)
    layers, image = [], len(shape) == 3 and (shape[1] > 1 or shape[2] > 1)
    if image:
        layers.append(torch.nn.Unflatten(1, shape))
    for i in range(int(m.attrs["num_layers"])):
        g = f[f"model/layer_{i}"]
        kind = text(g.attrs.get("kind", "dense"))
        if kind == "dense":
            if image:
                layers.append(torch.nn.Flatten())
                image = False
            w = torch.from_numpy(np.asarray(g["weight"], dtype=np.float32))
            layer = torch.nn.Linear(w.shape[1], w.shape[0])
        elif kind == "conv":
            w = torch.from_numpy(np.asarray(g["weight"], dtype=np.float32))
            layer = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride=int(g.attrs["stride"]),
                                    padding=int(g.attrs["padding"]))
        elif kind in ("maxpool", "avgpool"):
            k = int(g.attrs["kernel"])
            layers.append(torch.nn.MaxPool2d(k) if kind == "maxpool" else torch.nn.AvgPool2d(k))
            continue
        else:
            sys.exit(f"layer {i}: unknown kind {kind}")
        with torch.no_grad():
            layer.weight.copy_(w)
            layer.bias.copy_(torch.from_numpy(np.asarray(g["bias"], dtype=np.float32)))
        layers.append(layer)
        act = text(g.attrs["activation"])
        if act != "identity":
            layers.append(ACT[act]())
    return layers


def main(ckpt, test):
    with h5py.File(ckpt, "r") as f:
        loss = text(f["model"].attrs["loss"])
        layers = build(f)
        offset = np.asarray(f["data/offset"], dtype=np.float32)
        scale = np.asarray(f["data/scale"], dtype=np.float32)
        cfg = settings(f)
        t_offset = torch.from_numpy(np.asarray(f["data/target_offset"], dtype=np.float32)) if "data/target_offset" in f else None
        t_scale = torch.from_numpy(np.asarray(f["data/target_scale"], dtype=np.float32)) if "data/target_scale" in f else None
    net = torch.nn.Sequential(*layers).eval()
    x, y = load_test(test, cfg)
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
        if t_offset is None:
            mse = float(torch.nn.functional.mse_loss(out, t))
            result["loss"] = mse
            result["rmse"] = mse ** 0.5
        else:  # --normalize-targets: the model learns (target - offset) * scale; RMSE in the targets' units
            result["loss"] = float(torch.nn.functional.mse_loss(out, (t - t_offset) * t_scale))
            result["rmse"] = float(torch.nn.functional.mse_loss(out / t_scale + t_offset, t, reduction="mean").double() ** 0.5)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    main(sys.argv[1], sys.argv[2])
