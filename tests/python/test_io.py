"""Index save/load round trips, corrupt files, and the vector file readers."""
from __future__ import annotations

import numpy as np
import pytest
import tqsearch

DESCRIPTIONS = ["TQ4", "TQ2.5,MSE", "TQ3,QJL", "IDMap,TQ4", "IDMap2,TQ2", "HNSW8,TQ4", "TQ4,RFlat", "Flat"]


def filled(description, xb, metric="l2"):
    index = tqsearch.index_factory(xb.shape[1], description, metric)
    if isinstance(index, tqsearch.IndexIDMap):
        index.add_with_ids(xb, np.arange(len(xb)) * 3 + 11)
    else:
        index.add(xb)
    return index


@pytest.mark.parametrize("description", DESCRIPTIONS)
@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_write_then_read_gives_the_same_index_and_results(tmp_path, gaussian, description, metric):
    xb, xq = gaussian
    index = filled(description, xb, metric)
    path = tmp_path / "index.tqs"
    tqsearch.write_index(index, path)  # os.PathLike accepted
    back = tqsearch.read_index(str(path))
    assert type(back) is type(index)
    assert (back.d, back.ntotal, back.metric) == (index.d, index.ntotal, index.metric)
    D0, I0 = index.search(xq, 10)
    D1, I1 = back.search(xq, 10)
    np.testing.assert_array_equal(I0, I1)
    np.testing.assert_array_equal(D0, D1)


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_serialize_round_trip_matches_the_file_bytes(tmp_path, gaussian, description):
    xb, xq = gaussian
    index = filled(description, xb)
    blob = tqsearch.serialize_index(index)
    assert blob.dtype == np.uint8 and blob.ndim == 1
    path = tmp_path / "i.tqs"
    tqsearch.write_index(index, path)
    assert path.read_bytes() == blob.tobytes()
    for data in (blob, blob.tobytes(), bytearray(blob.tobytes())):
        back = tqsearch.deserialize_index(data)
        np.testing.assert_array_equal(back.search(xq, 5)[1], index.search(xq, 5)[1])


def test_truncated_and_corrupted_files_raise_error(tmp_path, gaussian):
    xb, _ = gaussian
    path = tmp_path / "i.tqs"
    tqsearch.write_index(filled("TQ4", xb), path)
    data = path.read_bytes()
    for name, bad in [("empty", b""), ("header only", data[:12]), ("truncated", data[: len(data) // 2]),
                      ("one byte short", data[:-1]), ("garbage", b"\x00\x01not an index at all" * 10)]:
        p = tmp_path / "bad.tqs"
        p.write_bytes(bad)
        with pytest.raises(tqsearch.Error):
            tqsearch.read_index(p)
        print(f"{name}: rejected")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside the codes section: caught by its checksum
    p = tmp_path / "flipped.tqs"
    p.write_bytes(bytes(flipped))
    with pytest.raises(tqsearch.Error):
        tqsearch.read_index(p)


def test_missing_file_and_unwritable_path_raise_error(tmp_path, gaussian):
    with pytest.raises(tqsearch.Error):
        tqsearch.read_index(tmp_path / "does-not-exist.tqs")
    with pytest.raises(tqsearch.Error):
        tqsearch.write_index(filled("TQ2", gaussian[0]), tmp_path / "no-such-dir" / "x.tqs")


needs_io = pytest.mark.skipif(not tqsearch.HAVE_FILE_IO, reason="built without tools/io")


@needs_io
def test_fvecs_and_ivecs_round_trip(tmp_path, rng):
    x = rng.standard_normal((37, 19)).astype(np.float32)
    ids = rng.integers(0, 10 ** 6, size=(37, 5)).astype(np.int32)
    tqsearch.write_fvecs(tmp_path / "a.fvecs", x)
    tqsearch.write_ivecs(tmp_path / "a.ivecs", ids)
    np.testing.assert_array_equal(tqsearch.read_fvecs(tmp_path / "a.fvecs"), x)
    back = tqsearch.read_ivecs(tmp_path / "a.ivecs")
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, ids)
    # the TEXMEX layout itself: int32 d then d float32 per row
    raw = np.fromfile(tmp_path / "a.fvecs", dtype="<i4").reshape(37, 20)
    assert (raw[:, 0] == 19).all()
    np.testing.assert_array_equal(raw[:, 1:].view("<f4"), x)


@needs_io
@pytest.mark.parametrize("ext,dtype", [(".fbin", np.float32), (".u8bin", np.uint8), (".npy", np.float32),
                                       (".npy", np.float16), (".bvecs", np.uint8)])
def test_read_vectors_reads_every_written_format(tmp_path, rng, ext, dtype):
    x = (rng.random((23, 8)) * 100).astype(dtype)
    p = tmp_path / f"v{ext}"
    tqsearch.write_vectors(p, x)
    got = tqsearch.read_vectors(p)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_array_equal(got, x.astype(np.float32))


@needs_io
def test_numpy_saved_files_are_read(tmp_path, rng):
    x = rng.standard_normal((10, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(tqsearch.read_npy(tmp_path / "x.npy"), x)


@needs_io
def test_reader_errors_name_the_file(tmp_path, rng):
    x = rng.standard_normal((10, 4)).astype(np.float32)
    p = tmp_path / "t.fvecs"
    tqsearch.write_fvecs(p, x)
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(tqsearch.Error, match="t.fvecs"):
        tqsearch.read_fvecs(p)
    (tmp_path / "e.fvecs").write_bytes(b"")
    with pytest.raises(tqsearch.Error, match="e.fvecs"):
        tqsearch.read_fvecs(tmp_path / "e.fvecs")
    bad = x.copy()
    bad[6, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(tqsearch.Error, match="6"):
        tqsearch.read_vectors(tmp_path / "nan.npy")
    with pytest.raises(ValueError, match="fvecs"):
        tqsearch.read_fvecs(tmp_path / "nan.npy")
    with pytest.raises(tqsearch.Error):
        tqsearch.read_vectors(tmp_path / "x.unknown-ext")


@needs_io
def test_read_fvecs_agrees_with_a_plain_numpy_parse(siftsmall):
    x = tqsearch.read_fvecs(siftsmall / "base.fvecs")
    raw = np.fromfile(siftsmall / "base.fvecs", dtype="<i4")
    ref = raw.reshape(-1, int(raw[0]) + 1)[:, 1:].view("<f4")
    np.testing.assert_array_equal(x, ref)
    gt = tqsearch.read_ivecs(siftsmall / "groundtruth.ivecs")
    assert gt.shape == (100, 100) and gt.min() >= 0 and gt.max() < len(x)


@pytest.mark.parametrize("description", ["TQ4,QJL", "IDMap,TQ2", "Flat"])
def test_pickle_and_deepcopy_give_an_independent_equal_index(gaussian, description):
    import copy
    import pickle
    xb, xq = gaussian
    index = filled(description, xb)
    for clone in (pickle.loads(pickle.dumps(index)), copy.deepcopy(index)):
        assert type(clone) is type(index) and clone.ntotal == index.ntotal
        np.testing.assert_array_equal(clone.search(xq, 5)[1], index.search(xq, 5)[1])
        clone.reset()
        assert index.ntotal == len(xb)
