"""The FAISS-shaped API of tqsearch: construction, add/search, ids, removal, reconstruction, factory, params."""
from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
import tqsearch
from testutil import exact_knn, recall_at


def test_version_and_simd_level_are_reported():
    assert isinstance(tqsearch.__version__, str) and tqsearch.__version__.count(".") >= 1
    assert tqsearch.simd_level() in ("scalar", "avx2", "avx512")


@pytest.mark.parametrize("metric", ["ip", "l2", "cosine"])
def test_search_returns_float32_distances_and_int64_labels_of_shape_nq_by_k(gaussian, metric):
    xb, xq = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=4, metric=metric)
    assert (index.d, index.ntotal, index.is_trained, index.metric) == (64, 0, True, metric)
    index.add(xb)
    assert index.ntotal == len(xb)
    D, I = index.search(xq, 7)
    assert D.shape == I.shape == (len(xq), 7)
    assert D.dtype == np.float32 and I.dtype == np.int64
    assert D.flags.c_contiguous and I.flags.c_contiguous
    assert ((I >= 0) & (I < len(xb))).all()
    # ordering: inner product / cosine descending, L2 ascending
    diffs = np.diff(D, axis=1)
    assert (diffs >= 0).all() if metric == "l2" else (diffs <= 0).all()


@pytest.mark.parametrize("metric", ["ip", "l2", "cosine"])
def test_every_vector_finds_itself_first_at_4_bits(gaussian, metric):
    # 4-bit codes keep ‖x − x̂‖² ≈ 0.009‖x‖²; in 64-d Gaussian data the nearest other vector is far further away.
    xb, _ = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=4, metric=metric)
    index.add(xb)
    _, I = index.search(xb[:500], 1)
    if metric == "ip":  # with inner product a longer vector can beat the query itself: compare with exact search
        np.testing.assert_array_equal(I[:, 0], exact_knn(xb, xb[:500], 1, "ip")[:, 0])
    else:
        np.testing.assert_array_equal(I[:, 0], np.arange(500))


def test_l2_distances_estimate_the_true_squared_distances(gaussian):
    xb, xq = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=8, metric="l2")
    index.add(xb)
    D, I = index.search(xq, 5)
    true = ((xq[:, None, :] - xb[I]) ** 2).sum(-1)
    # 8 bits: relative error of ‖x − x̂‖ is ~0.4%; distances between 64-d Gaussians are ~128 ± 23
    np.testing.assert_allclose(D, true, rtol=0.03)


def test_k_larger_than_ntotal_pads_with_minus_one_like_faiss(gaussian):
    xb, xq = gaussian
    for metric, pad in (("l2", np.inf), ("ip", -np.inf)):
        index = tqsearch.IndexTurboQuant(64, bits=2, metric=metric)
        index.add(xb[:10])
        D, I = index.search(xq[:3], 15)
        assert (I[:, 10:] == -1).all() and (I[:, :10] >= 0).all()
        assert np.isinf(D[:, 10:]).all() or (np.abs(D[:, 10:]) >= np.finfo(np.float32).max).all()
        assert (np.sign(D[:, 10:]) == np.sign(pad)).all()
        assert sorted(I[0, :10].tolist()) == list(range(10))


def test_search_on_an_empty_index_returns_only_padding(gaussian):
    _, xq = gaussian
    index = tqsearch.IndexTurboQuant(64)
    D, I = index.search(xq[:2], 3)
    assert (I == -1).all()


