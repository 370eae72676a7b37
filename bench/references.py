"""The two implementations kvae is measured against, written as their users write them.

- `train_pytorch`: the classic PyTorch VAE example (pytorch/examples `vae/main.py`): 784-400-20 MLP,
  ReLU, sigmoid output with `binary_cross_entropy(reduction="sum")`, Adam 1e-3, batch 128.
- `train_pytorch` with `fast=True`: the same network written the fastest honest way: the decoder
  emits logits and the loss is `binary_cross_entropy_with_logits` (one fused kernel and no
  sigmoid/log round trip), `nn.Linear`'s own initialisation, Adam 1e-3; `bfloat16=True` runs the
  forward pass under `torch.autocast("cpu", dtype=torch.bfloat16)`, PyTorch's mixed precision.
- `train_keras_io`: the keras.io "Variational AutoEncoder" example's pattern (a `Sampling` layer, a
  custom `train_step` with `GradientTape`, loss trackers, plain `compile`, no tfp) with the same MLP.

Each returns per-epoch seconds and the test −ELBO in nats per example (one posterior sample per
example, as each example's own evaluation does).
"""

import os
import time


HIDDEN, LATENT, PIXELS = 400, 20, 784
CONV_HIDDEN = 256


def build_kvae(x, seed, likelihood="bernoulli", fused_adam=False, steps_per_execution="auto", dtype=None,
               architecture="mlp", jit_compile="auto"):
    """kvae's side of every comparison: the same network, built and compiled as the README shows.

    `architecture="mlp"` is the 784-400-20 MLP; `"conv"` is `build_vae`'s conv VAE with the
    Fashion-MNIST example's Dense 256 (`train_pytorch_conv` is its PyTorch twin).
    """
    import keras

    import kvae

    keras.utils.set_random_seed(seed)
    hidden = (CONV_HIDDEN,) if architecture == "conv" else (HIDDEN,)
    vae = kvae.build_vae(x.shape[1:], LATENT, architecture=architecture, hidden_units=hidden,
                         likelihood=likelihood, seed=seed, dtype=dtype)
    # "adam" is `compile()`'s default: the fused `kvae.optimizers.Adam`, learning rate 1e-3.
    optimizer = "adam" if fused_adam else keras.optimizers.Adam(1e-3)
    vae.compile(optimizer=optimizer, steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return vae


def train_pytorch(x_train, x_test, seed, epochs, batch_size=128, fast=False, bfloat16=False):
    import contextlib

    begin = time.perf_counter()  # a whole fit is timed from building the model, as kvae's

    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(PIXELS, HIDDEN)
            self.fc21 = nn.Linear(HIDDEN, LATENT)
            self.fc22 = nn.Linear(HIDDEN, LATENT)
            self.fc3 = nn.Linear(LATENT, HIDDEN)
            self.fc4 = nn.Linear(HIDDEN, PIXELS)

        def forward(self, x):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            logits = self.fc4(F.relu(self.fc3(z)))
            return (logits if fast else torch.sigmoid(logits)), mu, logvar

    def loss_function(recon, x, mu, logvar):
        recon, mu, logvar = recon.float(), mu.float(), logvar.float()  # sums in float32
        if fast:
            bce = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
        else:
            bce = F.binary_cross_entropy(recon, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    def autocast():
        if bfloat16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    model = VAE()
    train = torch.from_numpy(x_train.reshape(len(x_train), PIXELS))
    test = torch.from_numpy(x_test.reshape(len(x_test), PIXELS))
    return _torch_fit(model, loss_function, train, test, seed, epochs, batch_size, autocast, begin)


def train_pytorch_conv(x_train, x_test, seed, epochs, batch_size=128, channels_last=False, bfloat16=False):
    """kvae's conv VAE (`architecture="conv"`, filters (32, 64), Dense 256, z 20) written in PyTorch.

    Encoder: two 3×3 stride-2 convolutions (32, 64; ReLU) to 7×7, Dense 256 (ReLU), Dense 2·20;
    decoder: Dense 256, Dense 7·7·64 (ReLU), two 3×3 stride-2 transposed convolutions (64, 32; ReLU),
    a 3×3 convolution to the logits; `binary_cross_entropy_with_logits`, Adam 1e-3. `channels_last`
    puts the model and the batches in PyTorch's NHWC memory format (the default is NCHW);
    `bfloat16` runs the forward pass under `torch.autocast`. Timed like `train_pytorch`.
    """
    import contextlib

    begin = time.perf_counter()

    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    class ConvVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1),
                nn.ReLU(), nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Linear(256, 2 * LATENT))
            self.decoder = nn.Sequential(
                nn.Linear(LATENT, CONV_HIDDEN), nn.ReLU(), nn.Linear(CONV_HIDDEN, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                nn.Conv2d(32, 1, 3, padding=1))

        def forward(self, x):
            mu, logvar = self.encoder(x).chunk(2, dim=-1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.decoder(z), mu, logvar

    def loss_function(logits, x, mu, logvar):
        logits, mu, logvar = logits.float(), mu.float(), logvar.float()
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16 else contextlib.nullcontext()

    model = ConvVAE().to(memory_format=fmt)
    to_nchw = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=fmt)  # noqa: E731
    train, test = to_nchw(x_train), to_nchw(x_test)
    return _torch_fit(model, loss_function, train, test, seed, epochs, batch_size, autocast, begin,
                      layout=lambda batch: batch.contiguous(memory_format=fmt))


def _torch_fit(model, loss_function, train, test, seed, epochs, batch_size, autocast, begin, layout=lambda b: b):
    """PyTorch's training loop for both references: shuffled batches, Adam 1e-3, timed like kvae's `fit`.

    `loss_function(outputs, batch, mu, logvar)` is the batch's summed −ELBO; `layout` puts a batch in the
    model's memory format. Returns per-epoch and whole-fit seconds, the first step's, and test −ELBO.
    """
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    epoch_seconds, first_step = [], None
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(train), generator=generator).split(batch_size):
            batch = layout(train[idx])
            optimizer.zero_grad()
            with autocast():
                outputs, mu, logvar = model(batch)
            loss_function(outputs, batch, mu, logvar).backward()
            optimizer.step()
            if first_step is None:
                first_step = time.perf_counter() - begin
        epoch_seconds.append(time.perf_counter() - start)
    fit_seconds = time.perf_counter() - begin
    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in test.split(500):
            with autocast():
                outputs, mu, logvar = model(layout(batch))
            total += loss_function(outputs, batch, mu, logvar).item()
    return {"epoch_seconds": epoch_seconds, "test_neg_elbo": total / len(test), "fit_seconds": fit_seconds,
            "first_step_seconds": first_step}


