"""Trains the MRZ glyph classifier on the inputs `glyph_features` computed
from `gen.py`'s strips, compares it with the alternatives on the held-out
set, and writes the chosen network as `GLM1` (see `stages/src/ocr/model.rs`).

python3 train.py --train A.feat [B.feat ...] --heldout H.feat --out model.bin [--hidden 128]
Seeded and deterministic (one BLAS thread).
"""

import argparse
import json
import os
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
INPUTS = 16 * 22 + 1


def load(path):
    rec = np.dtype([("c", "u1"), ("x", "<f4", (INPUTS,))])
    a = np.fromfile(path, dtype=rec)
    return a["x"].astype(np.float32), a["c"].astype(np.int64)


def cell_tags(strips_json, strips_path):
    """The held-out lines' presets, one per cell (cell counts from the strips file)."""
    tags = [json.loads(l)["preset"] for l in open(strips_json)]
    counts = []
    b = open(strips_path, "rb").read()
    at = 0
    while at + 8 <= len(b):
        w, n = struct.unpack_from("<II", b, at)
        at += 8 + w * 60 + 5 * n
        if at > len(b):
            break
        counts.append(n)
    return np.array([t for t, n in zip(tags, counts) for _ in range(n)])


class Mlp:
    def __init__(self, sizes, rng):
        self.W = [rng.standard_normal((o, i)).astype(np.float32) * np.sqrt(2.0 / i) for i, o in zip(sizes, sizes[1:])]
        self.b = [np.zeros(o, np.float32) for o in sizes[1:]]

    def forward(self, x):
        acts = [x]
        for k, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W.T + b
            if k + 1 < len(self.W):
                z = np.maximum(z, 0)
            acts.append(z)
        return acts

    def probs(self, x):
        z = self.forward(x)[-1]
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def train(self, x, y, rng, epochs, batch=512, lr=2e-3, decay=1e-5):
        params = self.W + self.b
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        t = 0
        n = len(x)
        for epoch in range(epochs):
            order = rng.permutation(n)
            rate = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
            loss = 0.0
            for s in range(0, n, batch):
                idx = order[s : s + batch]
                xb, yb = x[idx], y[idx]
                acts = self.forward(xb)
                z = acts[-1]
                z = z - z.max(axis=1, keepdims=True)
                e = np.exp(z)
                p = e / e.sum(axis=1, keepdims=True)
                loss += -np.log(p[np.arange(len(yb)), yb] + 1e-9).sum()
                g = p
                g[np.arange(len(yb)), yb] -= 1
                g /= len(yb)
                gW, gb = [None] * len(self.W), [None] * len(self.W)
                for k in range(len(self.W) - 1, -1, -1):
                    gW[k] = g.T @ acts[k] + decay * self.W[k]
                    gb[k] = g.sum(axis=0)
                    if k > 0:
                        g = (g @ self.W[k]) * (acts[k] > 0)
                grads = gW + gb
                t += 1
                for i, (pp, gg) in enumerate(zip(params, grads)):
                    m[i] = 0.9 * m[i] + 0.1 * gg
                    v[i] = 0.999 * v[i] + 0.001 * gg * gg
                    mh = m[i] / (1 - 0.9**t)
                    vh = v[i] / (1 - 0.999**t)
                    pp -= rate * mh / (np.sqrt(vh) + 1e-8)
            print(f"  epoch {epoch + 1}/{epochs}: loss {loss / n:.4f}", file=sys.stderr, flush=True)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"GLM1")
            f.write(struct.pack("<I", len(self.W)))
            for W, b in zip(self.W, self.b):
                f.write(struct.pack("<II", W.shape[1], W.shape[0]))
                f.write(W.astype("<f4").tobytes())
                f.write(b.astype("<f4").tobytes())


