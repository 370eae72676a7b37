"""The two sides of `bench/family.py`, each run in a fresh process: kvae's models and pythae's.

Both train the same 784-400-20 MLP (ReLU; the encoder gives μ and a scale per latent dimension, the
decoder Bernoulli parameters per pixel, on Fashion-MNIST's grey levels) with Adam 1e-3 and batch 128,
and are scored the same way on the same test images: the test −ELBO from one posterior sample per
image (closed-form KL with the N(0, I) prior, log q − log p otherwise) and the importance-sampled
NLL with K samples, log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), both per image in nats.

pythae's side is pythae's own `VAE`, `IWAE` and `VAMP` classes (their forward pass and loss) with
the networks above as its `BaseEncoder`/`BaseDecoder`, trained by a plain PyTorch loop (pythae's
`TrainingPipeline` adds checkpointing and logging around the same steps; the loop is its fastest
honest form). pythae's decoder ends in a sigmoid and its loss is `binary_cross_entropy` on it, as
pythae writes it; its NLL here is computed batched (pythae's `get_nll` scores one image at a time)
with full Gaussian constants and pythae's own `_log_p_z` for the VampPrior.
"""

import math
import os
import time

import numpy as np

HIDDEN, LATENT = 400, 20


def fashion(args, labels=False):
    import kvae

    data = kvae.data.load_fashion_mnist(args.get("data_dir"))
    train, test = slice(args.get("train_examples")), slice(args.get("test_examples"))
    if labels:
        return data.x_train[train], data.x_test[test], data.y_train[train], data.y_test[test]
    return data.x_train[train], data.x_test[test]


def train_kvae(args):
    """kvae: `build_vae(..., prior=, objective=)` + `compile()` + `fit(make_dataset)`, as the README shows."""
    import keras

    import kvae
    from bench.references import _EpochTimer

    x_train, x_test, y_train, y_test = fashion(args, labels=True)
    conditional = args.get("conditional", False)
    keras.utils.set_random_seed(args["seed"])
    prior = {"normal": "normal",
             "mixture": lambda: kvae.priors.GaussianMixture(args["components"], seed=args["seed"]),
             "vamp": lambda: kvae.priors.VampPrior(args["components"], seed=args["seed"])}[args["prior"]]
    objective = kvae.objectives.IWAE(args["k"]) if args["objective"] == "iwae" else "elbo"
    posterior = args.get("posterior", "normal")
    if posterior == "iaf":  # pythae's VAE_IAF defaults: 2 MADEs of 3 × 128 hidden units
        extra = {k: args[k] for k in ("context_units", "update") if k in args}  # kvae's defaults unless asked
        posterior = kvae.posteriors.IAF(args["iaf_steps"], hidden_units=(args["made_hidden"],) * args["made_layers"],
                                        **extra)
    vae = kvae.build_vae(x_train.shape[1:], LATENT, hidden_units=(HIDDEN,), seed=args["seed"],
                         prior=prior() if callable(prior) else prior, posterior=posterior, objective=objective,
                         num_classes=10 if conditional else None)
    # `compile()`'s default optimizer is the fused `kvae.optimizers.Adam` at 1e-3; "keras" keeps Keras' own.
    vae.compile(optimizer=keras.optimizers.Adam(1e-3) if args.get("optimizer") == "keras" else "adam")
    timer = _EpochTimer()
    train = kvae.data.make_dataset(x_train, 128, shuffle=True, seed=args["seed"], y=y_train if conditional else None)
    vae.fit(train, epochs=args["epochs"], verbose=0, shuffle=False, callbacks=[timer])
    start = time.perf_counter()
    scores = kvae.evaluation.evaluate(vae, x_test, iw_samples=args["iw_samples"], batch_size=500, seed=0,
                                      per_example=True, condition=y_test if conditional else None)
    np.savez(args["per_example"], **scores.pop("per_example"))
    result = {"epoch_seconds": timer.seconds, "eval_seconds": time.perf_counter() - start, **scores,
              "posterior": vae.parts["posterior"].summary(), "optimizer": f"{type(vae.optimizer).__module__}.{type(vae.optimizer).__name__}"}
    if conditional:
        result["generated_class_accuracy"] = _generated_class_accuracy(vae, x_train, y_train, x_test, y_test, args)
    return result


