#!/usr/bin/env python3
"""Side-by-side benchmark: tqsearch against the newest FAISS from PyPI (faiss-cpu), one process, same data.

For every (method, bits) it measures bits/vector, build seconds (train + add), QPS with batched queries and
with nq = 1 at each thread count, recall@1, 10-recall@10, 100-recall@100, recall@1@k for k = 1..64 and the
peak resident memory added while building and searching. Output per dataset:

  bench/results/compare-<dataset>.json   same schema as `tqsearch bench` (+ extra fields, see below)
  bench/results/compare-<dataset>-recall1_at_k.png, -recall_qps.png, -build.png

and, with --results-md, a Markdown table rewritten into the section "## Side by side with the newest FAISS
(Python)" of bench/RESULTS.md (other sections are left alone).

Usage (from the repository root, in the venv of python/requirements-dev.txt):
  python bench/compare.py --datasets glove-100-angular,siftsmall --results-md bench/RESULTS.md
  python bench/compare.py --datasets clustered-1m-128 --nq 200          # generated sets: slow on 2 cores
  python bench/compare.py --plots-only                                   # redraw from the JSON files

Timing notes: every index is built first (build = train + add at the largest thread count; builds under 10 s
are repeated in every round and the best kept; a k = --k-timing search of all queries gives R@1 and 10-R@10 at
the timed operating point, a k = 100 search R@100, recall@1@k and peak memory),
then timed in --rounds interleaved rounds (all
methods, all thread counts, alternating order), keeping the best round: load from other processes then hits
every method alike. QPS is at k = --k-timing (10); a batched call takes about --time-budget seconds (slow
methods are timed on a prefix of >= 50 queries); nq = 1 loops over --nq1 queries from Python (a few µs of call
overhead each, the same for both libraries). Compare ratios within one run, not absolute numbers across runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SECTION = "## Side by side with the newest FAISS (Python)"
RECALL1_KS = [1, 2, 4, 8, 16, 32, 64]

# ----------------------------------------------------------------------------------------------- data


def read_vecs(path: Path, dtype: str) -> np.ndarray:
    """TEXMEX .fvecs/.ivecs: per row int32 dim then dim values (little endian)."""
    raw = np.fromfile(path, dtype="<i4")
    if raw.size == 0:
        raise ValueError(f"{path}: empty file")
    d = int(raw[0])
    if d <= 0 or raw.size % (d + 1) != 0:
        raise ValueError(f"{path}: size {raw.size * 4} bytes is not a whole number of rows of dim {d}")
    rows = raw.reshape(-1, d + 1)
    if not (rows[:, 0] == d).all():
        raise ValueError(f"{path}: rows with a dimension other than {d}")
    return np.ascontiguousarray(rows[:, 1:].view(dtype))


@dataclass
class Dataset:
    name: str
    xb: np.ndarray  # (nb, d) float32
    xq: np.ndarray  # (nq, d) float32
    gt: np.ndarray  # (nq, >=100) int64 exact neighbors
    metric: str  # "ip" or "l2"
    source: str


def exact_gt(faiss, xb: np.ndarray, xq: np.ndarray, metric: str, k: int = 100) -> np.ndarray:
    index = faiss.IndexFlatIP(xb.shape[1]) if metric == "ip" else faiss.IndexFlatL2(xb.shape[1])
    index.add(xb)
    _, ids = index.search(xq, k)
    return ids


def make_clustered(n: int, nq: int, d: int, n_clusters: int, rank: int, normalize: bool, seed: int):
    """Gaussian mixture with anisotropic clusters: center + U_j·diag(s)·z + small isotropic noise, with
    U_j a random (d, rank) basis and s decaying (s_i ∝ 1/√(1+i)), cluster sizes Zipf-like. Queries are drawn
    from the same mixture. With normalize, rows are scaled to unit norm (text-embedding-like, metric ip)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, d)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    centers *= 2.0
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.5
    weights /= weights.sum()
    total = n + nq
    labels = rng.choice(n_clusters, size=total, p=weights)
    out = np.empty((total, d), dtype=np.float32)
    scales = (1.0 / np.sqrt(1.0 + np.arange(rank))).astype(np.float32)
    for j in range(n_clusters):
        rows = np.flatnonzero(labels == j)
        if rows.size == 0:
            continue
        basis, _ = np.linalg.qr(rng.standard_normal((d, rank)).astype(np.float32))
        z = rng.standard_normal((rows.size, rank)).astype(np.float32) * scales
        noise = 0.05 * rng.standard_normal((rows.size, d)).astype(np.float32)
        out[rows] = centers[j] + z @ basis.T.astype(np.float32) * 0.7 + noise
    if normalize:
        out /= np.linalg.norm(out, axis=1, keepdims=True)
    perm = rng.permutation(total)
    out = out[perm]
    return np.ascontiguousarray(out[:n]), np.ascontiguousarray(out[n:])


GENERATED = {
    # name: (n, d, clusters, rank, normalize, metric, seed)
    "clustered-1m-128": (1_000_000, 128, 300, 24, False, "l2", 1234),
    "clustered-200k-1536": (200_000, 1536, 300, 96, True, "ip", 5678),
}


