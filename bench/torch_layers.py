"""The PyTorch nn.Sequential for a network given in bptrain's --layers grammar, for the benchmarks
that compare with PyTorch (bench/torch_cnn.py, bench/torch_to_accuracy.py). Import it after the
thread settings: it imports torch.
  build("conv5:32,maxpool2,dense:256", (1, 28, 28), 10, dropout=0.3)
Conv2d with padding (K-1)/2 unless valid and stride from :s<S>, MaxPool2d/AvgPool2d(K), Flatten
before the first dense layer (PyTorch's NCHW order, as bptrain's), Linear, the activation (ReLU)
after each conv and dense hidden layer, Dropout(p) after each dense hidden layer (as --dropout), and
the Linear output layer last. samples_per_s times training steps the way both throughput benchmarks
do."""
import time

import torch


def build(text, shape, classes, dropout=0.0):
    c, layers, image = shape[0], [], len(shape) == 3
    for item in (text.split(",") if text else []):
        parts = item.split(":")
        if parts[0] == "dense":
            if image:
                layers.append(torch.nn.Flatten())
                image = False
            layers += [torch.nn.LazyLinear(int(parts[1])), torch.nn.ReLU()]
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
        elif parts[0].startswith("conv"):
            k, cout = int(parts[0][4:]), int(parts[1])
            stride = next((int(p[1:]) for p in parts[2:] if p.startswith("s")), 1)
            pad = 0 if "valid" in parts[2:] else (k - 1) // 2
            layers += [torch.nn.Conv2d(c, cout, k, stride=stride, padding=pad), torch.nn.ReLU()]
            c = cout
        elif parts[0].startswith("maxpool"):
            layers.append(torch.nn.MaxPool2d(int(parts[0][7:])))
        elif parts[0].startswith("avgpool"):
            layers.append(torch.nn.AvgPool2d(int(parts[0][7:])))
        else:
            raise SystemExit(f"torch_layers: unknown layer '{item}'")
    if image:
        layers.append(torch.nn.Flatten())
    layers.append(torch.nn.LazyLinear(classes))
    net = torch.nn.Sequential(*layers)
    net(torch.zeros(1, *shape))  # materialise the lazy layers
    return net


def samples_per_s(net, shape, classes, batch, secs, warmup):
    """Training samples per second of `net` (SGD + momentum 0.9, cross-entropy) on 60,000 random
    float32 rows of `shape` prepared once, each epoch one permutation and each step its rows gathered
    by index (as bptrain does), gradients dropped (set_to_none); `warmup` steps before the clock."""
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = 60000
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=gen).float().div_(255.0)  # once
    y = torch.randint(0, classes, (n,), generator=gen)

    def batches():
        while True:
            perm = torch.randperm(n, generator=gen)
            for s in range(n // batch):
                yield perm[s * batch:(s + 1) * batch]

    def step(idx):
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x[idx]), y[idx]).backward()
        opt.step()

    it = batches()
    for _ in range(warmup):
        step(next(it))
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < secs:
        step(next(it))
        steps += 1
    return steps * batch / (time.perf_counter() - t0)