def test_zero_queries_and_zero_vectors_are_accepted(gaussian):
    xb, _ = gaussian
    index = tqsearch.IndexTurboQuant(64)
    index.add(np.zeros((0, 64), np.float32))
    assert index.ntotal == 0
    index.add(xb)
    D, I = index.search(np.zeros((0, 64), np.float32), 4)
    assert D.shape == I.shape == (0, 4)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_reconstruction_error_is_within_theorem_1_bound(rng, bits):
    # TurboQuant Thm 1 (arXiv 2504.19874): E‖x − x̂‖² ≤ (√3·π/2)·4^−b for unit x; checked as a mean over rows.
    x = rng.standard_normal((2000, 100)).astype(np.float32)
    index = tqsearch.IndexTurboQuant(100, bits=bits, metric="l2", estimator="mse")
    index.add(x)
    rec = index.reconstruct_n(0, len(x))
    rel = ((rec - x) ** 2).sum(1) / (x ** 2).sum(1)
    bound = math.sqrt(3) * math.pi / 2 * 4.0 ** -bits
    print(f"bits={bits} mean relative distortion {rel.mean():.5f} bound {bound:.5f}")
    assert rel.mean() <= bound
    np.testing.assert_array_equal(index.reconstruct(17), rec[17])


def test_sa_encode_matches_add_and_add_sa_codes_gives_the_same_index(gaussian):
    xb, xq = gaussian
    a = tqsearch.IndexTurboQuant(64, bits=3, metric="l2", qjl=True)
    a.add(xb)
    codes = a.sa_encode(xb)
    assert codes.shape == (len(xb), a.code_size) and codes.dtype == np.uint8
    b = tqsearch.IndexTurboQuant(64, bits=3, metric="l2", qjl=True)
    b.add_sa_codes(codes)
    for (da, ia), (db, ib) in [(a.search(xq, 5), b.search(xq, 5))]:
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(da, db)
    np.testing.assert_array_equal(a.sa_decode(codes), a.reconstruct_n(0, len(xb)))


def test_code_size_grows_with_bits_and_options():
    size = {s: tqsearch.index_factory(128, s).code_size for s in ("TQ1", "TQ2", "TQ4", "TQ4,MSE", "TQ4,QJL")}
    assert size["TQ1"] < size["TQ2"] < size["TQ4"]
    assert size["TQ4,MSE"] < size["TQ4"]  # no ρ
    assert size["TQ4,QJL"] >= size["TQ4,MSE"] + 128 // 8  # + d sign bits
    assert size["TQ4,MSE"] >= 128 * 4 // 8
    index = tqsearch.IndexTurboQuant(128, bits=4)
    assert index.bytes_per_vector == index.code_size and index.bits_per_vector == 8 * index.code_size


def test_remove_ids_removes_rows_and_renumbers_like_faiss_flat(gaussian):
    xb, _ = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    index.add(xb)
    assert index.remove_ids(np.arange(10)) == 10
    assert index.ntotal == len(xb) - 10
    _, I = index.search(xb[10:20], 1)
    np.testing.assert_array_equal(I[:, 0], np.arange(10))  # row 10 became row 0
    assert index.remove_ids(np.array([10 ** 9])) == 0
    index.reset()
    assert index.ntotal == 0


def test_add_with_ids_needs_an_idmap_and_idmap_returns_the_ids(gaussian):
    xb, xq = gaussian
    flat = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    with pytest.raises(tqsearch.Error, match="IndexIDMap"):
        flat.add_with_ids(xb, np.arange(len(xb)))
    ids = np.arange(len(xb), dtype=np.int64) * 7 + 1000
    index = tqsearch.IndexIDMap(flat)
    index.add_with_ids(xb, ids)
    assert index.ntotal == len(xb) and flat.ntotal == len(xb)
    np.testing.assert_array_equal(index.id_map, ids)
    _, I = index.search(xb[:20], 1)
    np.testing.assert_array_equal(I[:, 0], ids[:20])
    assert index.remove_ids(ids[:5]) == 5
    _, I = index.search(xb[5:10], 1)
    np.testing.assert_array_equal(I[:, 0], ids[5:10])
    assert isinstance(index.index, tqsearch.IndexTurboQuant)


def test_idmap_keeps_the_wrapped_index_alive(gaussian):
    xb, _ = gaussian
    index = tqsearch.IndexIDMap(tqsearch.IndexTurboQuant(64, bits=2))
    import gc
    gc.collect()
    index.add_with_ids(xb, np.arange(len(xb)))
    assert index.search(xb[:1], 1)[1][0, 0] == 0


