"""Bad input gives a clear Python exception (never a crash or silent garbage)."""
from __future__ import annotations

import numpy as np
import pytest
import tqsearch


@pytest.fixture
def index(gaussian):
    xb, _ = gaussian
    idx = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    idx.add(xb)
    return idx


def test_error_is_a_runtime_error_subclass_with_a_docstring():
    assert issubclass(tqsearch.Error, RuntimeError)
    assert "message" in tqsearch.Error.__doc__


def test_wrong_dimension_names_both_dimensions(index):
    with pytest.raises(ValueError, match=r"x has 63 columns but the index has dimension d = 64"):
        index.add(np.zeros((3, 63), np.float32))
    with pytest.raises(ValueError, match="d = 64"):
        index.search(np.zeros((3, 65), np.float32), 1)


def test_one_dimensional_input_is_rejected_with_a_hint(index):
    with pytest.raises(ValueError, match=r"2-D array .*shape \(64,\).*reshape"):
        index.search(np.zeros(64, np.float32), 1)


@pytest.mark.parametrize("dtype", [bool, np.complex64, object, "U3"])
def test_non_numeric_dtypes_are_rejected(index, dtype):
    with pytest.raises(TypeError, match="dtype"):
        index.add(np.zeros((2, 64), dtype=dtype))


def test_none_is_rejected(index):
    with pytest.raises(TypeError, match="None"):
        index.search(None, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.uint8])
def test_other_numeric_dtypes_are_converted_to_float32(gaussian, dtype):
    xb, xq = gaussian
    a = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    b = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    data = (xb * 10).astype(dtype)
    a.add(data)
    b.add(data.astype(np.float32))
    q = (xq * 10).astype(dtype)
    np.testing.assert_array_equal(a.search(q, 5)[1], b.search(q.astype(np.float32), 5)[1])