def load_dataset(faiss, name: str, data_dir: Path, cache_dir: Path, nq_max: int | None) -> Dataset:
    if name in GENERATED:
        n, d, nc, rank, normalize, metric, seed = GENERATED[name]
        cdir = cache_dir / name
        files = [cdir / f for f in ("base.npy", "query.npy", "gt.npy")]
        if all(f.exists() for f in files):
            xb, xq, gt = (np.load(f) for f in files)
        else:
            log(f"[{name}] generating {n} x {d} (seed {seed}) and exact ground truth ...")
            xb, xq = make_clustered(n, 1000, d, nc, rank, normalize, seed)
            gt = exact_gt(faiss, xb, xq, metric)
            cdir.mkdir(parents=True, exist_ok=True)
            for f, a in zip(files, (xb, xq, gt)):
                np.save(f, a)
        src = f"generated: {nc} anisotropic Gaussian clusters, rank {rank}, seed {seed}" + (
            ", unit norm" if normalize else "")
    else:
        ddir = data_dir / name
        if not ddir.is_dir():
            raise SystemExit(f"dataset directory {ddir} not found (datasets: ../shared/data/<name>)")
        xb = read_vecs(ddir / "base.fvecs", "<f4")
        xq = read_vecs(ddir / "query.fvecs", "<f4")
        gt = read_vecs(ddir / "groundtruth.ivecs", "<i4").astype(np.int64)
        readme = (ddir / "README.md").read_text(errors="replace") if (ddir / "README.md").exists() else ""
        metric = "ip" if ("angular" in name or re.search(r"metric[^\n]*\b(ip|inner)", readme, re.I)) else "l2"
        src = f"../shared/data/{name}"
    if nq_max is not None and nq_max < xq.shape[0]:
        xq, gt = xq[:nq_max], gt[:nq_max]
    return Dataset(name, np.ascontiguousarray(xb, dtype=np.float32), np.ascontiguousarray(xq, dtype=np.float32),
                   gt, metric, src)


# ------------------------------------------------------------------------------------------- methods


@dataclass
class Method:
    label: str  # unique, shown in tables and plots
    library: str  # "faiss" or "tqsearch"
    family: str  # grouping for colors: PQ, PQfs, SQ, FAISS-TQ, RaBitQ, HNSW, Flat, TQ
    bits: float | None  # nominal bits per coordinate (None: not a quantizer, e.g. Flat, HNSW)
    build: Callable[[Dataset], object]
    spec: str  # factory string (FAISS or tqsearch)
    notes: str = ""


def faiss_metric(faiss, metric: str):
    return faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2


