import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data


class _Recorder(keras.callbacks.Callback):
    """Reads the β and free-bits floor that each step used (the Variables after the step)."""

    def __init__(self):
        super().__init__()
        self.beta, self.free_bits = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.beta.append(float(self.model.beta.numpy()))
        self.free_bits.append(float(self.model.free_bits.numpy()))


def _wide_posterior(model, factor=8.0):
    kernel = model.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * factor)  # a KL large enough to see


def test_warmup_assigns_beta_per_step_and_logs_it_per_epoch():
    model = tiny_vae()
    warmup, recorder = kvae.callbacks.KLWarmup(duration=6), _Recorder()
    history = model.fit(uniform_data(16), batch_size=4, epochs=2, verbose=0, callbacks=[warmup, recorder])
    assert recorder.beta == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1, 1])
    assert history.history["beta"] == pytest.approx([3 / 6, 1.0])
    # A second fit continues from the optimizer's step count, as a resumed run must.
    model.beta.assign(0.0)
    more = _Recorder()
    model.fit(uniform_data(16), batch_size=4, epochs=1, verbose=0,
              callbacks=[kvae.callbacks.KLWarmup(duration=10), more])
    assert more.beta == pytest.approx([0.8, 0.9, 1.0, 1.0])


def test_cyclical_annealing_per_epoch():
    model = tiny_vae()
    cycles = kvae.callbacks.CyclicalKLAnnealing(period=3, ratio=0.5, low=0.1, high=0.7, unit="epoch")
    history = model.fit(uniform_data(8), batch_size=8, epochs=6, verbose=0, callbacks=[cycles])
    third = 0.1 + 0.6 * (1 / 3) / 0.5
    assert history.history["beta"] == pytest.approx([0.1, third, 0.7] * 2)


def test_beta_assigned_by_a_callback_changes_the_optimised_loss_without_retracing():
    # Epoch 1 traces the step with β = 1; the schedule then sets β = 0. A Python
    # float would be frozen into the trace and epoch 2 would still add the KL.
    keras.utils.set_random_seed(0)  # fixed initial weights: a KL of the same size every run
    model = tiny_vae()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    _wide_posterior(model)
    x = uniform_data(16)
    schedule = kvae.callbacks.VariableSchedule(lambda epoch: [1.0, 0.0][epoch], unit="epoch")
    snapshot = _Snapshot()
    history = model.fit(x, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[schedule, snapshot])
    h = history.history
    assert h["beta"] == [1.0, 0.0]
    assert h["loss"][0] == pytest.approx(h["reconstruction"][0] + h["kl"][0], rel=1e-5)
    assert h["loss"][1] == pytest.approx(h["reconstruction"][1], rel=1e-6) and h["kl"][1] > 1.0
    # The update used β = 0 too: one SGD step from the epoch-1 state equals
    # w − lr·∇ mean(reconstruction), computed here eagerly with the same noise.
    final = [w.numpy() for w in model.trainable_weights]
    with_beta_0 = _expected_sgd_step(snapshot.state, model, x, beta=0.0, lr=0.1)
    with_beta_1 = _expected_sgd_step(snapshot.state, model, x, beta=1.0, lr=0.1)
    for w, expected, frozen in zip(final, with_beta_0, with_beta_1):
        np.testing.assert_allclose(w, expected, rtol=1e-5, atol=1e-6)
    assert max(np.abs(w - f).max() for w, f in zip(final, with_beta_1)) > 1e-3


