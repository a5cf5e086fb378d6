#!/usr/bin/env python3
"""PyTorch's training throughput for a CNN given in bptrain's --layers grammar, for bench/cnn.sh to
compare with: PyTorch at its best on one thread (OMP, MKL and OpenBLAS threads set before torch loads;
Debian's PyTorch runs conv through oneDNN), doing no per-step work that bptrain does not also do.
  torch_cnn.py LAYERS C,H,W CLASSES BATCH SECONDS     e.g. conv5:32,maxpool2,dense:256 1,28,28 10 128 5
The same layers as bptrain's (bench/torch_layers.py), ReLU, SGD + momentum 0.9, cross-entropy;
float32 NCHW tensors prepared once; each epoch one permutation, each step gathers its rows by index (as bptrain does); gradients dropped,
not zeroed (set_to_none=True). Prints: torch layers=... batch=... samples_per_s=..."""
import os
import sys

for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[v] = "1"
import torch  # noqa: E402
from torch_layers import build, samples_per_s  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


def main():
    text, shape = sys.argv[1], tuple(int(v) for v in sys.argv[2].split(","))
    classes, batch, secs = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    net = build(text, shape, classes)
    sps = samples_per_s(net, shape, classes, batch, secs, warmup=5)
    print(f"torch layers={text} batch={batch} samples_per_s={sps:.1f}")


if __name__ == "__main__":
    main()