def faiss_methods(faiss, d: int, bits_list: list[int], want_hnsw: bool = True) -> list[Method]:
    out: list[Method] = []

    def fac(spec, family, bits, setup=None, notes=""):
        def build(ds: Dataset, spec=spec, setup=setup):
            index = faiss.index_factory(ds.xb.shape[1], spec, faiss_metric(faiss, ds.metric))
            if setup:
                setup(index)
            if not index.is_trained:
                index.train(ds.xb)
            index.add(ds.xb)
            return index
        out.append(Method(spec if not notes else f"{spec} ({notes})", "faiss", family, bits, build, spec, notes))

    fac("Flat", "Flat", None)
    if want_hnsw:
        def hnsw_setup(index):
            faiss.downcast_index(index).hnsw.efConstruction = 80
        fac("HNSW32,Flat", "HNSW", None, hnsw_setup, "efSearch=128")
    for b in bits_list:
        if (d * b) % 8 == 0 and d % (d * b // 8) == 0:
            fac(f"PQ{d * b // 8}x8", "PQ", b)
        if (d * b) % 4 == 0 and d % (d * b // 4) == 0:
            fac(f"PQ{d * b // 4}x4fs", "PQfs", b)
        if b in (4, 8):
            fac(f"SQ{b}", "SQ", b)
        fac(f"HR,SQtqmse{b}", "FAISS-TQ", b)
        if b >= 2:
            fac(f"HR,SQtq{b}", "FAISS-TQ", b)
        if d & (d - 1):  # d not a power of two: HR pads; RR keeps d (no wasted bits)
            fac(f"RR,SQtqmse{b}", "FAISS-TQ", b)
        fac("HR,RaBitQfs" + ("" if b == 1 else str(b)), "RaBitQ", b)
        if b in (1, 4):
            fac("HR,RaBitQ" + ("" if b == 1 else str(b)), "RaBitQ", b)
    return out


# set_search_params keywords of IndexTurboQuant and the type of their values
TQSEARCH_SEARCH_KEYS = {"estimator": str, "rerank_factor": int, "rerank_min": int, "qjl_prune_z": float,
                        "query_batch": int, "prefix_z": float, "lut_max": int, "lut_z": float}


def parse_tqsearch_spec(spec: str) -> tuple[str, dict]:
    """"<factory>[@key=value[/key=value...]]" -> (factory string, set_search_params keyword arguments).

    e.g. "TQ4,Scan2@prefix_z=0/lut_max=63" -> ("TQ4,Scan2", {"prefix_z": 0.0, "lut_max": 63}). Keys are the
    set_search_params keywords (TQSEARCH_SEARCH_KEYS); integer keys (lut_max, rerank_factor, ...) take integers,
    the z's take any float ("1e9", "0.25"), estimator a name. Raises ValueError naming the spec on a malformed pair,
    an unknown key or a value of the wrong type (the range is checked by set_search_params)."""
    factory, _, search_defaults = spec.partition("@")
    settings = {}
    for kv in filter(None, search_defaults.split("/")):
        key, eq, value = kv.partition("=")
        if not eq or not value:
            raise ValueError(f"spec {spec!r}: {kv!r} is not key=value")
        kind = TQSEARCH_SEARCH_KEYS.get(key)
        if kind is None:
            raise ValueError(f"spec {spec!r}: unknown search parameter {key!r}; allowed: "
                             + ", ".join(TQSEARCH_SEARCH_KEYS))
        try:
            settings[key] = kind(value)
        except ValueError:
            raise ValueError(f"spec {spec!r}: {key} must be {kind.__name__}, got {value!r}") from None
    return factory, settings


def equal_bytes_specs(tqs, d: int, b: int, metric: str) -> list[str]:
    """Specs whose codes fit the bytes of an 8-bit PQ at b bits per coordinate (d·b/8 B), for the equal-bytes goal:
    a fractional rate plus the fewest per-vector bytes the metric allows. Inner product / cosine: ‖x‖/ρ folded into
    one float16 (",Norm16,Fold": 2 B), with and without centering; L2 (needs ‖x‖ and ρ: 6 B) centered. Empty when
    the budget is not a whole number of bytes or leaves less than 1 bit per coordinate."""
    if (d * b) % 8:
        return []
    budget = d * b // 8
    variants = ["Norm16,Fold", "Center,Norm16,Fold"] if metric in ("ip", "cosine") else ["Center,Norm16"]
    out = []
    for opts in variants:
        overhead = 2 if "Fold" in opts else 6
        rate = (budget - overhead) * 8 / d
        if rate < 1:
            continue
        spec = f"TQ{rate:.6g},{opts}"
        if tqs.index_factory(d, spec, metric).code_size <= budget:  # the rate's rounding must not overshoot
            out.append(spec)
    return out


def tqsearch_methods(tqs, d: int, bits_list: list[int], specs: list[str] | None,
                     metric: str = "ip") -> list[Method]:
    """Our indexes through the Python bindings (tqsearch.index_factory). Spec strings: see index/index_factory.h,
    optionally followed by search defaults (see parse_tqsearch_spec): "TQ4,Scan2@prefix_z=0" (set_search_params
    keyword=value pairs, '/' between several: "TQ4@rerank_factor=8/query_batch=2",
    "TQ4,Scan2@prefix_z=0/lut_max=63"; on the command line --tq-specs splits at commas, so write
    TQ4+Scan2@prefix_z=0/lut_max=63)."""
    if specs is None:
        specs = []
        for b in bits_list:
            # b bits per coordinate in all: renorm (default), plain mse, (b−1) mse bits + 1 QJL bit, exact rerank
            specs += [f"TQ{b}", f"TQ{b},MSE"] + ([f"TQ{b - 1},QJL"] if b >= 2 else []) + [f"TQ{b},RFlat"]
            if b >= 3:  # speed options: coarse LUT (same recall); 2-bit prefix scan on a coarse LUT, speed-leaning z
                specs += [f"TQ{b},Lut127", f"TQ{b},Scan2,Lut63@prefix_z=0.25"]
            if b >= 2:  # the bytes of PQ{d·b/8}x8 in all (equal-bytes goal line)
                specs += equal_bytes_specs(tqs, d, b, metric)
    out = []
    for spec in specs:
        factory, settings = parse_tqsearch_spec(spec)
        m = re.search(r"TQ(\d+(?:\.\d+)?)", factory)
        bits = float(m.group(1)) if m else None
        if bits is not None and "QJL" in factory.split(","):
            bits += 1  # the QJL sketch spends one more bit per coordinate
        if bits is not None and bits == int(bits):
            bits = int(bits)

        def build(ds: Dataset, factory=factory, settings=settings):
            index = tqs.index_factory(ds.xb.shape[1], factory, ds.metric)
            if settings:
                index.set_search_params(**settings)
            if not index.is_trained:
                index.train(ds.xb)
            index.add(ds.xb)
            return index
        family = "TQ-RFlat" if "RFlat" in factory.split(",") else "TQ"
        out.append(Method(spec, "tqsearch", family, bits, build, spec,
                          "keeps raw vectors for an exact rerank" if family == "TQ-RFlat" else ""))
    return out


# ------------------------------------------------------------------------------------------- measuring


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_bytes(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def recalls(ids: np.ndarray, gt: np.ndarray) -> dict:
    nq = ids.shape[0]
    res = {}
    for k, key in ((1, "recall_at_1"), (10, "recall_at_10"), (100, "recall_at_100")):
        if ids.shape[1] >= k and gt.shape[1] >= k:
            hits = sum(np.intersect1d(ids[i, :k], gt[i, :k]).size for i in range(nq))
            res[key] = hits / (k * nq)
    # rank of the true nearest neighbor in the result list (k if absent)
    first = gt[:, :1]
    match = ids == first
    rank = np.where(match.any(axis=1), match.argmax(axis=1), ids.shape[1])
    curve = [float((rank < k).mean()) for k in range(1, 65)]
    res["recall1_at_k"] = {str(k): curve[k - 1] for k in RECALL1_KS}
    res["recall1_at_k_curve"] = curve
    return res


def time_batched(search: Callable, xq: np.ndarray, k: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one batched search call over xq (after a small warm-up).
    With one thread, CPU time is the work itself, unaffected by other processes taking the core."""
    search(xq[: min(16, len(xq))], k)
    c0, t0 = time.process_time(), time.perf_counter()
    search(xq, k)
    return time.perf_counter() - t0, time.process_time() - c0


def time_nq1(search: Callable, xq: np.ndarray, k: int) -> float:
    """Mean seconds per query when the queries of xq are searched one call each."""
    search(xq[:1], k)
    t0 = time.perf_counter()
    for i in range(len(xq)):
        search(xq[i:i + 1], k)
    return (time.perf_counter() - t0) / len(xq)


def faiss_bytes_per_vector(faiss, index, nb: int) -> tuple[float, int]:
    """(bytes per vector, serialized index size). Code size as FAISS reports it where the index has one
    (sa_code_size), else the serialized size / nb (HNSW: vectors + graph)."""
    ser = int(faiss.serialize_index(index).size)
    try:
        per = float(index.sa_code_size())
    except RuntimeError:
        per = ser / nb
    return per, ser


def tqs_bytes_per_vector(tqs, index, nb: int) -> tuple[float, int]:
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "i.tqs")
        tqs.write_index(index, p)
        ser = os.path.getsize(p)
    per = getattr(index, "bytes_per_vector", None)
    per = float(per() if callable(per) else per) if per is not None else ser / nb
    return per, ser


@dataclass
class Built:
    """A built index waiting for its timing rounds, with everything measured once."""
    method: Method
    index: object
    build_s: float  # best wall seconds over the builds done
    build_cpu: float  # process CPU seconds of that build
    rec: dict
    per: float
    ser: int
    peak: int | None
    n_time: int  # queries per batched timing call
    best_batch: dict = field(default_factory=dict)  # threads -> best seconds per query (batched)
    best_nq1: dict = field(default_factory=dict)  # threads -> best seconds per query (nq = 1)
    best_cpu: float = math.inf  # best process CPU seconds per query, batched, 1 thread


def set_threads(libs: dict, t: int) -> None:
    libs["faiss"].omp_set_num_threads(t)
    if libs.get("tqsearch") is not None:
        libs["tqsearch"].omp_set_num_threads(t)


def build_method(m: Method, ds: Dataset, libs: dict, threads: list[int], time_budget: float, k_timing: int) -> Built:
    """Build (train + add, timed), search all queries at k = k_timing (R@1 and 10-R@10: the operating point that
    is timed) and at k = 100 (R@100, recall@1@k), measure sizes and peak memory. The two differ for methods whose
    shortlist depends on k (a rerank list of k·factor, a bound against the k-th best)."""
    faiss, tqs = libs["faiss"], libs.get("tqsearch")
    set_threads(libs, max(threads))
    base_rss = rss_bytes("VmRSS")
    have_peak = reset_peak_rss()
    c0, t0 = time.process_time(), time.perf_counter()
    index = m.build(ds)
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    if m.library == "faiss" and "efSearch" in m.notes:
        faiss.downcast_index(index).hnsw.efSearch = int(m.notes.split("=")[1])
    t0 = time.perf_counter()
    _, ids = index.search(ds.xq, 100)
    per_query = (time.perf_counter() - t0) / len(ds.xq)
    rec = recalls(np.asarray(ids), ds.gt)
    _, ids_k = index.search(ds.xq, k_timing)
    rec_k = recalls(np.asarray(ids_k), ds.gt)
    for key in ("recall_at_1", "recall_at_10"):
        if key in rec_k:
            rec[key] = rec_k[key]
    peak = rss_bytes("VmHWM") - base_rss if have_peak else None
    if m.library == "faiss":
        per, ser = faiss_bytes_per_vector(faiss, index, ds.xb.shape[0])
    else:
        per, ser = tqs_bytes_per_vector(tqs, index, ds.xb.shape[0])
    # batched timing calls of about time_budget seconds (slow methods are timed on fewer queries)
    n_time = int(min(len(ds.xq), max(50, time_budget / max(per_query * max(threads), 1e-7))))
    log(f"  {m.label:34s} {per:7.1f} B/vec  build {build_s:8.2f}s  R@1 {rec['recall_at_1']:.3f}  "
        f"10R@10 {rec.get('recall_at_10', float('nan')):.3f}" + (f"  peak {peak / 2**20:.0f} MiB" if peak is not None
                                                                 else ""))
    return Built(m, index, build_s, build_cpu, rec, per, ser, peak, n_time)


def timing_rounds(built: list[Built], ds: Dataset, libs: dict, threads: list[int], k: int, nq1: int,
                  rounds: int, rebuild_below: float = 10.0) -> None:
    """Interleaved timing: every round times every index at every thread count, keeping the best of the rounds,
    so that load from other processes on a shared machine hits all methods alike."""
    for r in range(rounds):
        order = built if r % 2 == 0 else built[::-1]
        for b in order:
            if b.build_s < rebuild_below:  # cheap builds are repeated too: best wall time of the rounds
                set_threads(libs, max(threads))
                c0, t0 = time.process_time(), time.perf_counter()
                again = b.method.build(ds)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                del again
                if wall < b.build_s:
                    b.build_s, b.build_cpu = wall, cpu
            for t in threads:
                set_threads(libs, t)
                wall, cpu = time_batched(b.index.search, ds.xq[:b.n_time], k)
                b.best_batch[t] = min(b.best_batch.get(t, math.inf), wall / b.n_time)
                if t == 1:
                    b.best_cpu = min(b.best_cpu, cpu / b.n_time)
                per_q = time_nq1(b.index.search, ds.xq[:min(nq1, len(ds.xq))], k)
                b.best_nq1[t] = min(b.best_nq1.get(t, math.inf), per_q)
        log(f"  timing round {r + 1}/{rounds} done")


def result_rows(b: Built, ds: Dataset, threads: list[int], k: int, nq1: int, rounds: int) -> list[dict]:
    m, rec = b.method, b.rec
    out = []
    for t in threads:
        out.append({
            "spec": m.label, "threads": t, "bits_per_vector": 8 * b.per, "bytes_per_vector": b.per,
            "build_seconds": b.build_s, "build_cpu_seconds": b.build_cpu, "search_seconds": b.best_batch[t] * len(ds.xq),
            "qps": 1.0 / b.best_batch[t],
            **{key: rec[key] for key in ("recall_at_1", "recall_at_10", "recall_at_100") if key in rec},
            "recall1_at_k": rec["recall1_at_k"],
            # extra fields (not in the `tqsearch bench` schema)
            "library": m.library, "family": m.family, "factory": m.spec, "bits_per_coordinate": m.bits,
            "notes": m.notes, "qps_nq1": 1.0 / b.best_nq1[t],
            "qps_cpu_time": 1.0 / b.best_cpu if t == 1 and b.best_cpu > 0 else None, "nq1_queries": min(nq1, len(ds.xq)),
            "timed_queries": b.n_time, "timing_rounds": rounds, "k_timing": k,
            "build_threads": max(threads), "index_file_bytes": b.ser, "peak_memory_bytes": b.peak,
            "recall1_at_k_curve": rec["recall1_at_k_curve"],
        })
    log(f"  {m.label:34s} " + "  ".join(f"qps@{r['threads']}t {r['qps']:8.0f} (nq1 {r['qps_nq1']:7.0f})"
                                          for r in out))
    return out


def machine_info() -> dict:
    model = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu_model": model, "cores": os.cpu_count()}


def faiss_simd_level(faiss) -> str:
    opts = faiss.get_compile_options()
    for fn in ("get_simd_level_name",):
        if hasattr(faiss, fn):
            try:
                return f"{getattr(faiss, fn)()} ({opts.strip()})"
            except Exception:  # noqa: BLE001
                pass
    if hasattr(faiss, "SIMDConfig"):
        try:
            return f"{faiss.SIMDConfig.get_level_name()} ({opts.strip()})"
        except Exception:  # noqa: BLE001
            pass
    return opts.strip()


# ------------------------------------------------------------------------------------------- reporting

FAMILY_STYLE = {
    "TQ": ("tab:red", "o"), "TQ-RFlat": ("tab:pink", "P"), "PQ": ("tab:blue", "s"), "PQfs": ("tab:cyan", "s"), "SQ": ("tab:gray", "v"),
    "FAISS-TQ": ("tab:orange", "^"), "RaBitQ": ("tab:green", "D"), "HNSW": ("tab:purple", "*"),
    "Flat": ("black", "x"),
}


def small_png(fig, path: Path) -> None:
    """Save with a reduced palette to keep repository PNGs small."""
    fig.savefig(path, dpi=80)
    try:
        from PIL import Image
        img = Image.open(path).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        img.save(path, optimize=True)
    except Exception:  # noqa: BLE001  (Pillow comes with matplotlib; the plain PNG is fine too)
        pass


def plot_dataset(doc: dict, outdir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = doc["dataset"]
    rows1 = [r for r in doc["results"] if r["threads"] == 1]
    paths = []

    # recall@1@k vs k at 2 and 4 bits (the TurboQuant paper's figure)
    groups = [b for b in (2, 4) if any(r.get("bits_per_coordinate") == b for r in rows1)]
    if groups:
        fig, axes = plt.subplots(1, len(groups), figsize=(6.0 * len(groups), 4.2), squeeze=False)
        for ax, b in zip(axes[0], groups):
            seen: dict[str, int] = {}
            for r in rows1:
                if r.get("bits_per_coordinate") != b and r["family"] != "Flat":
                    continue
                color, marker = FAMILY_STYLE.get(r["family"], ("k", "."))
                nth = seen[r["family"]] = seen.get(r["family"], -1) + 1  # variants of one family: other dashes
                ls = ["-", "--", ":", "-."][nth % 4] if r["library"] == "tqsearch" else [(0, (4, 2)), ":", "-.",
                                                                                          (0, (1, 3))][nth % 4]
                ax.plot(np.arange(1, 65), r["recall1_at_k_curve"], linestyle=ls, color=color, marker=marker,
                        markevery=[0, 1, 3, 7, 15, 31, 63], ms=4, lw=1.6 if r["library"] == "tqsearch" else 1.1,
                        label=f"{r['spec']} ({r['bytes_per_vector']:.0f} B)")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("k")
            ax.set_ylabel("recall@1@k")
            ax.set_title(f"{name}: {b} bits/coordinate")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6, loc="lower right")
        fig.tight_layout()
        p = outdir / f"compare-{name}-recall1_at_k.png"
        small_png(fig, p)
        plt.close(fig)
        paths.append(p)

    # recall vs QPS (1 thread, batched)
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    for r in rows1:
        color, marker = FAMILY_STYLE.get(r["family"], ("k", "."))
        edge = {"edgecolors": "black", "linewidths": 0.6} if r["library"] == "tqsearch" and marker != "x" else {}
        q = qps_1t_work(r) or r["qps"]
        ax.scatter(q, r["recall_at_10"], color=color, marker=marker, s=28, **edge)
        ax.annotate(r["spec"], (q, r["recall_at_10"]), fontsize=5.5, xytext=(3, 2), textcoords="offset points")
    for fam, (color, marker) in FAMILY_STYLE.items():
        if any(r["family"] == fam for r in rows1):
            ax.scatter([], [], color=color, marker=marker, label=fam)
    ax.set_xscale("log")
    ax.set_xlabel("QPS (1 thread, batched queries, k=10; min of wall and CPU time)")
    ax.set_ylabel("10-recall@10")
    ax.set_title(f"{name}: recall vs speed")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    p = outdir / f"compare-{name}-recall_qps.png"
    small_png(fig, p)
    plt.close(fig)
    paths.append(p)

    # build time bars (log scale)
    rows = sorted(rows1, key=lambda r: r["build_seconds"])
    fig, ax = plt.subplots(figsize=(7.5, 0.18 * len(rows) + 1.2))
    ax.barh([r["spec"] for r in rows], [max(r["build_seconds"], 1e-4) for r in rows],
            color=[FAMILY_STYLE.get(r["family"], ("k", "."))[0] for r in rows])
    ax.set_xscale("log")
    ax.set_xlabel(f"build seconds (train + add, {rows[0]['build_threads']} threads)")
    ax.set_title(f"{name}: build time, {doc['nb']} vectors")
    ax.tick_params(axis="y", labelsize=6)
    ax.grid(alpha=0.3, axis="x", which="both")
    fig.tight_layout()
    p = outdir / f"compare-{name}-build.png"
    small_png(fig, p)
    plt.close(fig)
    paths.append(p)
    return paths


def qps_1t_work(r: dict) -> float | None:
    """1-thread QPS from the smaller of wall and process CPU time per call (best of the rounds): preemption by other
    processes inflates wall time, spinning idle OpenMP workers inflate CPU time; neither is work of the search."""
    if r.get("threads") != 1:
        return None
    return max(r["qps"], r.get("qps_cpu_time") or 0.0)


def fmt(x, spec=".3f"):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def goals_text(doc: dict) -> list[str]:
    """Ratios against the issue's goals, per bit level, from one run."""
    rows = [r for r in doc["results"] if r["threads"] == 1]
    ours_all = [r for r in rows if r["library"] == "tqsearch" and r["family"] == "TQ"]
    lines = []
    if not ours_all:
        return ["(tqsearch was not importable in this run: FAISS baselines only.)"]
    for b in sorted({r["bits_per_coordinate"] for r in ours_all if r["bits_per_coordinate"]}):
        ours = [r for r in ours_all if r["bits_per_coordinate"] == b]
        best = max(ours, key=lambda r: r["recall_at_10"])
        peers = [r for r in rows if r["library"] == "faiss" and r["bits_per_coordinate"] == b]

        def best_of(fam):
            c = [r for r in peers if r["family"] == fam]
            return max(c, key=lambda r: r["recall_at_10"]) if c else None
        parts = [f"**{b:g} bits** — best of ours {best['spec']} ({best['bytes_per_vector']:.0f} B/vec): "
                 f"R@1 {best['recall_at_1']:.3f}, 10-R@10 {best['recall_at_10']:.3f}"]
        for fam, goal in (("PQ", "≥"), ("FAISS-TQ", "≥"), ("RaBitQ", "within 1 pt of")):
            p = best_of(fam)
            if p:
                diff = 100 * (best["recall_at_10"] - p["recall_at_10"])
                ok = diff >= 0 if goal == "≥" else diff >= -1
                parts.append(f"vs {p['spec']} ({p['bytes_per_vector']:.0f} B) {p['recall_at_10']:.3f}: "
                             f"{diff:+.1f} pts 10-R@10 (goal {goal}: {'met' if ok else 'MISSED'})")
        fs = [r for r in peers if r["family"] == "PQfs"]
        if fs:
            p = fs[0]
            # Speed at no less recall: the fastest of ours whose 10-R@10 reaches the fast-scan's.
            at_recall = [r for r in ours if r["recall_at_10"] >= p["recall_at_10"]]
            fastest = max(at_recall, key=qps_1t_work) if at_recall else None
            for mine in [best] + ([fastest] if fastest is not None and fastest is not best else []):
                ratio = qps_1t_work(mine) / qps_1t_work(p)
                parts.append(f"QPS 1 thread {mine['spec']} / {p['spec']} = {ratio:.2f}× at 10-R@10 "
                             f"{mine['recall_at_10']:.3f} vs {p['recall_at_10']:.3f} "
                             f"(goal ≥ 1.5×: {'met' if ratio >= 1.5 else 'MISSED'})")
            if fastest is None:
                parts.append(f"none of ours reaches {p['spec']}'s 10-R@10 {p['recall_at_10']:.3f}")
        pq = [r for r in peers if r["family"] == "PQ"]
        if pq:
            p = pq[0]
            ratio = p["build_seconds"] / max(best["build_seconds"], 1e-9)
            cpu = (f", CPU time {p['build_cpu_seconds'] / max(best['build_cpu_seconds'], 1e-9):.0f}×"
                   if p.get("build_cpu_seconds") and best.get("build_cpu_seconds") else "")
            parts.append(f"build {p['spec']} / {best['spec']} = {ratio:.0f}×{cpu} "
                         f"(goal ≥ 1000×: {'met' if ratio >= 1000 else 'MISSED'})")
        lines.append("- " + "; ".join(parts) + ".")
    # Equal bytes: the best of ours whose codes fit in each 8-bit PQ's bytes per vector (per-vector floats counted).
    pqs = sorted((r for r in rows if r["library"] == "faiss" and r["family"] == "PQ"),
                 key=lambda r: r["bytes_per_vector"])
    for p in pqs:
        fit = [r for r in ours_all if r["bytes_per_vector"] <= p["bytes_per_vector"]]
        if not fit:
            continue
        best = max(fit, key=lambda r: r["recall_at_10"])
        diff = 100 * (best["recall_at_10"] - p["recall_at_10"])
        lines.append(f"- **{p['bytes_per_vector']:.0f} B/vector (equal bytes)** — best of ours {best['spec']} "
                     f"({best['bytes_per_vector']:.0f} B): 10-R@10 {best['recall_at_10']:.3f} vs {p['spec']} "
                     f"{p['recall_at_10']:.3f}: {diff:+.1f} pts (goal ≥: {'met' if diff >= 0 else 'MISSED'}).")
    return lines


def markdown_for(doc: dict) -> str:
    rows = {}
    for r in doc["results"]:
        rows.setdefault(r["spec"], {})[r["threads"]] = r
    ths = sorted({r["threads"] for r in doc["results"]})
    head = ["method", "bits/coord", "bytes/vec", "build s"]
    head += [f"QPS {t}t" for t in ths] + ["QPS 1t work"] + [f"QPS nq=1 {t}t" for t in ths]
    head += ["R@1", "10-R@10", "R@1@4", "R@1@16", "peak MiB"]
    out = [f"### {doc['dataset']} — {doc['nb']:,} × {doc['d']}, {doc['nq']} queries, metric {doc['metric']}", "",
           f"faiss-cpu {doc['faiss_version']} ({doc['faiss_simd']}); tqsearch {doc.get('tqsearch_version') or '–'}; "
           f"{doc['machine']['cpu_model']}, {doc['machine']['cores']} cores; build with "
           f"{max(ths)} threads; QPS at k={doc['k_timing']}; JSON `bench/results/compare-{doc['dataset']}.json`; "
           f"{doc.get('date', '')}.", "", f"    {doc.get('command', '')}", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def key(item):
        r = next(iter(item[1].values()))
        return (r["bits_per_coordinate"] if r["bits_per_coordinate"] is not None else 99, r["library"] != "tqsearch",
                r["family"], r["spec"])
    for spec, byt in sorted(rows.items(), key=key):
        r = byt[min(byt)]
        name = f"**{spec}**" if r["library"] == "tqsearch" else spec
        cells = [name, fmt(r["bits_per_coordinate"], "g"), fmt(r["bytes_per_vector"], ".1f"),
                 fmt(r["build_seconds"], ".3g")]
        cells += [fmt(byt[t]["qps"], ".0f") if t in byt else "–" for t in ths]
        cells += [fmt(qps_1t_work(byt[1]), ".0f") if 1 in byt else "–"]
        cells += [fmt(byt[t]["qps_nq1"], ".0f") if t in byt else "–" for t in ths]
        cells += [fmt(r.get("recall_at_1")), fmt(r.get("recall_at_10")), fmt(r["recall1_at_k"].get("4")),
                  fmt(r["recall1_at_k"].get("16")),
                  fmt(r["peak_memory_bytes"] / 2**20, ".0f") if r.get("peak_memory_bytes") is not None else "–"]
        out.append("| " + " | ".join(cells) + " |")
    out += [""] + goals_text(doc)
    name = doc["dataset"]
    out += ["", f"![recall@1@k](results/compare-{name}-recall1_at_k.png) "
                f"![recall vs QPS](results/compare-{name}-recall_qps.png) "
                f"![build](results/compare-{name}-build.png)", ""]
    return "\n".join(out)


DATASET_ORDER = ["glove-100-angular", "siftsmall", *GENERATED]


def all_docs(out_dir: Path) -> list[dict]:
    """Every compare-<dataset>.json in out_dir, known datasets first."""
    docs = [json.loads(p.read_text()) for p in out_dir.glob("compare-*.json")]
    rank = {n: i for i, n in enumerate(DATASET_ORDER)}
    return sorted(docs, key=lambda doc: (rank.get(doc["dataset"], len(rank)), doc["dataset"]))


def write_results_md(path: Path, docs: list[dict]) -> None:
    body = [SECTION, "",
            "Produced by `bench/compare.py` (one process per dataset, same data, same threads; the newest `faiss-cpu`",
            "from PyPI with its AVX2 kernels, not Debian's generic 1.7.3). Each table names its command.", "",
            "bits/coord groups methods at equal nominal bits per coordinate; bytes/vec is what each index stores per",
            "vector (FAISS: `sa_code_size()`; HR-prefixed FAISS types pad d to a power of two first; HNSW/Flat:",
            "serialized size / n). Build = train + add (builds under 10 s: best of the rounds). QPS: wall clock, best of interleaved rounds, batched (one",
            "call for many queries) and nq = 1 (one call per query from Python); \"QPS 1t work\" times each 1-thread",
            "call by the smaller of wall and process CPU time (other processes preempting us inflate the first, idle",
            "OpenMP workers spinning the second), best of the rounds; the speed goal uses it. peak MiB:",
            "resident memory added while building and searching. The machine is 2 shared cores: read ratios within a",
            "table, not absolute numbers across tables.", ""]
    notes = path.parent / "results" / "compare-notes.md"  # hand-written reading of the tables, kept across runs
    if notes.exists():
        body += [notes.read_text().rstrip(), ""]
    for doc in docs:
        body.append(markdown_for(doc))
    section = "\n".join(body).rstrip() + "\n"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        nxt = re.search(r"^## ", text[start + len(SECTION):], re.M)
        end = start + len(SECTION) + nxt.start() if nxt else len(text)
        text = text[:start] + section + ("\n" if nxt else "") + text[end:]
    path.write_text(text)


# ------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="glove-100-angular,siftsmall",
                    help="comma list: names under --data-dir, or generated: " + ", ".join(GENERATED))
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--cache-dir", default=str(REPO / "out" / "compare-cache"),
                    help="where generated datasets and their ground truth are cached")
    ap.add_argument("--out-dir", default=str(REPO / "bench" / "results"))
    ap.add_argument("--results-md", default=None, help="rewrite our section of this Markdown file")
    ap.add_argument("--bits", default="1,2,3,4", help="bits per coordinate to compare")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--nq", type=int, default=None, help="use only the first NQ queries")
    ap.add_argument("--nq1", type=int, default=100, help="queries timed one at a time (nq = 1)")
    ap.add_argument("--k-timing", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best of)")
    ap.add_argument("--time-budget", type=float, default=1.0,
                    help="seconds per batched timing call (slow methods are timed on fewer queries, >= 50)")
    ap.add_argument("--only", default=None, help="regex: run only methods whose label matches")
    ap.add_argument("--skip", default=None, help="regex: skip methods whose label matches")
    ap.add_argument("--tq-specs", default=None, help="comma-separated tqsearch factory specs (default: TQ{b} variants)")
    ap.add_argument("--no-tqsearch", action="store_true", help="FAISS baselines only")
    ap.add_argument("--no-hnsw", action="store_true")
    ap.add_argument("--plots-only", action="store_true", help="redraw plots and the Markdown from existing JSON")
    args = ap.parse_args(argv)
    if args.k_timing < 10:
        ap.error("--k-timing must be >= 10 (10-R@10 is measured at the timed k)")

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [s for s in args.datasets.split(",") if s]
    command = "python bench/compare.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    if args.plots_only:
        docs = [json.loads((out_dir / f"compare-{n}.json").read_text()) for n in names]
        for doc in docs:
            plot_dataset(doc, out_dir)
        if args.results_md:
            write_results_md(Path(args.results_md), all_docs(out_dir))
        return 0

    import faiss
    libs = {"faiss": faiss}
    if not args.no_tqsearch:
        try:
            import tqsearch
            libs["tqsearch"] = tqsearch
        except ImportError as e:
            log(f"tqsearch not importable ({e}): FAISS baselines only")
    bits_list = [int(b) for b in args.bits.split(",") if b]
    threads = [int(t) for t in args.threads.split(",") if t]
    docs = []
    for name in names:
        ds = load_dataset(faiss, name, Path(args.data_dir), Path(args.cache_dir), args.nq)
        d = ds.xb.shape[1]
        log(f"[{name}] {ds.xb.shape[0]} x {d}, {ds.xq.shape[0]} queries, metric {ds.metric}")
        methods = faiss_methods(faiss, d, bits_list, not args.no_hnsw)
        if "tqsearch" in libs:
            specs = args.tq_specs.split(",") if args.tq_specs else None
            if specs:
                specs = [s.replace("+", ",") for s in specs]  # allow TQ4+QJL on the command line
            methods = tqsearch_methods(libs["tqsearch"], d, bits_list, specs, ds.metric) + methods
        if args.only:
            methods = [m for m in methods if re.search(args.only, m.label)]
        if args.skip:
            methods = [m for m in methods if not re.search(args.skip, m.label)]
        built = []
        for m in methods:
            try:
                built.append(build_method(m, ds, libs, threads, args.time_budget, args.k_timing))
            except Exception as e:  # noqa: BLE001  (one failing method must not lose the others)
                log(f"  {m.label}: FAILED: {type(e).__name__}: {e}")
        timing_rounds(built, ds, libs, threads, args.k_timing, args.nq1, args.rounds)
        results = []
        for b in built:
            results += result_rows(b, ds, threads, args.k_timing, args.nq1, args.rounds)
        del built
        doc = {
            "dataset": name, "d": d, "nb": int(ds.xb.shape[0]), "nq": int(ds.xq.shape[0]), "metric": ds.metric,
            "machine": machine_info(), "results": results,
            "source": ds.source, "faiss_version": faiss.__version__, "faiss_simd": faiss_simd_level(faiss),
            "tqsearch_version": getattr(libs.get("tqsearch"), "__version__", None), "k_timing": args.k_timing,
            "command": command, "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "numpy": np.__version__,
        }
        (out_dir / f"compare-{name}.json").write_text(json.dumps(doc, indent=1))
        for p in plot_dataset(doc, out_dir):
            log(f"  wrote {p}")
        docs.append(doc)
    if args.results_md:
        write_results_md(Path(args.results_md), all_docs(out_dir))
        log(f"updated {args.results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
