"""bench/compare.py's tqsearch spec strings: "<factory>@key=value/key=value" set the index's search defaults."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import tqsearch

COMPARE = Path(__file__).resolve().parents[2] / "bench" / "compare.py"


@pytest.fixture(scope="module")
def compare():
    if not COMPARE.exists():
        pytest.skip(f"{COMPARE} not found (tests run outside the repository)")
    spec = importlib.util.spec_from_file_location("tq_bench_compare", COMPARE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)  # only definitions run at import; no benchmark
        yield module
    finally:
        del sys.modules[spec.name]


def test_spec_search_defaults_are_parsed_with_their_types(compare):
    factory, settings = compare.parse_tqsearch_spec("TQ4,Scan2@prefix_z=0/lut_max=63")
    assert factory == "TQ4,Scan2"
    assert settings == {"prefix_z": 0.0, "lut_max": 63}
    assert type(settings["lut_max"]) is int and type(settings["prefix_z"]) is float
    factory, settings = compare.parse_tqsearch_spec("TQ4@estimator=mse/rerank_factor=8/lut_z=1e9/query_batch=2")
    assert factory == "TQ4"
    assert settings == {"estimator": "mse", "rerank_factor": 8, "lut_z": 1e9, "query_batch": 2}
    assert compare.parse_tqsearch_spec("TQ4,MSE") == ("TQ4,MSE", {})


@pytest.mark.parametrize("spec, message", [
    ("TQ4@lut_max=63.0", r"lut_max must be int, got '63.0'"),
    ("TQ4@lut_max", r"'lut_max' is not key=value"),
    ("TQ4@lut_maks=63", r"unknown search parameter 'lut_maks'; allowed: .*lut_max"),
    ("TQ4@prefix_z=zero", r"prefix_z must be float, got 'zero'"),
])
def test_malformed_spec_search_defaults_are_rejected_with_the_spec_named(compare, spec, message):
    with pytest.raises(ValueError, match=message) as err:
        compare.parse_tqsearch_spec(spec)
    assert repr(spec) in str(err.value)


def test_spec_builds_an_index_with_those_search_defaults(compare, rng):
    xb = rng.standard_normal((300, 32)).astype(np.float32)
    ds = compare.Dataset("tiny", xb, xb[:5], np.zeros((5, 100), np.int64), "l2", "test")
    (method,) = compare.tqsearch_methods(tqsearch, 32, [4], ["TQ4,Scan2@prefix_z=0/lut_max=63/lut_z=1.5"])
    index = method.build(ds)
    assert index.ntotal == 300 and index.scan_bits == 2
    p = index.search_params
    assert (p["prefix_z"], p["lut_max"], p["lut_z"]) == (0.0, 63, 1.5)
    with pytest.raises(ValueError, match="lut_max must be 63, 127 or 255, got 64"):
        compare.tqsearch_methods(tqsearch, 32, [4], ["TQ4@lut_max=64"])[0].build(ds)


@pytest.mark.parametrize("d, b, metric, expected", [
    (100, 4, "ip", ["TQ3.84,Norm16,Fold", "TQ3.84,Center,Norm16,Fold"]),  # 48 B of indices + 2 B = PQ50x8
    (128, 4, "l2", ["TQ3.625,Center,Norm16"]),  # 58 B + ‖x‖ (f16) + ρ (f32) = PQ64x8's 64 B
    (100, 1, "ip", []),  # 12.5 B: not a whole number of bytes
    (16, 1, "l2", []),  # 2 B: nothing left for the indices
])
def test_equal_bytes_specs_fit_the_8_bit_pq_budget(compare, d, b, metric, expected):
    specs = compare.equal_bytes_specs(tqsearch, d, b, metric)
    assert specs == expected
    for s in specs:
        assert tqsearch.index_factory(d, s, metric).code_size == d * b // 8


def test_goal_lines_compare_the_best_row_that_fits_each_pq_budget(compare):
    def row(lib, fam, spec, bits, nbytes, r10):
        return {"library": lib, "family": fam, "spec": spec, "bits_per_coordinate": bits, "bytes_per_vector": nbytes,
                "recall_at_10": r10, "recall_at_1": r10, "threads": 1, "build_seconds": 1.0}
    doc = {"results": [row("tqsearch", "TQ", "TQ4", 4, 58, 0.864),  # better, but does not fit in 50 B
                       row("tqsearch", "TQ", "TQ3.84,Norm16,Fold", 3.84, 50, 0.840),
                       row("tqsearch", "TQ", "TQ3.84,Center,Norm16,Fold", 3.84, 50, 0.855),
                       row("faiss", "PQ", "PQ50x8", 4, 50, 0.851),
                       row("faiss", "PQ", "PQ25x8", 2, 25, 0.574)]}
    lines = [l for l in compare.goals_text(doc) if "equal bytes" in l]
    assert len(lines) == 1  # nothing of ours fits PQ25x8's 25 B
    assert "TQ3.84,Center,Norm16,Fold (50 B): 10-R@10 0.855 vs PQ50x8 0.851: +0.4 pts (goal ≥: met)" in lines[0]
