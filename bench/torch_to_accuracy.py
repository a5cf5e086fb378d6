#!/usr/bin/python3
"""PyTorch's time to a test accuracy on Fashion-MNIST, one process, for scripts/time_to_accuracy.sh.
  torch_to_accuracy.py DIR TARGET MAX_EPOCHS [OPTIMIZER LR BATCH THREADS]
The same MLP as bptrain's main job (784-512-256-10, ReLU, PyTorch's default init), cross-entropy,
the data as float32 in [0, 1] prepared once before the clock starts (the IDX files read and divided
by 255), a fresh permutation each epoch, and the whole test set evaluated after every epoch (its time
counted). Prints one line per epoch and, at the end, `torch reached=0.8812 epoch=4 seconds=...` (the
training-and-evaluation time at the end of the first epoch at or above TARGET; reached=none if never)."""
import gzip
import struct
import sys
import time

import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


d, target, max_epochs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
opt_name, lr, batch, threads = (sys.argv[4:8] + ["adam", "0.001", "128", "2"][len(sys.argv[4:8]):])
lr, batch, threads = float(lr), int(batch), int(threads)
torch.set_num_threads(threads)
torch.manual_seed(42)
xtr = idx(f"{d}/train-images-idx3-ubyte.gz").reshape(-1, 784).float().div_(255.0).contiguous()
ytr = idx(f"{d}/train-labels-idx1-ubyte.gz").long()
xte = idx(f"{d}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).float().div_(255.0).contiguous()
yte = idx(f"{d}/t10k-labels-idx1-ubyte.gz").long()
net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256), torch.nn.ReLU(),
                          torch.nn.Linear(256, 10))
opt = (torch.optim.Adam(net.parameters(), lr=lr) if opt_name == "adam" else
       torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9))
loss_fn = torch.nn.CrossEntropyLoss()
n = xtr.shape[0]
start = time.perf_counter()
reached = None
for epoch in range(1, max_epochs + 1):
    net.train()
    perm = torch.randperm(n)
    for s in range(0, n, batch):
        i = perm[s:s + batch]
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xtr[i]), ytr[i]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(xte).argmax(1) == yte).float().mean().item()
    el = time.perf_counter() - start
    print(f"epoch {epoch} test_accuracy {acc:.4f} {el:.2f}s", flush=True)
    if acc >= target:
        reached = (acc, epoch, el)
        break
if reached:
    print(f"torch reached={reached[0]:.4f} epoch={reached[1]} seconds={reached[2]:.2f}")
else:
    print(f"torch reached=none epochs={max_epochs} seconds={time.perf_counter() - start:.2f}")
