#!/usr/bin/env python3
"""Writes small CSV tables to try bptrain on "your own data" (README, "Your own data"): seeded, synthetic,
with named columns, as a spreadsheet or pandas would save them.

  python3 scripts/example_tables.py [DIR]      (default: the current directory)

  my.csv          1,500 rows: 8 measurements and a class column (0, 1, 2)
  new.csv           500 more rows like them, another draw (new labelled data)
  unlabelled.csv    the rows of new.csv without the class column (data to predict)
  houses.csv      1,000 rows: 5 features and a price near 250,000 (regression)
  houses_new.csv    300 more rows like them
"""
import math
import os
import random
import sys

FEATURES = ["length", "width", "height", "weight", "age", "speed", "temperature", "pressure"]


def classes(rng, n):
    rows = []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in FEATURES]
        # three classes from two noisy, non-linear scores
        s1 = x[0] + 0.8 * x[1] * x[2] - 0.5 * x[3] + rng.gauss(0, 0.6)
        s2 = math.sin(x[4]) + 0.7 * x[5] - 0.4 * x[6] * x[7] + rng.gauss(0, 0.6)
        label = 0 if s1 < -0.3 else (1 if s2 < 0.2 else 2)
        # measurements in their own units and scales, as tables have them
        scaled = [10 + 2 * x[0], 4 + 0.5 * x[1], 120 + 15 * x[2], 70 + 12 * x[3], 40 + 12 * x[4], 3 + x[5],
                  20 + 5 * x[6], 1013 + 8 * x[7]]
        rows.append(scaled + [label])
    return rows


def houses(rng, n):
    rows = []
    for _ in range(n):
        area, rooms, year, dist, lot = rng.uniform(40, 220), rng.randint(1, 7), rng.randint(1950, 2024), \
            rng.uniform(0.5, 30), rng.uniform(100, 1500)
        price = 60000 + 1400 * area + 6000 * rooms + 900 * (year - 1950) - 2500 * dist + 20 * lot + rng.gauss(0, 9000)
        rows.append([area, rooms, year, dist, lot, price])
    return rows


def write(path, header, rows, drop_last=False):
    with open(path, "w") as f:
        f.write(",".join(header[:-1] if drop_last else header) + "\n")
        for r in rows:
            r = r[:-1] if drop_last else r
            f.write(",".join(str(v) if isinstance(v, int) else "%.4f" % v for v in r) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    rng = random.Random(2026)
    head = FEATURES + ["class"]
    write(os.path.join(out, "my.csv"), head, classes(rng, 1500))
    new = classes(rng, 500)
    write(os.path.join(out, "new.csv"), head, new)
    write(os.path.join(out, "unlabelled.csv"), head, new, drop_last=True)
    hhead = ["area", "rooms", "year", "distance_km", "lot", "price"]
    write(os.path.join(out, "houses.csv"), hhead, houses(rng, 1000))
    write(os.path.join(out, "houses_new.csv"), hhead, houses(rng, 300))
    print(f"{out}: my.csv, new.csv, unlabelled.csv, houses.csv, houses_new.csv")


if __name__ == "__main__":
    main()
