#!/usr/bin/env python3
"""PyTorch's training throughput for an MLP, for bench/run_all.sh to compare with.
  torch_mlp.py SIZES BATCH SECONDS      e.g. 784,512,256,10 256 5
Trains nn.Sequential (ReLU) with SGD + momentum 0.9 on in-memory data (uint8 -> float per batch, as
bptrain does), one thread. Prints: torch sizes=... batch=... samples_per_s=..."""
import sys
import time

import torch

torch.set_num_threads(1)
sizes = [int(v) for v in sys.argv[1].split(",")]
batch, secs = int(sys.argv[2]), float(sys.argv[3])
layers = []
for i in range(len(sizes) - 1):
    layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
    if i + 2 < len(sizes):
        layers.append(torch.nn.ReLU())
net = torch.nn.Sequential(*layers)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
n = 60000
x8 = torch.randint(0, 256, (n, sizes[0]), dtype=torch.uint8)
y = torch.randint(0, sizes[-1], (n,))
loss_fn = torch.nn.CrossEntropyLoss()


def step(i):
    idx = torch.randint(0, n, (batch,))
    xb = x8[idx].float().div_(255.0)
    opt.zero_grad()
    loss = loss_fn(net(xb), y[idx])
    loss.backward()
    opt.step()


for i in range(10):
    step(i)
t0, steps = time.perf_counter(), 0
while time.perf_counter() - t0 < secs:
    step(steps)
    steps += 1
el = time.perf_counter() - t0
print(f"torch sizes={sys.argv[1]} batch={batch} samples_per_s={steps * batch / el:.1f}")
