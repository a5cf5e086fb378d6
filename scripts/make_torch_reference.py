#!/usr/bin/env python3
"""Writes tests/data/torch_reference.h5: an independent PyTorch computation of small MLPs and CNNs
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

# Convolutional stacks, in bptrain's --layers grammar with the output layer last (the same layers as
# bptrain's model: conv<K>:<C>[:s<S>][:valid] with zero padding (K-1)/2 unless valid, maxpool<K>,
# avgpool<K>, dense:<N>; the first dense layer flattens in C, H, W order).
CNN_CASES = [
    # name, input shape [C, H, W], layers, hidden activation, loss, batch
    ("cnn_ce_relu", [1, 8, 8], "conv3:4,maxpool2,conv3:5:s2:valid,dense:7,dense:5", "relu", "cross_entropy", 6),
    ("cnn_mse_tanh", [2, 7, 6], "conv5:3,avgpool2,conv1:2,dense:4", "tanh", "mse", 5),
]


def parse_layers(text, shape):
    """nn.Sequential for a bptrain layer stack, and the indices (bptrain's layer numbers) of the layers
    with parameters."""
    layers, with_params, image = [torch.nn.Unflatten(1, tuple(shape))], [], True
    c = shape[0]
    items = text.split(",")
    for i, item in enumerate(items):
        parts = item.split(":")
        last = i + 1 == len(items)
        if parts[0] == "dense":
            if image:
                layers.append(torch.nn.Flatten())
                image = False
            layers.append(torch.nn.LazyLinear(int(parts[1])))
            with_params.append(i)
        elif parts[0].startswith("conv"):
            k, cout = int(parts[0][4:]), int(parts[1])
            stride = next((int(p[1:]) for p in parts[2:] if p.startswith("s")), 1)
            pad = 0 if "valid" in parts[2:] else (k - 1) // 2
            layers.append(torch.nn.Conv2d(c, cout, k, stride=stride, padding=pad))
            c = cout
            with_params.append(i)
        elif parts[0].startswith("maxpool"):
            layers.append(torch.nn.MaxPool2d(int(parts[0][7:])))
        else:
            layers.append(torch.nn.AvgPool2d(int(parts[0][7:])))
        if not last and (parts[0] == "dense" or parts[0].startswith("conv")):
            layers.append(None)  # the activation, filled in by the caller
    return layers, with_params


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


def write_steps(g, make_net, params_of, init, x, y, t, loss):
    """Each optimizer's STEPS steps from the same initial weights: the losses and the final weights
    flat in bptrain's layout (each layer's weight, then its bias)."""
    for oname, make, hp in OPTIMIZERS:
        net2 = make_net()
        with torch.no_grad():
            for m, (w, b) in zip(params_of(net2), init):
                m.weight.copy_(w)
                m.bias.copy_(b)
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
        flat = np.concatenate([np.concatenate([m.weight.detach().numpy().ravel(), m.bias.detach().numpy().ravel()])
                               for m in params_of(net2)])
        og.create_dataset("final_params", data=flat.astype(np.float32))


def build_cnn(shape, text, act):
    layers, with_params = parse_layers(text, shape)
    net = torch.nn.Sequential(*[ACT[act]() if l is None else l for l in layers])
    net(torch.zeros(1, int(np.prod(shape))))  # materialise the lazy dense layers
    return net, with_params


def param_layers(net):
    return [m for m in net if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]


def write_case(g, make_net, params_of, idx, d, k, loss, batch):
    """One case: its initial weights (bptrain's layer numbers idx), a batch, the logits, the loss, every
    gradient, and each optimizer's trajectory."""
    net = make_net()
    init = [(m.weight.detach().clone(), m.bias.detach().clone()) for m in params_of(net)]
    x = torch.rand(batch, d) * 2 - 1
    y = torch.randint(0, k, (batch,))
    t = torch.rand(batch, k)
    g.create_dataset("x", data=x.numpy())
    g.create_dataset("labels", data=y.numpy().astype(np.int32))
    g.create_dataset("targets", data=t.numpy())
    for i, (w, b) in zip(idx, init):
        g.create_dataset(f"layer_{i}/weight", data=w.numpy())
        g.create_dataset(f"layer_{i}/bias", data=b.numpy())
    out = net(x)
    l = loss_fn(loss, out, y, t)
    l.backward()
    g.create_dataset("logits", data=out.detach().numpy())
    g.attrs["loss_value"] = float(l.item())
    for i, m in zip(idx, params_of(net)):
        g.create_dataset(f"grad/layer_{i}/weight", data=m.weight.grad.numpy())
        g.create_dataset(f"grad/layer_{i}/bias", data=m.bias.grad.numpy())
    write_steps(g, make_net, params_of, init, x, y, t, loss)


def main(path):
    with h5py.File(path, "w") as f:
        f.attrs["generator"] = "scripts/make_torch_reference.py"
        f.attrs["torch_version"] = str(torch.__version__)
        for name, sizes, act, loss, batch in CASES:
            g = f.create_group(name)
            g.attrs["activation"] = act
            g.attrs["loss"] = loss
            g.create_dataset("sizes", data=np.array(sizes, dtype=np.int64))
            write_case(g, lambda: build(sizes, act), linears, range(len(sizes) - 1), sizes[0], sizes[-1], loss, batch)
        for name, shape, text, act, loss, batch in CNN_CASES:
            g = f.create_group(name)
            g.attrs["activation"] = act
            g.attrs["loss"] = loss
            g.attrs["layers"] = text
            g.create_dataset("input_shape", data=np.array(shape, dtype=np.int64))
            idx = parse_layers(text, shape)[1]
            write_case(g, lambda: build_cnn(shape, text, act)[0], param_layers, idx, int(np.prod(shape)),
                       int(text.split(":")[-1]), loss, batch)
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/torch_reference.h5")
