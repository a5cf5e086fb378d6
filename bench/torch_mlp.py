#!/usr/bin/env python3
"""PyTorch's training throughput for an MLP, for bench/run_all.sh to compare with: PyTorch at its best
on one thread, doing no per-step work that bptrain does not also do.
  torch_mlp.py SIZES BATCH SECONDS      e.g. 784,512,256,10 256 5
nn.Sequential (ReLU), SGD + momentum 0.9, cross-entropy. The data are float32 in [0, 1], prepared once
before timing (bptrain converts bytes as it assembles a batch, so this side is spared that work); each
epoch draws one permutation and each step gathers its rows by index (as bptrain does); gradients are
dropped, not zeroed (zero_grad(set_to_none=True)). Prints: torch sizes=... batch=... samples_per_s=..."""
import os
import sys

# One thread everywhere, set before torch loads its OpenMP and BLAS runtimes: torch.set_num_threads(1)
# alone left this side at 46-50k samples/s on 784-512-256-10 where these variables give 70-73k.
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[v] = "1"
import torch  # noqa: E402
from torch_layers import samples_per_s  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
sizes = [int(v) for v in sys.argv[1].split(",")]
batch, secs = int(sys.argv[2]), float(sys.argv[3])
layers = []
for i in range(len(sizes) - 1):
    layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
    if i + 2 < len(sizes):
        layers.append(torch.nn.ReLU())
net = torch.nn.Sequential(*layers)
sps = samples_per_s(net, (sizes[0],), sizes[-1], batch, secs, warmup=10)
print(f"torch sizes={sys.argv[1]} batch={batch} samples_per_s={sps:.1f}")