def test_idmap2_reconstructs_by_id(gaussian):
    xb, _ = gaussian
    index = tqsearch.index_factory(64, "IDMap2,TQ4", "l2")
    assert isinstance(index, tqsearch.IndexIDMap2)
    ids = np.arange(len(xb)) + 5_000_000
    index.add_with_ids(xb, ids)
    np.testing.assert_array_equal(index.reconstruct(5_000_003), index.index.reconstruct(3))


@pytest.mark.parametrize("description,cls", [
    ("TQ4", tqsearch.IndexTurboQuant),
    ("TQ2.5", tqsearch.IndexTurboQuant),
    ("TQ3,QJL", tqsearch.IndexTurboQuant),
    ("TQ4,MSE", tqsearch.IndexTurboQuant),
    ("TQ4,Dense", tqsearch.IndexTurboQuant),
    ("IDMap,TQ4", tqsearch.IndexIDMap),
    ("IDMap2,TQ4", tqsearch.IndexIDMap2),
    ("HNSW16,TQ4", tqsearch.IndexHNSW),
    ("TQ4,RFlat", tqsearch.IndexRefineFlat),
    ("Flat", tqsearch.Index),
])
def test_index_factory_returns_the_most_specific_class(gaussian, description, cls):
    xb, xq = gaussian
    index = tqsearch.index_factory(64, description, "l2")
    assert type(index) is cls
    if not index.is_trained:
        index.train(xb)
    if isinstance(index, tqsearch.IndexIDMap):
        index.add_with_ids(xb, np.arange(len(xb)))
    else:
        index.add(xb)
    _, I = index.search(xq, 10)
    r = recall_at(I, exact_knn(xb, xq, 10, "l2"), 10)
    print(f"{description}: 10-recall@10 {r:.3f}")
    assert r >= (0.99 if description in ("Flat", "TQ4,RFlat") else 0.45)


def test_index_factory_properties_follow_the_description():
    a = tqsearch.index_factory(100, "TQ3,QJL", "ip")
    assert (a.bits, a.estimator, a.qjl, a.metric) == (3, "qjl", True, "ip")
    b = tqsearch.index_factory(100, "TQ2.5", tqsearch.METRIC_L2)
    assert (b.bits, b.estimator, b.renorm, b.metric) == (2.5, "renorm", True, "l2")
    c = tqsearch.index_factory(100, "TQ4", "cosine")
    assert c.metric == "cosine"
    r = tqsearch.index_factory(100, "TQ4,RFlat")
    assert r.k_factor == 4 and isinstance(r.base_index, tqsearch.IndexTurboQuant)
    h = tqsearch.index_factory(100, "HNSW8,TQ2")
    h.efSearch = 33
    assert h.efSearch == 33 and isinstance(h.storage, tqsearch.IndexTurboQuant)


def test_per_call_search_parameters_change_the_result_only_for_that_call(gaussian):
    xb, xq = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=2, metric="ip", qjl=True, renorm=True)
    index.add(xb)
    D0, I0 = index.search(xq, 10)
    D1, I1 = index.search(xq, 10, estimator="qjl", rerank_factor=8)
    assert not np.array_equal(D0, D1)
    D2, I2 = index.search(xq, 10)
    np.testing.assert_array_equal(I0, I2)
    np.testing.assert_array_equal(D0, D2)
    # no rerank: scan estimates only (quantized LUTs) — a different, still sensible ranking
    D3, I3 = index.search(xq, 10, rerank_factor=0)
    assert recall_at(I3, exact_knn(xb, xq, 10, "ip"), 10) > 0.3


def test_set_search_params_changes_the_defaults(gaussian):
    xb, xq = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=2, metric="ip", qjl=True, renorm=True)
    index.add(xb)
    expected = index.search(xq, 10, estimator="qjl", rerank_factor=6)
    index.set_search_params(estimator="qjl", rerank_factor=6)
    assert index.search_params["estimator"] == "qjl" and index.search_params["rerank_factor"] == 6
    got = index.search(xq, 10)
    np.testing.assert_array_equal(expected[1], got[1])
    with pytest.raises(tqsearch.Error):
        tqsearch.IndexTurboQuant(64, bits=2).set_search_params(estimator="qjl")  # no sketch stored


