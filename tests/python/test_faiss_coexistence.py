"""tqsearch links its own (Debian, static) FAISS and hides it: the faiss-cpu wheel and tqsearch must load and work
together in one interpreter, in either import order, even with RTLD_GLOBAL."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tqsearch
from testutil import exact_knn, recall_at

faiss = pytest.importorskip("faiss", reason="faiss-cpu not installed (pip install -r python/requirements-dev.txt)")


def test_faiss_and_tqsearch_search_correctly_in_one_interpreter(gaussian):
    xb, xq = gaussian
    gt = exact_knn(xb, xq, 10, "l2")
    flat = faiss.IndexFlatL2(64)
    flat.add(xb)
    _, If = flat.search(xq, 10)
    assert recall_at(If, gt, 10) == 1.0
    ours = tqsearch.IndexTurboQuant(64, bits=4, metric="l2")
    ours.add(xb)
    _, It = ours.search(xq, 10)
    assert recall_at(It, gt, 10) >= 0.8
    # FAISS's trained types and ours, interleaved
    sq = faiss.index_factory(64, "SQ8")
    sq.train(xb)
    sq.add(xb)
    _, Is = sq.search(xq, 10)
    _, It2 = ours.search(xq, 10)
    np.testing.assert_array_equal(It, It2)
    assert recall_at(Is, gt, 10) >= 0.9


def test_plain_faiss_index_files_are_exchanged_both_ways(tmp_path, gaussian):
    xb, xq = gaussian
    f = faiss.IndexFlatL2(64)
    f.add(xb)
    faiss.write_index(f, str(tmp_path / "flat.faiss"))
    ours = tqsearch.read_index(tmp_path / "flat.faiss")
    np.testing.assert_array_equal(ours.search(xq, 5)[1], f.search(xq, 5)[1])
    t = tqsearch.index_factory(64, "Flat", "l2")
    t.add(xb)
    tqsearch.write_index(t, tmp_path / "t.faiss")
    back = faiss.read_index(str(tmp_path / "t.faiss"))
    np.testing.assert_array_equal(back.search(xq, 5)[1], t.search(xq, 5)[1])


def test_thread_settings_are_independent():
    before_f, before_t = faiss.omp_get_max_threads(), tqsearch.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(1)
        tqsearch.omp_set_num_threads(2)
        assert tqsearch.omp_get_max_threads() == 2
        assert faiss.omp_get_max_threads() == 1
    finally:
        faiss.omp_set_num_threads(before_f)
        tqsearch.omp_set_num_threads(before_t)


def core_path() -> str:
    return tqsearch._core.__file__


def test_the_extension_exports_only_its_init_function():
    lib = ctypes.CDLL(core_path())
    assert hasattr(lib, "PyInit__core")
    # FAISS 1.7.3 and tqsearch C++ symbols (mangled) must not be visible to the dynamic linker
    for sym in ("_ZN5faiss13index_factoryEiPKcNS_10MetricTypeE", "_ZN5faiss11write_indexEPKNS_5IndexEPKc",
                "_ZN5faiss10IndexFlatL2C1El", "_ZN8tqsearch11read_indexEPKc"):
        assert not hasattr(lib, sym), f"{sym} is exported"
    nm = shutil.which("nm")
    if nm:
        out = subprocess.run([nm, "-D", "--defined-only", core_path()], capture_output=True, text=True, check=True)
        exported = [line.split()[-1] for line in out.stdout.splitlines() if line.strip()]
        print("exported:", exported)
        assert exported == ["PyInit__core"]


SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    if os.environ.get("RTLD_GLOBAL") == "1":
        sys.setdlopenflags(os.RTLD_GLOBAL | os.RTLD_NOW)
    order = os.environ["ORDER"].split(",")
    mods = {name: __import__(name) for name in order}
    faiss, tqsearch = mods["faiss"], mods["tqsearch"]
    rng = np.random.default_rng(7)
    xb = rng.standard_normal((3000, 48)).astype("float32")
    xq = rng.standard_normal((20, 48)).astype("float32")
    f = faiss.IndexFlatL2(48); f.add(xb)
    _, gt = f.search(xq, 1)
    t = tqsearch.index_factory(48, "TQ4,RFlat", "l2"); t.add(xb)
    _, it = t.search(xq, 1)
    h = faiss.IndexHNSWFlat(48, 32); h.hnsw.efSearch = 128; h.add(xb)
    _, ih = h.search(xq, 1)
    assert (it[:, 0] == gt[:, 0]).all(), (it[:, 0], gt[:, 0])
    assert (ih[:, 0] == gt[:, 0]).mean() >= 0.9
    print("ok", faiss.__version__, tqsearch.__version__)
""")


@pytest.mark.parametrize("order", ["faiss,tqsearch", "tqsearch,faiss"])
@pytest.mark.parametrize("rtld_global", ["0", "1"])
def test_both_import_orders_work_in_a_fresh_interpreter(order, rtld_global):
    env = dict(os.environ, ORDER=order, RTLD_GLOBAL=rtld_global, OMP_NUM_THREADS="2")
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")
