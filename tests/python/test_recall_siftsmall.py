"""Recall sanity on the real siftsmall set (10k × 128, L2), against its official ground truth.

Floors sit a few points under what the implementation measures (printed) and well above what a broken rotation,
codebook or rerank gives (1-bit-level recall); more bits must never lose recall.
"""
from __future__ import annotations

import numpy as np
import pytest
import tqsearch
from testutil import recall_at

FLOORS = {  # description: minimum 10-recall@10
    "TQ1": 0.35,
    "TQ2": 0.60,
    "TQ3": 0.75,
    "TQ4": 0.83,
    "TQ4,QJL": 0.80,
    "TQ2,RFlat": 0.95,
    "TQ4,RFlat": 0.99,
}


@pytest.fixture(scope="module")
def sift(siftsmall):
    def read(name):
        raw = np.fromfile(siftsmall / name, dtype="<i4")
        return raw.reshape(-1, int(raw[0]) + 1)[:, 1:]
    return read("base.fvecs").view("<f4").copy(), read("query.fvecs").view("<f4").copy(), read("groundtruth.ivecs")


@pytest.fixture(scope="module")
def recalls(sift):
    xb, xq, gt = sift
    out = {}
    for desc in FLOORS:
        index = tqsearch.index_factory(128, desc, "l2")
        index.add(xb)
        _, I = index.search(xq, 10)
        out[desc] = (recall_at(I, gt, 10), float((I[:, 0] == gt[:, 0]).mean()))
        print(f"siftsmall {desc:10s} 10-recall@10 {out[desc][0]:.3f} recall@1 {out[desc][1]:.3f}")
    return out


@pytest.mark.parametrize("description", list(FLOORS))
def test_recall_at_10_reaches_its_floor(recalls, description):
    assert recalls[description][0] >= FLOORS[description]


def test_more_bits_never_lose_recall(recalls):
    r = [recalls[f"TQ{b}"][0] for b in (1, 2, 3, 4)]
    assert r == sorted(r)


def test_exact_rerank_beats_the_code_alone(recalls):
    assert recalls["TQ2,RFlat"][0] > recalls["TQ2"][0]
    assert recalls["TQ4,RFlat"][0] > recalls["TQ4"][0]


def test_saved_index_gives_the_same_recall(tmp_path, sift, recalls):
    xb, xq, gt = sift
    index = tqsearch.index_factory(128, "TQ4", "l2")
    index.add(xb)
    tqsearch.write_index(index, tmp_path / "sift.tqs")
    _, I = tqsearch.read_index(tmp_path / "sift.tqs").search(xq, 10)
    assert recall_at(I, gt, 10) == recalls["TQ4"][0]
