#!/usr/bin/python3
"""PyTorch's time to a test accuracy on Fashion-MNIST, one process, for scripts/time_to_accuracy.sh.
  torch_to_accuracy.py DIR TARGET MAX_EPOCHS [OPTIMIZER LR BATCH THREADS NORMALIZE COSINE_EPOCHS
                       LAYERS DROPOUT FLIP]
The same MLP as bptrain's main job (784-512-256-10, ReLU, PyTorch's default init) or, with LAYERS in
bptrain's --layers grammar (bench/torch_layers.py; "dense:512,dense:256" is the MLP), that network on
1x28x28 images, with Dropout(DROPOUT) after each dense hidden layer (--dropout) and, with FLIP=1, each
training sample mirrored left-right with probability 1/2 at each step (--augment-flip); cross-entropy,
the data as float32 prepared once before the clock starts (the IDX files read and divided by 255;
NORMALIZE=standard then subtracts each pixel's training-set mean and divides by its standard
deviation, as bptrain's --normalize standard does), a fresh permutation each epoch, the learning rate
constant or, with COSINE_EPOCHS=E > 0, decayed per step from LR to 0 over E epochs (bptrain's
--lr-schedule cosine --epochs E), and the whole test set evaluated after every epoch (its time
counted). Prints one line per epoch and, at the end, `torch reached=0.8812 epoch=4 seconds=...` (the
training-and-evaluation time at the end of the first epoch at or above TARGET; reached=none if never)."""
import gzip
import os
import struct
import sys
import time

# The threads asked for (THREADS), set before torch loads its OpenMP and BLAS runtimes, and again below.
DEFAULTS = ["adam", "0.001", "128", "2", "unit", "0", "dense:512,dense:256", "0", "0"]
_threads = (sys.argv[4:13] + DEFAULTS[len(sys.argv[4:13]):])[3]
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[v] = _threads
import torch  # noqa: E402
from torch_layers import build  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


d, target, max_epochs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
opt_name, lr, batch, threads, normalize, cosine_epochs, layers, dropout, flip = (
    sys.argv[4:13] + DEFAULTS[len(sys.argv[4:13]):])
lr, batch, threads, cosine_epochs = float(lr), int(batch), int(threads), int(cosine_epochs)
dropout, flip = float(dropout), flip == "1"
torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
torch.manual_seed(42)
xtr = idx(f"{d}/train-images-idx3-ubyte.gz").reshape(-1, 784).float().div_(255.0).contiguous()
ytr = idx(f"{d}/train-labels-idx1-ubyte.gz").long()
xte = idx(f"{d}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).float().div_(255.0).contiguous()
yte = idx(f"{d}/t10k-labels-idx1-ubyte.gz").long()
if normalize == "standard":
    mean, var = xtr.double().mean(0), xtr.double().var(0, unbiased=False)
    scale = torch.where(var > 1e-12, var.rsqrt(), torch.ones_like(var))
    xtr = ((xtr.double() - mean) * scale).float().contiguous()
    xte = ((xte.double() - mean) * scale).float().contiguous()
elif normalize != "unit":
    sys.exit(f"unknown NORMALIZE {normalize} (unit, standard)")
image = any(not item.startswith("dense:") for item in layers.split(","))
shape = (1, 28, 28) if image else (784,)
xtr, xte = xtr.reshape(-1, *shape), xte.reshape(-1, *shape)
if flip and not image:
    sys.exit("FLIP=1 needs image LAYERS (a conv or pooling layer)")
net = build(layers, shape, 10, dropout)
opt = (torch.optim.Adam(net.parameters(), lr=lr) if opt_name == "adam" else
       torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9))
loss_fn = torch.nn.CrossEntropyLoss()
n = xtr.shape[0]
sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, cosine_epochs * ((n + batch - 1) // batch))
         if cosine_epochs > 0 else None)
start = time.perf_counter()
reached = None
for epoch in range(1, max_epochs + 1):
    net.train()
    perm = torch.randperm(n)
    for s in range(0, n, batch):
        i = perm[s:s + batch]
        opt.zero_grad(set_to_none=True)
        x = xtr[i]
        if flip:
            x = torch.where((torch.rand(x.shape[0]) < 0.5).view(-1, 1, 1, 1), x.flip(-1), x)
        loss_fn(net(x), ytr[i]).backward()
        opt.step()
        if sched:
            sched.step()
    net.eval()
    with torch.no_grad():
        acc = sum((net(xte[s:s + 1000]).argmax(1) == yte[s:s + 1000]).sum().item()
                  for s in range(0, xte.shape[0], 1000)) / xte.shape[0]
    el = time.perf_counter() - start
    print(f"epoch {epoch} test_accuracy {acc:.4f} {el:.2f}s", flush=True)
    if acc >= target:
        reached = (acc, epoch, el)
        break
if reached:
    print(f"torch reached={reached[0]:.4f} epoch={reached[1]} seconds={reached[2]:.2f}")
else:
    print(f"torch reached=none epochs={max_epochs} seconds={time.perf_counter() - start:.2f}")