def _generated_class_accuracy(vae, x_train, y_train, x_test, y_test, args, per_class=100):
    """Does conditioning work? A classifier trained on the real images labels the samples made for class c.

    The classifier is a 784-256-10 MLP (Adam, 5 epochs) on the training images; its accuracy on
    the real test images is reported beside the fraction of `per_class` samples per class that
    it assigns to the class they were generated for.
    """
    import keras

    keras.utils.set_random_seed(args["seed"])
    classifier = keras.Sequential([keras.Input(x_train.shape[1:]), keras.layers.Flatten(),
                                   keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
    classifier.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    classifier.fit(x_train, y_train, batch_size=128, epochs=5, verbose=0)
    labels = np.repeat(np.arange(10), per_class)
    samples = np.asarray(vae.sample(len(labels), seed=args["seed"], condition=labels))
    predicted = np.argmax(classifier.predict(samples, batch_size=500, verbose=0), axis=-1)
    by_class = [float(np.mean(predicted[labels == c] == c)) for c in range(10)]
    return {"accuracy": float(np.mean(predicted == labels)), "by_class": by_class,
            "classifier_test_accuracy": float(classifier.evaluate(x_test, y_test, verbose=0)[1]),
            "samples_per_class": per_class}


def train_pythae(args):
    """pythae 0.1.2's `VAE`, `IWAE` or `VAMP` with the same networks, in a plain PyTorch loop."""
    import torch
    from pythae.models import IWAE, VAE, VAE_IAF, VAMP, IWAEConfig, VAE_IAF_Config, VAEConfig, VAMPConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from torch import nn

    torch.manual_seed(args["seed"])
    torch.set_num_threads(os.cpu_count() or 1)
    x_train, x_test = fashion(args)
    pixels = int(np.prod(x_train.shape[1:]))
    input_dim = (1,) + tuple(x_train.shape[1:3])

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(pixels, HIDDEN), nn.ReLU())
            self.embedding = nn.Linear(HIDDEN, LATENT)
            self.log_covariance = nn.Linear(HIDDEN, LATENT)

        def forward(self, x):
            h = self.hidden(x)
            return ModelOutput(embedding=self.embedding(h), log_covariance=self.log_covariance(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, pixels), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape((-1,) + input_dim))

    common = {"input_dim": input_dim, "latent_dim": LATENT, "reconstruction_loss": "bce"}
    if args["model"] == "VAE":
        model = VAE(VAEConfig(**common), encoder=Encoder(), decoder=Decoder())
    elif args["model"] == "VAE_IAF":
        config = VAE_IAF_Config(**common, n_made_blocks=args["iaf_steps"], n_hidden_in_made=args["made_layers"],
                                hidden_size=args["made_hidden"])
        model = VAE_IAF(config, encoder=Encoder(), decoder=Decoder())
    elif args["model"] == "IWAE":
        model = IWAE(IWAEConfig(**common, number_samples=args["k"]), encoder=Encoder(), decoder=Decoder())
    else:
        model = VAMP(VAMPConfig(**common, number_components=args["components"]), encoder=Encoder(), decoder=Decoder())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = torch.from_numpy(np.transpose(x_train, (0, 3, 1, 2)).copy())
    generator = torch.Generator().manual_seed(args["seed"])
    epoch_seconds = []
    model.train()
    for epoch in range(args["epochs"]):
        start = time.perf_counter()
        order = torch.randperm(len(train), generator=generator)
        for i in range(0, len(train), 128):
            optimizer.zero_grad()
            loss = model({"data": train[order[i : i + 128]]}, epoch=epoch).loss
            loss.backward()
            optimizer.step()
        epoch_seconds.append(time.perf_counter() - start)
    model.eval()
    start = time.perf_counter()
    per_example = _pythae_scores(model, np.transpose(x_test, (0, 3, 1, 2)), args["iw_samples"],
                                 vamp=args["model"] == "VAMP", iaf=args["model"] == "VAE_IAF")
    np.savez(args["per_example"], **per_example)
    n = len(x_test)
    stderr = lambda v: float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0  # noqa: E731
    return {
        "epoch_seconds": epoch_seconds, "eval_seconds": time.perf_counter() - start, "test_examples": n,
        "test_neg_elbo": float(per_example["neg_elbo"].mean()), "test_neg_elbo_stderr": stderr(per_example["neg_elbo"]),
        "test_nll": float(per_example["nll"].mean()), "test_nll_stderr": stderr(per_example["nll"]),
        "test_kl": float(per_example["kl"].mean()), "iw_samples": args["iw_samples"],
    }


def _pythae_scores(model, x_test, iw_samples, vamp, iaf=False, batch=100, chunk=100):
    """Per-image −ELBO, KL and IS-NLL of a pythae model, in nats, batched over images and samples."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(0)
    half_log_2pi = 0.5 * math.log(2 * math.pi)

    def log_p_z(z):
        if vamp:  # pythae's _log_p_z leaves out the Gaussians' −½ log 2π per dimension
            return model._log_p_z(z) - LATENT * half_log_2pi
        return (-0.5 * z**2 - half_log_2pi).sum(-1)

    neg_elbo, kl, nll = [], [], []
    with torch.no_grad():
        for start in range(0, len(x_test), batch):
            x = torch.from_numpy(np.ascontiguousarray(x_test[start : start + batch]))
            out = model.encoder(x)
            mu, log_var = out.embedding, out.log_covariance
            std = torch.exp(0.5 * log_var)
            flat_x = x.reshape(len(x), -1)

            def log_weights(k):
                z = mu + std * torch.randn((k,) + mu.shape)
                log_q = (-0.5 * ((z - mu) / std) ** 2 - torch.log(std) - half_log_2pi).sum(-1)
                if iaf:  # pythae's own sampling path: z_T = flow(z_0), log q(z_T) = log q(z_0) − log|det|
                    flow = model.iaf_flow.inverse(z.reshape(-1, LATENT))
                    z, log_q = flow.out.reshape(z.shape), log_q - flow.log_abs_det_jac.reshape(k, len(x))
                recon = model.decoder(z.reshape(-1, LATENT))["reconstruction"].reshape(k, len(x), -1)
                log_px = -F.binary_cross_entropy(recon, flat_x.expand(k, -1, -1), reduction="none").sum(-1)
                return log_px, log_p_z(z.reshape(-1, LATENT)).reshape(k, len(x)), log_q

            log_px, log_p, log_q = log_weights(1)
            if vamp or iaf:
                kl_batch = (log_q - log_p)[0]
            else:
                kl_batch = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(-1)
            kl.append(kl_batch)
            neg_elbo.append(-log_px[0] + kl_batch)
            chunks = []
            for done in range(0, iw_samples, chunk):
                log_px, log_p, log_q = log_weights(min(chunk, iw_samples - done))
                chunks.append(log_px + log_p - log_q)
            log_w = torch.cat(chunks)
            nll.append(-(torch.logsumexp(log_w, 0) - math.log(iw_samples)))
    return {name: torch.cat(v).double().numpy() for name, v in (("neg_elbo", neg_elbo), ("kl", kl), ("nll", nll))}