def test_prefix_scan_layout_rescores_with_the_full_codes_and_prefix_z_sets_how_many(gaussian):
    xb, xq = gaussian
    full = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    prefix = tqsearch.IndexTurboQuant(64, bits=4, metric="l2", scan_bits=2)
    assert full.scan_bits == 0 and prefix.scan_bits == 2
    assert tqsearch.index_factory(64, "TQ4,Scan2", "l2").scan_bits == 2
    full.add(xb)
    prefix.add(xb)
    # Every row rescored (prefix_z huge): exactly the full layout's results with every row reranked.
    expected = full.search(xq, 10, rerank_factor=len(xb))
    got = prefix.search(xq, 10, prefix_z=1e9)
    np.testing.assert_array_equal(expected[1], got[1])
    np.testing.assert_array_equal(expected[0], got[0])
    # prefix_z as a default; saved with the index.
    prefix.set_search_params(prefix_z=0.0)
    assert prefix.search_params["prefix_z"] == 0.0
    np.testing.assert_array_equal(prefix.search(xq, 10)[1], prefix.search(xq, 10, prefix_z=0.0)[1])
    back = tqsearch.deserialize_index(tqsearch.serialize_index(prefix))
    assert back.scan_bits == 2 and back.search_params["prefix_z"] == 0.0
    with pytest.raises(ValueError):
        prefix.search(xq, 10, prefix_z=-1.0)
    with pytest.raises(ValueError):
        tqsearch.IndexTurboQuant(64, scan_bits=5)


def clustered(rng, n=4000, nq=100, d=64, centers=40):
    """n base and nq query vectors around `centers` Gaussian cluster centers (spread 3, unit noise)."""
    c = rng.standard_normal((centers, d)) * 3
    xb = c[rng.integers(0, centers, n)] + rng.standard_normal((n, d))
    xq = c[rng.integers(0, centers, nq)] + rng.standard_normal((nq, d))
    return xb.astype(np.float32), xq.astype(np.float32)


@pytest.mark.parametrize("metric", ["ip", "l2"])
@pytest.mark.parametrize("scan_bits", [0, 2])
def test_coarse_lut_scan_lut_max_and_lut_z_bound_the_rescored_rows(rng, metric, scan_bits):
    xb, xq = clustered(rng)
    gt = exact_knn(xb, xq, 10, metric)
    full = tqsearch.IndexTurboQuant(64, bits=4, metric=metric, scan_bits=0)
    full.add(xb)
    # Reference: the fine LUT with every row reranked = the estimator's exact top-k over all rows.
    ref_D, ref_I = full.search(xq, 10, rerank_factor=len(xb))
    index = tqsearch.IndexTurboQuant(64, bits=4, metric=metric, scan_bits=scan_bits)
    index.add(xb)
    assert index.scan_bits == scan_bits
    assert (index.search_params["lut_max"], index.search_params["lut_z"]) == (255, 3.0)
    fine_I = index.search(xq, 10)[1]

    # lut_max 63 with a bound that admits every row: exactly the reference, distances included.
    index.set_search_params(lut_max=63, lut_z=1e6)
    assert (index.search_params["lut_max"], index.search_params["lut_z"]) == (63, 1e6)
    D, I = index.search(xq, 10)
    np.testing.assert_array_equal(I, ref_I)
    np.testing.assert_array_equal(D, ref_D)

    # The default z (3): valid, distinct ids and the recall of the fine LUT (within 0.01 on 1000 neighbors).
    index.set_search_params(lut_z=3.0)
    assert index.search_params["lut_max"] == 63  # left alone
    D, I = index.search(xq, 10)
    assert ((I >= 0) & (I < len(xb))).all()
    assert all(len(set(row)) == 10 for row in I)
    assert recall_at(I, gt, 10) >= recall_at(fine_I, gt, 10) - 0.01
    assert recall_at(I, gt, 10) > 0.6

    # z = 0 (and prefix_z = 0): the LUT rounding is not bounded, so the coarse LUT changes the results.
    index.set_search_params(prefix_z=0.0, lut_max=255, lut_z=0.0)
    fine0_I = index.search(xq, 10)[1]
    index.set_search_params(lut_max=63)
    coarse0_I = index.search(xq, 10)[1]
    assert not np.array_equal(coarse0_I, fine0_I)
    assert ((coarse0_I >= 0) & (coarse0_I < len(xb))).all()
    # lut_max 127 with every row admitted (prefix_z stays 0: the lut_z term alone admits them): the reference.
    index.set_search_params(lut_max=127, lut_z=1e6)
    np.testing.assert_array_equal(index.search(xq, 10)[1], ref_I)
    # Per-call overrides give what the same defaults give, and leave the defaults alone.
    index.set_search_params(lut_max=255, lut_z=3.0)
    np.testing.assert_array_equal(index.search(xq, 10, lut_max=63, lut_z=0.0)[1], coarse0_I)
    np.testing.assert_array_equal(index.search(xq, 10, lut_max=127, lut_z=1e6)[1], ref_I)
    assert (index.search_params["lut_max"], index.search_params["lut_z"]) == (255, 3.0)


