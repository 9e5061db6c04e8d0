"""tqsearch: vector search with TurboQuant codes — no training, FAISS-shaped API.

    import numpy as np, tqsearch
    index = tqsearch.IndexTurboQuant(d=128, bits=4, metric="ip")
    index.add(xb)                       # (n, 128) float32
    D, I = index.search(xq, 10)         # (nq, 10) scores, (nq, 10) row numbers
    tqsearch.write_index(index, "x.tqs"); index = tqsearch.read_index("x.tqs")

Indexes from descriptions: tqsearch.index_factory(d, "IDMap,TQ4,QJL", "ip"). Errors raise tqsearch.Error
(a RuntimeError) with the C++ library's message; bad array arguments raise TypeError / ValueError.
The extension carries its own (hidden) FAISS build: `import faiss` from PyPI works beside it.
"""
from __future__ import annotations

import os as _os

import numpy as _np

from ._core import (  # noqa: F401
    HAVE_FILE_IO,
    METRIC_INNER_PRODUCT,
    METRIC_L2,
    Error,
    Index,
    IndexHNSW,
    IndexIDMap,
    IndexIDMap2,
    IndexPreTransform,
    IndexRefine,
    IndexRefineFlat,
    IndexTurboQuant,
    __version__,
    deserialize_index,
    index_factory,
    omp_get_max_threads,
    omp_set_num_threads,
    read_index,
    serialize_index,
    simd_level,
    write_index,
)

if HAVE_FILE_IO:
    from ._core import hdf5_supported, read_ids, read_vectors, write_vectors  # noqa: F401


def _expect_suffix(path, suffixes: tuple[str, ...], fn: str) -> str:
    p = _os.fspath(path)
    if not p.lower().endswith(suffixes):
        raise ValueError(f"{fn} reads {' / '.join(suffixes)} files, got '{p}' (read_vectors picks the format "
                         "from any supported extension)")
    return p


def _need_io(fn: str) -> None:
    if not HAVE_FILE_IO:
        raise Error(f"{fn}: this build of tqsearch has no file readers (tools/io was not built)")


def read_fvecs(path) -> _np.ndarray:
    """Read a TEXMEX .fvecs file as (n, d) float32. Malformed files raise tqsearch.Error naming the row."""
    _need_io("read_fvecs")
    return read_vectors(_expect_suffix(path, (".fvecs",), "read_fvecs"))


def read_bvecs(path) -> _np.ndarray:
    """Read a TEXMEX .bvecs file as (n, d) uint8."""
    _need_io("read_bvecs")
    return read_ids(_expect_suffix(path, (".bvecs",), "read_bvecs")).astype(_np.uint8)


def read_ivecs(path) -> _np.ndarray:
    """Read a TEXMEX .ivecs file (e.g. ground truth) as (n, k) int32."""
    _need_io("read_ivecs")
    return read_ids(_expect_suffix(path, (".ivecs",), "read_ivecs")).astype(_np.int32)


def read_fbin(path) -> _np.ndarray:
    """Read a big-ann-benchmarks .fbin file (uint32 n, uint32 d, then n·d float32) as (n, d) float32."""
    _need_io("read_fbin")
    return read_vectors(_expect_suffix(path, (".fbin",), "read_fbin"))


def read_ibin(path) -> _np.ndarray:
    """Read a big-ann-benchmarks .ibin file as (n, d) int32."""
    _need_io("read_ibin")
    return read_ids(_expect_suffix(path, (".ibin",), "read_ibin")).astype(_np.int32)


def read_npy(path) -> _np.ndarray:
    """Read a .npy vector file (float32 or float16, C order) as (n, d) float32 through tqsearch's checked reader
    (NaN/Inf rejected); numpy.load works too."""
    _need_io("read_npy")
    return read_vectors(_expect_suffix(path, (".npy",), "read_npy"))


def write_fvecs(path, x) -> None:
    """Write (n, d) float32 rows as a TEXMEX .fvecs file."""
    _need_io("write_fvecs")
    write_vectors(_expect_suffix(path, (".fvecs",), "write_fvecs"), _np.ascontiguousarray(x, dtype=_np.float32))


def write_ivecs(path, x) -> None:
    """Write (n, k) integer rows as a TEXMEX .ivecs file (values must fit int32)."""
    _need_io("write_ivecs")
    write_vectors(_expect_suffix(path, (".ivecs",), "write_ivecs"), _np.ascontiguousarray(x, dtype=_np.int64))