def test_non_contiguous_and_fortran_arrays_give_the_same_results(gaussian):
    xb, xq = gaussian
    wide = np.repeat(xb, 2, axis=1)[:, ::2]  # strided view equal to xb
    a = tqsearch.IndexTurboQuant(64, bits=4)
    b = tqsearch.IndexTurboQuant(64, bits=4)
    a.add(wide)
    b.add(np.asfortranarray(xb))
    c = tqsearch.IndexTurboQuant(64, bits=4)
    c.add(xb)
    for idx in (a, b):
        np.testing.assert_array_equal(idx.search(xq, 5)[1], c.search(xq, 5)[1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected_naming_the_row(gaussian, bad):
    xb, xq = gaussian
    idx = tqsearch.IndexTurboQuant(64, bits=4)
    x = xb[:5].copy()
    x[3, 7] = bad
    with pytest.raises(tqsearch.Error, match="3"):
        idx.add(x)
    assert idx.ntotal == 0  # nothing half-added
    idx.add(xb)
    q = xq[:4].copy()
    q[2, 0] = bad
    with pytest.raises(tqsearch.Error):
        idx.search(q, 3)


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_rejected(index, gaussian, k):
    with pytest.raises(ValueError, match="k must be >= 1"):
        index.search(gaussian[1], k)


@pytest.mark.parametrize("bits", [0, 0.5, 9, 8.5, -4])
def test_unsupported_bit_rates_are_rejected(bits):
    with pytest.raises(tqsearch.Error, match="bits"):
        tqsearch.IndexTurboQuant(64, bits=bits)


def test_bad_dimension_metric_estimator_and_rotation_are_rejected():
    with pytest.raises(ValueError, match="d must be >= 1"):
        tqsearch.IndexTurboQuant(0)
    with pytest.raises(ValueError, match="metric must be"):
        tqsearch.IndexTurboQuant(8, metric="hamming")
    with pytest.raises(ValueError, match="not supported"):
        tqsearch.IndexTurboQuant(8, metric=23)
    with pytest.raises(ValueError, match="estimator must be"):
        tqsearch.IndexTurboQuant(8, estimator="exact")
    with pytest.raises(ValueError, match="rotation must be"):
        tqsearch.IndexTurboQuant(8, rotation="givens")
    with pytest.raises(ValueError, match="rerank_factor"):
        tqsearch.IndexTurboQuant(8, rerank_factor=-2)


@pytest.mark.parametrize("lut_max", [0, 62, 64, 128, 256, -63])
def test_lut_max_other_than_63_127_255_is_rejected(index, lut_max):
    msg = rf"lut_max must be 63, 127 or 255, got {lut_max}\b"
    with pytest.raises(ValueError, match=msg):
        tqsearch.IndexTurboQuant(8, lut_max=lut_max)
    before = index.search_params
    with pytest.raises(ValueError, match=msg):
        index.set_search_params(lut_max=lut_max)
    with pytest.raises(ValueError, match=msg):  # checked before anything is changed
        index.set_search_params(prefix_z=0.0, lut_max=lut_max)
    assert index.search_params == before
    with pytest.raises(TypeError):
        index.set_search_params(lut_max=63.5)
    with pytest.raises(ValueError, match=msg):  # the per-call override too
        index.search(np.zeros((1, index.d), np.float32), 1, lut_max=lut_max)


@pytest.mark.parametrize("lut_z, shown", [(float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf"),
                                          (-0.5, "-0.5")])
def test_lut_z_nan_inf_or_negative_is_rejected(index, lut_z, shown):
    msg = rf"lut_z must be a finite number >= 0, got {shown}"
    with pytest.raises(ValueError, match=msg):
        tqsearch.IndexTurboQuant(8, lut_z=lut_z)
    before = index.search_params
    with pytest.raises(ValueError, match=msg):
        index.set_search_params(lut_max=63, lut_z=lut_z)
    assert index.search_params == before
    with pytest.raises(ValueError, match=msg):
        index.search(np.zeros((1, index.d), np.float32), 1, lut_z=lut_z)


def test_an_estimator_the_codes_cannot_serve_is_rejected(index, gaussian):
    with pytest.raises(tqsearch.Error, match="(?i)qjl"):
        index.search(gaussian[1], 5, estimator="qjl")
    with pytest.raises(tqsearch.Error):
        tqsearch.IndexTurboQuant(64, estimator="qjl", qjl=False)


def test_out_of_range_keys_raise_index_error(index):
    with pytest.raises(IndexError, match="out of range"):
        index.reconstruct(index.ntotal)
    with pytest.raises(IndexError):
        index.reconstruct(-1)
    with pytest.raises(IndexError):
        index.reconstruct_n(index.ntotal - 2, 5)


def test_ids_must_be_integers_of_the_right_length(gaussian):
    xb, _ = gaussian
    idx = tqsearch.index_factory(64, "IDMap,TQ4")
    with pytest.raises(ValueError, match="ids has 3 ids but there are 2000 vectors"):
        idx.add_with_ids(xb, np.arange(3))
    with pytest.raises(TypeError, match="integer"):
        idx.add_with_ids(xb, np.arange(len(xb), dtype=np.float32))
    with pytest.raises(ValueError, match=r"2\^63-1"):
        idx.add_with_ids(xb[:1], np.array([2 ** 64 - 1], dtype=np.uint64))
    with pytest.raises(tqsearch.Error, match="add_with_ids"):
        idx.add(xb)  # FAISS's own check, translated


def test_wrappers_refuse_non_empty_indexes(index):
    with pytest.raises(tqsearch.Error, match="must be empty"):
        tqsearch.IndexIDMap(index)
    with pytest.raises(TypeError):
        tqsearch.IndexIDMap(None)


def test_factory_errors_name_the_token_and_the_grammar():
    with pytest.raises(tqsearch.Error, match=r"'Foo'.*grammar"):
        tqsearch.index_factory(16, "TQ4,Foo")
    with pytest.raises(tqsearch.Error, match="TQ9"):
        tqsearch.index_factory(16, "TQ9")
    with pytest.raises(tqsearch.Error, match="NotAFaissIndex"):
        tqsearch.index_factory(16, "NotAFaissIndex")


def test_thread_count_must_be_positive():
    with pytest.raises(ValueError):
        tqsearch.omp_set_num_threads(0)