def test_lut_max_and_lut_z_are_constructor_defaults_and_saved_with_the_index(tmp_path, rng):
    xb, xq = clustered(rng, n=2000, nq=20)
    index = tqsearch.IndexTurboQuant(64, bits=4, metric="l2", scan_bits=2, prefix_z=0.5, lut_max=63, lut_z=1.5)
    assert index.search_params["lut_max"] == 63 and index.search_params["lut_z"] == 1.5
    index.add(xb)
    expected = index.search(xq, 10)
    path = tmp_path / "lut.tqs"
    tqsearch.write_index(index, path)
    for back in (tqsearch.read_index(str(path)), tqsearch.deserialize_index(tqsearch.serialize_index(index))):
        assert back.scan_bits == 2
        p = back.search_params
        assert (p["lut_max"], p["lut_z"], p["prefix_z"]) == (63, 1.5, 0.5)
        got = back.search(xq, 10)
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(got[0], expected[0])
    # another value survives too (not just the constructor's)
    index.set_search_params(lut_max=127, lut_z=0.0)
    p = tqsearch.deserialize_index(tqsearch.serialize_index(index)).search_params
    assert (p["lut_max"], p["lut_z"]) == (127, 0.0)
    # the factory's index starts at the defaults
    p = tqsearch.index_factory(64, "TQ4,Scan2", "l2").search_params
    assert (p["lut_max"], p["lut_z"]) == (255, 3.0)


def test_range_search_returns_faiss_style_lims(gaussian):
    xb, xq = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    index.add(xb)
    lims, D, I = index.range_search(xq[:5], 90.0)
    assert lims.shape == (6,) and lims[0] == 0 and (np.diff(lims) >= 0).all() and lims[-1] == len(D) == len(I)
    assert (D < 90.0).all()
    # against the k-NN estimates: everything k-NN reports below the radius is in the range result
    Dk, Ik = index.search(xq[:5], 50)
    for q in range(5):
        inside = set(Ik[q][Dk[q] < 89.0].tolist())
        assert inside <= set(I[lims[q]:lims[q + 1]].tolist())


def test_results_do_not_depend_on_the_number_of_threads(gaussian):
    xb, xq = gaussian
    index = tqsearch.IndexTurboQuant(64, bits=3, metric="l2")
    before = tqsearch.omp_get_max_threads()
    try:
        tqsearch.omp_set_num_threads(1)
        index.add(xb)
        one = index.search(xq, 10)
        tqsearch.omp_set_num_threads(2)
        assert tqsearch.omp_get_max_threads() == 2
        two = index.search(xq, 10)
    finally:
        tqsearch.omp_set_num_threads(before)
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(one[0], two[0])


