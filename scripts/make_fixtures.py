#!/usr/bin/env python3
"""Writes the tiny committed fixtures in tests/data (plain Python, seeded; run from the repo root):
  fmnist200-{images-idx3,labels-idx1}-ubyte.gz  the first 200 Fashion-MNIST training samples (MIT licence)
  blobs.csv      300 rows, 4 features, 3 classes, with a header, label column "class" in the middle
  linear.csv     200 rows, 3 features, a float regression target in the last column, no header
"""
import gzip
import random
import struct

SRC = "/usr/share/datasets/fashion-mnist/train-"


def idx_subset(n):
    with gzip.open(SRC + "images-idx3-ubyte.gz") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        images = f.read(n * rows * cols)
    with gzip.open(SRC + "labels-idx1-ubyte.gz") as f:
        f.read(8)
        labels = f.read(n)
    with gzip.GzipFile("tests/data/fmnist200-images-idx3-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">IIII", magic, n, rows, cols) + images)
    with gzip.GzipFile("tests/data/fmnist200-labels-idx1-ubyte.gz", "wb", mtime=0) as f:
        f.write(struct.pack(">II", 0x801, n) + labels)


def blobs():
    rnd = random.Random(7)
    centres = [(0, 0, 5, 1), (4, 4, 0, -2), (-4, 3, -3, 2)]
    with open("tests/data/blobs.csv", "w") as f:
        f.write("a,b,class,c,d\n")
        for _ in range(300):
            k = rnd.randrange(3)
            x = [c + rnd.gauss(0, 1) for c in centres[k]]
            f.write(f"{x[0]:.4f},{x[1]:.4f},{k},{x[2]:.4f},{x[3]:.4f}\n")


def linear():
    rnd = random.Random(11)
    with open("tests/data/linear.csv", "w") as f:
        for _ in range(200):
            x = [rnd.uniform(-1, 1) for _ in range(3)]
            y = 2 * x[0] - x[1] + 0.5 * x[2] + 0.25 + rnd.gauss(0, 0.01)
            f.write(",".join(f"{v:.5f}" for v in x + [y]) + "\n")


if __name__ == "__main__":
    idx_subset(200)
    blobs()
    linear()
