#!/usr/bin/env python3
"""Writes tests/data/torch_reference.h5: an independent PyTorch computation of small MLPs
(weights, one batch, logits, loss, every gradient, and the losses and final weights of several
optimizer steps) that tests/unit/test_torch_reference.cpp compares bptrain's engine against.

Run with Debian's python3-torch and python3-h5py:  /usr/bin/python3 scripts/make_torch_reference.py
The committed file is the output; the test only reads it.
"""
import sys

import h5py
import numpy as np
import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)

ACT = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
       "leaky_relu": torch.nn.LeakyReLU}

CASES = [
    # name, sizes, hidden activation, loss, batch
    ("ce_relu", [20, 16, 12, 5], "relu", "cross_entropy", 9),
    ("ce_tanh", [13, 11, 7], "tanh", "cross_entropy", 6),
    ("mse_sigmoid", [10, 8, 6, 4], "sigmoid", "mse", 7),
    ("ce_leaky_relu", [9, 17, 3], "leaky_relu", "cross_entropy", 5),
]

OPTIMIZERS = [
    # name, constructor, hyper-parameters stored as attributes
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1), dict(kind="sgd", lr=0.1, momentum=0.0, weight_decay=0.0)),
    ("momentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
     dict(kind="momentum", lr=0.05, momentum=0.9, weight_decay=1e-3)),
    ("nesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
     dict(kind="nesterov", lr=0.05, momentum=0.8, weight_decay=0.0)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4),
     dict(kind="adam", lr=0.01, momentum=0.0, weight_decay=1e-4)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
     dict(kind="adamw", lr=0.01, momentum=0.0, weight_decay=0.05)),
]
STEPS = 5


def build(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(ACT[act]())
    return torch.nn.Sequential(*layers)


def linears(net):
    return [m for m in net if isinstance(m, torch.nn.Linear)]


def loss_fn(kind, out, y, t):
    if kind == "cross_entropy":
        return torch.nn.functional.cross_entropy(out, y)
    return torch.nn.functional.mse_loss(out, t)


def main(path):
    with h5py.File(path, "w") as f:
        f.attrs["generator"] = "scripts/make_torch_reference.py"
        f.attrs["torch_version"] = str(torch.__version__)
        for name, sizes, act, loss, batch in CASES:
            g = f.create_group(name)
            g.attrs["activation"] = act
            g.attrs["loss"] = loss
            g.create_dataset("sizes", data=np.array(sizes, dtype=np.int64))
            net = build(sizes, act)
            init = [(l.weight.detach().clone(), l.bias.detach().clone()) for l in linears(net)]
            x = torch.rand(batch, sizes[0]) * 2 - 1
            y = torch.randint(0, sizes[-1], (batch,))
            t = torch.rand(batch, sizes[-1])
            g.create_dataset("x", data=x.numpy())
            g.create_dataset("labels", data=y.numpy().astype(np.int32))
            g.create_dataset("targets", data=t.numpy())
            for i, (w, b) in enumerate(init):
                g.create_dataset(f"layer_{i}/weight", data=w.numpy())
                g.create_dataset(f"layer_{i}/bias", data=b.numpy())
            out = net(x)
            l = loss_fn(loss, out, y, t)
            l.backward()
            g.create_dataset("logits", data=out.detach().numpy())
            g.attrs["loss_value"] = float(l.item())
            for i, lin in enumerate(linears(net)):
                g.create_dataset(f"grad/layer_{i}/weight", data=lin.weight.grad.numpy())
                g.create_dataset(f"grad/layer_{i}/bias", data=lin.bias.grad.numpy())
            for oname, make, hp in OPTIMIZERS:
                net2 = build(sizes, act)
                with torch.no_grad():
                    for lin, (w, b) in zip(linears(net2), init):
                        lin.weight.copy_(w)
                        lin.bias.copy_(b)
                opt = make(net2.parameters())
                losses = []
                for _ in range(STEPS):
                    opt.zero_grad()
                    l2 = loss_fn(loss, net2(x), y, t)
                    losses.append(float(l2.item()))
                    l2.backward()
                    opt.step()
                og = g.create_group(f"steps/{oname}")
                for k, v in hp.items():
                    og.attrs[k] = v
                og.create_dataset("losses", data=np.array(losses, dtype=np.float64))
                flat = np.concatenate([np.concatenate([lin.weight.detach().numpy().ravel(),
                                                       lin.bias.detach().numpy().ravel()])
                                       for lin in linears(net2)])
                og.create_dataset("final_params", data=flat.astype(np.float32))
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/torch_reference.h5")