def test_search_releases_the_gil(rng):
    # While one thread is inside search(), a pure-Python loop in this thread must keep running.
    xb = rng.standard_normal((20000, 128)).astype(np.float32)
    xq = rng.standard_normal((1000, 128)).astype(np.float32)
    index = tqsearch.IndexTurboQuant(128, bits=4, metric="l2")
    index.add(xb)
    t0 = time.perf_counter()
    index.search(xq, 10)
    single = time.perf_counter() - t0
    reps = max(1, int(math.ceil(0.5 / max(single, 1e-3))))  # make the searching thread busy for ~0.5 s
    started, done = threading.Event(), threading.Event()

    def worker():
        started.set()
        for _ in range(reps):
            index.search(xq, 10)
        done.set()

    th = threading.Thread(target=worker)
    th.start()
    started.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
        time.sleep(0)  # a GIL-holding search would stall this loop until it returns
    th.join()
    print(f"search {single:.3f}s x {reps}: {ticks} loop iterations in this thread meanwhile")
    assert ticks > 100 * reps


def test_repr_names_the_class_and_the_key_parameters():
    r = repr(tqsearch.IndexTurboQuant(32, bits=2, metric="l2"))
    assert "IndexTurboQuant" in r and "d=32" in r and "bits=2" in r and "metric=l2" in r


def test_every_public_callable_has_a_docstring():
    names = [n for n in dir(tqsearch) if not n.startswith("_")]
    missing = []
    for n in names:
        obj = getattr(tqsearch, n)
        if callable(obj) and not (getattr(obj, "__doc__", None) or "").strip():
            missing.append(n)
        if isinstance(obj, type):
            for m, member in vars(obj).items():
                if m.startswith("_") or not (callable(member) or isinstance(member, property)):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{n}.{m}")
    assert not missing, f"no docstring: {missing}"


@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_fold_renorm_keeps_the_ranking_in_two_bytes_per_vector(tmp_path, rng, metric):
    xb, xq = clustered(rng, n=3000, nq=30)
    plain = tqsearch.IndexTurboQuant(64, bits=4, metric=metric)
    fold = tqsearch.IndexTurboQuant(64, bits=4, metric=metric, fold_renorm=True, fp16_norm=True)
    assert (fold.fold_renorm, fold.fp16_norm, plain.fold_renorm) == (True, True, False)
    assert fold.code_size == 64 * 4 // 8 + 2 == plain.code_size - 6
    plain.add(xb)
    fold.add(xb)
    Dp, Ip = plain.search(xq, 10)
    Df, If = fold.search(xq, 10)
    # ‖x‖/ρ rounded to float16 moves each estimate by at most 2^-11 of itself, so the folded list may only differ
    # by swaps between rows whose unfolded estimates lie within 2·2^-11 of each other: its j-th row, scored by the
    # unfolded index, is within that of the unfolded j-th best.
    np.testing.assert_allclose(Df, Dp, rtol=1.0 / 2048, atol=1e-6)
    Dall, Iall = plain.search(xq, 200)
    for qi in range(len(xq)):
        score = dict(zip(Iall[qi].tolist(), Dall[qi].tolist()))
        got = np.array([score[i] for i in If[qi]])
        np.testing.assert_allclose(got, Dp[qi], rtol=2.0 / 2048, atol=1e-6)
    back = tqsearch.deserialize_index(tqsearch.serialize_index(fold))
    assert back.fold_renorm and back.code_size == fold.code_size
    np.testing.assert_array_equal(back.search(xq, 10)[1], If)
    assert tqsearch.index_factory(100, "TQ3.84,Norm16,Fold", metric).code_size == 50
    with pytest.raises(tqsearch.Error, match="fold_renorm"):
        fold.search(xq, 10, estimator="mse")


def test_fold_renorm_is_refused_for_l2():
    with pytest.raises(tqsearch.Error, match="L2"):
        tqsearch.IndexTurboQuant(32, bits=4, metric="l2", fold_renorm=True)
