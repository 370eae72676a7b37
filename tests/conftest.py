import gzip
import importlib.util
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite compiles ~50 small train steps with XLA to show they compile and train; LLVM's
# optimisation passes (and its expensive ones, 10-25% of the rest) are a second of each compile and
# change no step's meaning.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kvae  # noqa: E402


# The suite's longest tests (20-60 s each on 2 cores, `--durations`), started first so that the last
# minutes of a parallel run are short tests on every worker, not one long test with the others idle.
LONGEST_FIRST = (
    "tests/test_parts.py::test_every_registered_part_takes_the_same_steps_on_two_replicas",
    "tests/test_bench.py::test_hierarchy_bench_smoke",
    "tests/test_resume.py::test_multi_worker_run_resumes_after_a_worker_is_killed",
    "tests/test_run_folder.py::test_a_run_killed_at_every_commit_point",
    "tests/test_hierarchy.py::test_a_residual_conv_ladder_vae_passes_the_model_harness",
    "tests/test_bench.py::test_performance_bench_runs_end_to_end",
    "tests/test_bench.py::test_whole_fit_bench_times_each_row",
    "tests/test_own_data.py::test_two_workers_train_on_their_own_tfrecord_shards",
    "tests/test_cli_front_end.py::test_a_command_shows_no_tensorflow_log_lines",
    "tests/test_readme.py::test_your_own_data_commands_run",
    "tests/test_cli_front_end.py::test_errors_are_one_line_without_traceback",
    "tests/test_bench.py::test_regression_bench_smoke",
    "tests/test_custom_parts.py::test_parts_from_outside_kvae_take_the_same_steps_on_two_replicas",
    "tests/test_resume.py::test_killed_run_resumes_and_ends_like_an_uninterrupted_one",
    "tests/test_bench.py::test_ablations_bench_runs_every_variant",
)


def _rank(item):
    return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(items):
    # End-to-end tests are slow ones: the fast subset is `-m "not slow"`.
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_rank)  # stable: every other test keeps its place



ROOT = Path(__file__).resolve().parent.parent


def load_script(relative_path):
    """Imports a script of the repo (examples/, bench/) as a module."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_vae(input_shape=(4, 4, 1), latent_dim=3, likelihood="bernoulli", **kwargs):
    """A small MLP VAE, compiled, for fast tests."""
    kwargs.setdefault("hidden_units", (8,))
    kwargs.setdefault("seed", 1)
    model = kvae.build_vae(input_shape, latent_dim, likelihood=likelihood, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def uniform_data(n=16, shape=(4, 4, 1), seed=0):
    return np.random.default_rng(seed).uniform(size=(n,) + tuple(shape)).astype("float32")


def run_serialization_test(instance):
    """get_config → from_config gives an equal config (keras-hub's helper, in small)."""
    config = instance.get_config()
    revived = type(instance).from_config(config)
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(instance)
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is type(instance)
    assert revived.get_config() == config
    return revived


@pytest.fixture(scope="session")
def digits():
    return kvae.data.load_digits()


@pytest.fixture(scope="session")
def trained_digits_vae(digits):
    """An MLP VAE trained on the digits for 40 epochs (a few seconds)."""
    keras.utils.set_random_seed(0)
    model = kvae.build_vae(digits.event_shape, 8, hidden_units=(128,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(kvae.data.make_dataset(digits.x_train, 64, shuffle=True, seed=0), epochs=40, verbose=0)
    return model


def write_idx(path, array, compress=True, magic=None):
    """Writes `array` as an IDX file (the Fashion-MNIST format), gzipped by default."""
    array = np.asarray(array, np.uint8)
    header = (magic or (0x800 + array.ndim)).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.fixture(scope="session")
def fashion_data_dir(tmp_path_factory):
    """Where the Fashion-MNIST IDX files are: None for the installed ones.

    .ci/run installs the Debian package; on a machine without it (and no
    root to install it) the examples run on a stand-in with the same format:
    the digits upscaled to 28×28 with their labels, so every code path still
    runs, on real images, with ten real classes.
    """
    from kvae.data import fashion_mnist

    if any(d.is_dir() and any(d.glob("train-images-idx3-ubyte*")) for d in fashion_mnist.candidate_dirs()):
        return None
    print("Fashion-MNIST is not installed: the examples run on digits upscaled to 28×28")
    directory = tmp_path_factory.mktemp("fashion_standin")
    digits = kvae.data.load_digits()
    for split, x, y in (("train", digits.x_train, digits.y_train), ("t10k", digits.x_test, digits.y_test)):
        images = np.kron(x[..., 0], np.ones((3, 3)))  # 24×24
        images = np.pad(images, ((0, 0), (2, 2), (2, 2))) * 255
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", np.round(images))
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", y)
    return str(directory)


@pytest.fixture
def autograph_conversions(monkeypatch):
    """The functions AutoGraph rewrites from now on, cached rewrites included (a list of their names)."""
    from tensorflow.python.autograph.impl import api

    converted = []
    transform = api._TRANSPILER.transform

    def recording(entity, program_ctx):
        converted.append(f"{getattr(entity, '__module__', '?')}.{getattr(entity, '__qualname__', entity)}")
        return transform(entity, program_ctx)

    monkeypatch.setattr(api._TRANSPILER, "transform", recording)
    return converted


def pytest_runtest_logfinish(nodeid, location):
    # KVAE_TEST_TIMELINE=FILE appends "end time, worker, test" per test: where a run's wall time goes.
    path = os.environ.get("KVAE_TEST_TIMELINE")
    if path:
        import time

        with open(path, "a") as f:
            f.write(f"{time.time():.3f}\t{os.environ.get('PYTEST_XDIST_WORKER', 'main')}\t{nodeid}\n")