def train_keras_io(x_train, x_test, seed, epochs, batch_size=128):
    import keras
    import tensorflow as tf
    from keras import layers, ops

    keras.utils.set_random_seed(seed)

    class Sampling(layers.Layer):
        """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Flatten()(encoder_inputs)
    x = layers.Dense(HIDDEN, activation="relu")(x)
    z_mean = layers.Dense(LATENT, name="z_mean")(x)
    z_log_var = layers.Dense(LATENT, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = keras.Input(shape=(LATENT,))
    x = layers.Dense(HIDDEN, activation="relu")(latent_inputs)
    x = layers.Dense(PIXELS, activation="sigmoid")(x)
    decoder = keras.Model(latent_inputs, layers.Reshape((28, 28, 1))(x), name="decoder")

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def losses_of(self, data):
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            return reconstruction_loss, kl_loss

        def train_step(self, data):
            with tf.GradientTape() as tape:
                reconstruction_loss, kl_loss = self.losses_of(data)
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {m.name: m.result() for m in self.metrics}

    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    timer = _EpochTimer()
    vae.fit(x_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=[timer])
    total = 0.0
    for start in range(0, len(x_test), 500):
        batch = tf.constant(x_test[start : start + 500])
        r, k = vae.losses_of(batch)
        total += float(r + k) * len(batch)
    return {"epoch_seconds": timer.seconds, "test_neg_elbo": total / len(x_test)}


def _timer_base():
    import keras

    return keras.callbacks.Callback


class _EpochTimer(_timer_base()):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def training_flops_per_example(layers):
    """Matmul FLOPs of one training example through dense layers [(in, out), ...].

    Forward 2·in·out per layer, the weight gradient as much again, and the input
    gradient as much again except for the first layer (nothing needs ∂/∂x).
    """
    macs = [i * o for i, o in layers]
    return 2 * sum(macs) * 3 - 2 * macs[0]


# The 784-400-20 VAE: encoder 784→400→(20+20), decoder 20→400→784.
VAE_LAYERS = [(PIXELS, HIDDEN), (HIDDEN, 2 * LATENT), (LATENT, HIDDEN), (HIDDEN, PIXELS)]