class _Snapshot(keras.callbacks.Callback):
    """Weights and noise-generator state at the end of the first epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.state = ([w.numpy() for w in self.model.trainable_weights],
                          self.model.seed_generator.state.numpy())


def _expected_sgd_step(state, model, x, beta, lr):
    weights, seed_state = state
    for w, value in zip(model.trainable_weights, weights):
        w.assign(value)
    model.seed_generator.state.assign(seed_state)
    with tf.GradientTape() as tape:
        reconstruction, kl = model.elbo_terms(tf.constant(x), training=True)
        loss = tf.reduce_mean(reconstruction + beta * kl)
    gradients = tape.gradient(loss, model.trainable_weights)
    return [w - lr * g.numpy() for w, g in zip(weights, gradients)]


def test_free_bits_floor_each_dimensions_kl_in_the_loss():
    # Fixed initial weights (they follow Keras' global seed): a posterior with KLs on both sides of the floor.
    keras.utils.set_random_seed(0)
    model = tiny_vae(latent_dim=5, beta=0.5, free_bits=0.3)
    _wide_posterior(model, 3.0)
    x = uniform_data(32)
    normal = model.encode(x).distribution
    mu, sigma = normal.loc.numpy().astype("float64"), normal.scale.numpy().astype("float64")
    kl_j = -0.5 * (1 + np.log(sigma**2) - mu**2 - sigma**2)  # [batch, latent]
    assert (kl_j < 0.3).any() and (kl_j > 0.3).any()  # the floor matters for some, not all
    logs = model.evaluate(x, batch_size=32, return_dict=True, verbose=0)
    # loss − reconstruction comes from the same sample: exactly β Σ_j max(λ, KL_j).
    assert logs["loss"] - logs["reconstruction"] == pytest.approx(
        0.5 * np.maximum(kl_j, 0.3).sum(axis=1).mean(), rel=1e-4
    )
    assert logs["kl"] == pytest.approx(kl_j.sum(axis=1).mean(), rel=1e-4)  # the metric is the true KL
    # Below the floor a dimension's KL gets no gradient; above, the usual one.
    kl = tf.Variable(np.array([[0.1, 0.5]], "float32"))
    with tf.GradientTape() as tape:
        objective = model.objective.loss(tf.zeros([1]), kl)
    np.testing.assert_allclose(tape.gradient(objective, kl), [[0.0, 0.5]])


def test_free_bits_schedule_and_config():
    model = tiny_vae(free_bits=0.0)
    schedule = kvae.callbacks.KLWarmup(duration=2, start=1.0, end=0.0, unit="epoch", variable="free_bits")
    history = model.fit(uniform_data(8), batch_size=8, epochs=3, verbose=0, callbacks=[schedule])
    assert history.history["free_bits"] == [1.0, 0.5, 0.0]
    assert kvae.VAE.from_config(tiny_vae(free_bits=0.25).get_config()).free_bits.numpy() == 0.25
    assert any(v is model.free_bits for v in model.non_trainable_variables)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: kvae.callbacks.KLWarmup(duration=0), "`duration` must be a positive integer, received: 0"),
        (lambda: kvae.callbacks.KLWarmup(10, end=-1.0), "`end` must be a finite number >= 0, received: -1.0"),
        (lambda: kvae.callbacks.KLWarmup(10, unit="batch"), "`unit` must be one of ['step', 'epoch'], received: 'batch'"),
        (lambda: kvae.callbacks.CyclicalKLAnnealing(4, ratio=0), "`ratio` must be a number in (0, 1], received: 0"),
        (lambda: kvae.callbacks.VariableSchedule(0.5), "`schedule` must be callable (t -> value), received: 0.5"),
        (lambda: kvae.callbacks.VariableSchedule(abs, variable="gamma"), "`variable` must be one of ['beta', 'free_bits'], received: 'gamma'"),
        (lambda: kvae.callbacks.ImageLogger(np.zeros((2, 4))), "pass `out_dir` (PNG files), `log_dir` (TensorBoard) or both; received neither"),
        (lambda: kvae.callbacks.ImageLogger(np.zeros((2, 4)), every=0, out_dir="x"), "`every` must be a positive integer (epochs), received: 0"),
        (lambda: kvae.callbacks.LatentScatter(np.zeros((3, 4)), labels=[0, 1], out_dir="x"), "`labels` must have shape (3,), one per example of `x`, received shape (2,)"),
        (lambda: kvae.VAE(None, None, 2, free_bits=-0.1), "`free_bits` must be a finite float >= 0 (nats per latent dimension) or a kvae.schedules.Schedule, received: -0.1"),
    ],
)
def test_bad_arguments_are_clear_errors(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == message


def test_schedule_errors_name_the_problem_before_any_step():
    model = tiny_vae()
    before = [w.numpy() for w in model.trainable_weights]
    with pytest.raises(ValueError, match=r"`schedule` must return a finite value >= 0 for `beta`, received -1.0 at step 0"):
        model.fit(uniform_data(8), epochs=1, verbose=0, callbacks=[kvae.callbacks.VariableSchedule(lambda t: -1.0)])
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    plain.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"`KLWarmup` needs a model with a `beta` keras.Variable \(a kvae.VAE whose objective has one, e.g. kvae.objectives.ELBO\), received a Sequential"):
        plain.fit(np.zeros((4, 4)), np.zeros((4, 1)), verbose=0, callbacks=[kvae.callbacks.KLWarmup(5)])
    for w, b in zip(model.trainable_weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def _events(log_dir):
    """{tag: [(step, image height, image width)]} from TensorBoard event files."""
    found = {}
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)  # [width, height, png bytes...]
                image = tf.io.decode_png(tensor[2])
                found.setdefault(value.tag, []).append((event.step, int(tensor[1]), int(tensor[0]), image.shape))
    return found


def test_image_logger_writes_pngs_of_the_grid_size_and_tensorboard_images(tmp_path):
    model = tiny_vae(input_shape=(6, 5, 1))
    x = uniform_data(32, (6, 5, 1))
    logger = kvae.callbacks.ImageLogger(
        x[:5], every=2, num_samples=10, columns=4, out_dir=tmp_path / "png", log_dir=tmp_path / "tb"
    )
    model.fit(x, batch_size=8, epochs=4, verbose=0, callbacks=[logger])
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "reconstructions_epoch_0002.png", "reconstructions_epoch_0004.png",
        "samples_epoch_0002.png", "samples_epoch_0004.png",
    ]
    # Samples: 10 cells of 6×5 in rows of 4 → 3 rows; 1-pixel borders.
    samples = tf.io.decode_png((tmp_path / "png" / "samples_epoch_0004.png").read_bytes()).numpy()
    assert samples.shape == (3 * 7 + 1, 4 * 6 + 1, 1)
    # Reconstructions: input row, reconstruction row, for each 4 inputs → 4 rows.
    recon = tf.io.decode_png((tmp_path / "png" / "reconstructions_epoch_0004.png").read_bytes()).numpy()
    assert recon.shape == (4 * 7 + 1, 4 * 6 + 1, 1)
    # The first cell of the first row is the first input, pixel for pixel.
    np.testing.assert_array_equal(recon[1:7, 1:6, 0], np.round(x[0, ..., 0] * 255).astype("uint8"))
    # The same prior draws every time: samples change only because training did.
    np.testing.assert_array_equal(
        samples, kvae.plotting.tile(np.asarray(model.sample(10, seed=0)), 4)
    )
    events = _events(tmp_path / "tb")
    assert sorted(events) == ["reconstructions", "samples"]
    assert [(step, h, w) for step, h, w, _ in events["samples"]] == [(2, 22, 25), (4, 22, 25)]
    assert events["reconstructions"][-1][3] == (29, 25, 1)


def test_latent_traversal_draws_a_manifold_for_two_dims_and_rows_otherwise(tmp_path):
    two = tiny_vae(latent_dim=2)
    images = kvae.callbacks.LatentTraversal(grid_size=5, out_dir=tmp_path)
    two.fit(uniform_data(8), epochs=1, verbose=0, callbacks=[images])
    manifold = tf.io.decode_png((tmp_path / "manifold_epoch_0001.png").read_bytes())
    assert manifold.shape == (5 * 5 + 1, 5 * 5 + 1, 1)
    # Its cells are the decoder means at the prior quantiles, row 0 at the top z₂.
    cells = kvae.plotting.manifold(two, size=5)
    z_corner = np.array([[tf.math.ndtri(0.025).numpy(), tf.math.ndtri(0.975).numpy()]], "float32")
    np.testing.assert_allclose(cells[0], two.decode(z_corner).mean()[0], rtol=1e-5)

    five = tiny_vae(latent_dim=5)
    x = uniform_data(16)
    kernel = five.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * np.array([0, 0, 0, 9, 0, 1, 1, 1, 1, 1], "float32"))  # only loc 3 varies
    images = kvae.callbacks.LatentTraversal(x=x, values=[-2.0, 0.0, 2.0], max_dims=2, out_dir=tmp_path)
    images.set_model(five)
    traversal = images.pictures(1)["traversal"]
    assert traversal.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    expected = kvae.plotting.tile(kvae.plotting.traversal(five, dims=[3], values=[-2.0, 0.0, 2.0]), 3)
    np.testing.assert_array_equal(traversal[: expected.shape[0] - 1], expected[:-1])  # row 1 = dim 3


def test_latent_scatter_writes_a_png_and_projects_with_pca(tmp_path):
    model = tiny_vae(latent_dim=4)
    x = uniform_data(40)
    scatter = kvae.callbacks.LatentScatter(x, labels=np.arange(40) % 4, out_dir=tmp_path, log_dir=tmp_path / "tb")
    model.fit(x, epochs=2, verbose=0, callbacks=[scatter])
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["latent_epoch_0001.png", "latent_epoch_0002.png"]
    assert tf.io.decode_png((tmp_path / "latent_epoch_0002.png").read_bytes()).shape == (500, 550, 3)
    assert [step for step, *_ in _events(tmp_path / "tb")["latent"]] == [1, 2]
    points = np.random.default_rng(0).normal(size=(200, 3)) @ np.diag([3.0, 1.0, 0.1])
    projected, ratio = kvae.plotting.pca_2d(points)
    np.testing.assert_allclose(np.abs(np.corrcoef(projected[:, 0], points[:, 0])[0, 1]), 1.0, atol=1e-3)
    assert ratio[0] > 0.85 and ratio.sum() < 1.0