def knn_predict(train_x, train_y, x, k, dims, rng):
    """k-NN on the first `dims` principal components (cosine-free, Euclidean)."""
    mean = train_x.mean(axis=0)
    sub = train_x[rng.choice(len(train_x), min(20000, len(train_x)), replace=False)] - mean
    _, _, vt = np.linalg.svd(sub, full_matrices=False)
    P = vt[:dims].T
    a = (train_x - mean) @ P
    b = (x - mean) @ P
    an = (a * a).sum(axis=1)
    out = np.zeros((len(x), 37), np.float32)
    for s in range(0, len(b), 2000):
        d = an[None, :] - 2 * b[s : s + 2000] @ a.T
        nn = np.argpartition(d, k, axis=1)[:, :k]
        for j in range(k):
            out[np.arange(s, s + len(nn)), train_y[nn[:, j]]] += 1.0 / k
    return out


def report(name, probs, y, tags, table):
    pred = probs.argmax(axis=1)
    row = {"model": name, "all": float((pred == y).mean())}
    for t in sorted(set(tags)):
        sel = tags == t
        row[t] = float((pred[sel] == y[sel]).mean())
    table.append(row)
    top2 = np.sort(probs, axis=1)
    margin = top2[:, -1] - top2[:, -2]
    for m in (0.2, 0.5, 0.8):
        sure = margin >= m
        wrong_sure = ((pred != y) & sure).sum()
        print(f"  {name}: margin >= {m}: {sure.mean() * 100:.1f}% of cells, {wrong_sure} wrong among them", file=sys.stderr)
    conf = {}
    for a, b in zip(y[pred != y], pred[pred != y]):
        key = ALPHABET[a] + ">" + ALPHABET[b]
        conf[key] = conf.get(key, 0) + 1
    print(f"  {name}: confusions {sorted(conf.items(), key=lambda kv: -kv[1])[:12]}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--heldout-strips", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hidden", type=int, nargs="+", default=[128])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--alternatives", action="store_true")
    ap.add_argument("--table", help="write the comparison table (JSON) here")
    a = ap.parse_args()
    rng = np.random.default_rng(16)
    xs, ys = zip(*(load(p) for p in a.train))
    x, y = np.concatenate(xs), np.concatenate(ys)
    hx, hy = load(a.heldout)
    tags = cell_tags(a.heldout_strips + ".json", a.heldout_strips)
    print(f"training cells {len(x)}, held-out cells {len(hx)}", file=sys.stderr)
    table = []
    if a.alternatives:
        t = time.time()
        means = np.stack([x[y == c].mean(axis=0) for c in range(37)])
        d = ((hx[:, None, :] - means[None]) ** 2).sum(axis=2)
        report("nearest class mean", np.exp(-(d - d.min(axis=1, keepdims=True)) / 2.0), hy, tags, table)
        for k, dims in ((1, 48), (5, 48)):  # on 60k training cells
            sub = rng.choice(len(x), min(60000, len(x)), replace=False)
            p = knn_predict(x[sub], y[sub], hx, k, dims, rng)
            report(f"k-NN k={k} PCA-{dims}", p, hy, tags, table)
        for hidden in ([64], [256, 128]):
            net = Mlp([INPUTS] + hidden + [37], np.random.default_rng(1))
            net.train(x, y, np.random.default_rng(2), a.epochs)
            report(f"MLP {INPUTS}-{'-'.join(map(str, hidden))}-37", net.probs(hx), hy, tags, table)
        print(f"alternatives: {time.time() - t:.0f} s", file=sys.stderr)
    net = Mlp([INPUTS] + a.hidden + [37], np.random.default_rng(1))
    net.train(x, y, np.random.default_rng(2), a.epochs)
    report(f"MLP {INPUTS}-{'-'.join(map(str, a.hidden))}-37 (kept)", net.probs(hx), hy, tags, table)
    net.save(a.out)
    cols = ["all"] + sorted(set(tags))
    print("| model | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for row in table:
        print(f"| {row['model']} | " + " | ".join(f"{100 * row[c]:.2f}" for c in cols) + " |")
    if a.table:
        json.dump(table, open(a.table, "w"), indent=1)


if __name__ == "__main__":
    main()
