"""Batch inference over an existing engine (README "Scale-out"): a Session
pickles to its compiled form and travels to Ray actors and Dask workers;
each recipe's results are compared with a plain loop over the same data.
Ray and Dask are optional extras (pip install '.[ray]' / '.[dask]')."""
from __future__ import annotations

import os

import numpy as np
import pytest

import cnnrt
from helpers import assert_close

DEMO = os.path.join(os.path.dirname(cnnrt.__file__), "demo", "lenet5_digits.onnx")
N, BATCH = 96, 16


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(7).random([N, 1, 32, 32], dtype=np.float32)


@pytest.fixture(scope="module")
def session():
    return cnnrt.load(DEMO, threads=1)


@pytest.fixture(scope="module")
def expected(session, data):
    """The plain loop, batch by batch as the engines split the data."""
    return np.concatenate([session.infer(data[i:i + BATCH]) for i in range(0, N, BATCH)])


# ---------------------------------------------------------------- Ray Data


class Predictor:
    """One session per actor: Ray pickles the session once per actor."""

    def __init__(self, session):
        self.session = session

    def __call__(self, batch):
        out = {"y": self.session.infer(np.ascontiguousarray(batch["x"]))}
        if "i" in batch:  # the row index travels with its result
            out["i"] = batch["i"]
        return out


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install '.[ray]'")
    # The workers import this module (Predictor) by name: they start with the
    # driver's environment, so put the tests folder on their path.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.abspath(__file__))] + ([old] if old else []))
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray(ray_local, session, data, expected):
    """One test, so that one pytest-xdist worker starts one Ray: Ray core
    actors, then Ray Data (which needs pandas and pyarrow, ray[data])."""
    _ray_actors(ray_local, session, data, expected)
    pytest.importorskip("pandas", reason="Ray Data needs pandas and pyarrow: pip install '.[ray]' (ray[data]); "
                                         "the actor recipe above ran and passed")
    pytest.importorskip("ray.data", reason="Ray Data is missing: pip install '.[ray]' (ray[data]); "
                                           "the actor recipe above ran and passed")
    _ray_data(session, data, expected)


def _ray_actors(ray_local, session, data, expected):
    """Ray core, without Ray Data: two actors, each holding one session."""
    ray = ray_local
    actor = ray.remote(num_cpus=1)(Predictor)
    ref = ray.put(session)  # pickled once, to its compiled form
    actors = [actor.remote(ref) for _ in range(2)]
    futures = [actors[k % 2].__call__.remote({"x": data[i:i + BATCH]}) for k, i in enumerate(range(0, N, BATCH))]
    got = np.concatenate([r["y"] for r in ray.get(futures)])
    assert np.array_equal(got, expected)


def _ray_data(session, data, expected):
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    ds = ray.data.from_items([{"i": i, "x": data[i]} for i in range(N)])
    out = ds.map_batches(Predictor, fn_constructor_args=(session,), batch_size=BATCH, batch_format="numpy",
                         concurrency=2)
    rows = out.take_all()
    assert len(rows) == N
    got = np.stack([r["y"] for r in sorted(rows, key=lambda r: int(r["i"]))])
    assert sorted(int(r["i"]) for r in rows) == list(range(N))
    # Ray forms its own batches (block boundaries), so a row may run in
    # another batch than in the loop: equal within the DESIGN tolerance.
    assert_close(got, expected, "Ray Data vs a plain loop")
    assert np.array_equal(got.argmax(1), expected.argmax(1))


# ---------------------------------------------------------------- Dask


def _infer_block(block, session):
    return session.infer(np.ascontiguousarray(block))


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array", reason="Dask is an optional extra: pip install '.[dask]'")
    distributed = pytest.importorskip("distributed", reason="dask.distributed is missing: pip install '.[dask]'")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask(dask_client, session, data, expected):
    """One test, so that one pytest-xdist worker starts one LocalCluster."""
    _dask_array_map_blocks(dask_client, session, data, expected)
    _dask_bag(dask_client, session, data, expected)


def _dask_array_map_blocks(dask_client, session, data, expected):
    import dask.array as da

    x = da.from_array(data, chunks=(BATCH, 1, 32, 32))
    sess = dask_client.scatter(session, broadcast=True)  # pickled once, one copy per worker
    y = x.map_blocks(_infer_block, sess, dtype=np.float32, drop_axis=[2, 3], chunks=(BATCH, 10))
    got = y.compute()
    assert got.shape == (N, 10)
    assert np.array_equal(got, expected)
    # The cluster ran with its two worker processes.
    assert len(dask_client.scheduler_info()["workers"]) == 2


def _dask_bag(dask_client, session, data, expected):
    import dask.bag as db

    batches = [data[i:i + BATCH] for i in range(0, N, BATCH)]
    sess = dask_client.scatter(session, broadcast=True)
    got = db.from_sequence(batches, npartitions=2).map(_infer_block, sess).compute()
    assert np.array_equal(np.concatenate(got), expected)
