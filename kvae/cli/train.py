"""`kvae train`: fit a VAE on a data set and write a run folder."""

import math
import shutil
import time
from pathlib import Path

from kvae.cli import arguments, evaluate, report, resume
from kvae.cli import run_dir as rd

HELP = "Train a VAE and write a run folder (model, history, PNGs, metrics)."

DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

# Epochs when --epochs is not given: the small digits set needs more passes.
DEFAULT_EPOCHS = {"digits": 100}
OTHER_EPOCHS = 10


def add_arguments(p):
    p.add_argument("--data", default="digits", help="digits (default, embedded), fashion_mnist, or a .npy/.npz path")
    p.add_argument("--data-dir", default=None, help="folder searched first for Fashion-MNIST IDX files")
    p.add_argument("--epochs", type=arguments.positive_int, default=None, help="passes over the training set (default: 100 on digits, 10 otherwise)")
    p.add_argument("--batch-size", type=arguments.positive_int, default=128)
    p.add_argument("--latent-dim", type=arguments.positive_int, default=20)
    p.add_argument("--hidden", type=arguments.positive_int, nargs="+", default=[400], help="units of the hidden layer(s), e.g. --hidden 400 or --hidden 512 256")
    p.add_argument("--architecture", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--likelihood", choices=["bernoulli", "gaussian", "gaussian_fixed"], default="bernoulli")
    p.add_argument("--beta", type=arguments.non_negative_float, default=1.0, help="weight of the KL term")
    p.add_argument("--kl-warmup", type=arguments.non_negative_int, default=0, metavar="EPOCHS",
                   help="raise β linearly from 0 to --beta over this many epochs, step by step (default 0: off)")
    p.add_argument("--free-bits", type=arguments.non_negative_float, default=0.0,
                   help="free-bits floor λ on each latent dimension's KL, nats (default 0: off)")
    p.add_argument("--image-every", type=arguments.non_negative_int, default=0, metavar="EPOCHS",
                   help="write sample and reconstruction grids to RUN_DIR/images every N epochs (default 0: off)")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard logs (scalars, and images with --image-every) to RUN_DIR/tensorboard")
    p.add_argument("--learning-rate", type=arguments.positive_float, default=1e-3, help="Adam learning rate")
    p.add_argument("--steps-per-execution", type=arguments.auto_or_positive_int, default="auto",
                   help="training steps per compiled call (default auto: up to 32, a divisor of the steps per epoch "
                        "so no call crosses an epoch, and 1 under --strategy mirrored/multi_worker; about 1.4x the "
                        "throughput of 1 on 2 CPU cores). An integer is also rounded down to a divisor. --kl-warmup is "
                        "evaluated inside the step, so it keeps this speed")
    p.add_argument("--dtype-policy", choices=DTYPE_POLICIES, default="float32",
                   help="Keras dtype policy of the networks: mixed_bfloat16 (fast matmuls on CPUs with AMX and on "
                        "TPUs/recent GPUs) or mixed_float16 (GPUs; with Keras' loss scaling). Distributions, "
                        "log-probs and metrics stay float32")
    p.add_argument("--binarize", action="store_true", help="dynamic binarisation of the training data (Bernoulli)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default: runs/<data>)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished or interrupted run in --out")
    p.add_argument("--strategy", choices=["default", "mirrored", "multi_worker"], default="default",
                   help="tf.distribute strategy; multi_worker reads $TF_CONFIG")
    p.add_argument("--backup-dir", default=None,
                   help="where BackupAndRestore keeps the last completed epoch (default: RUN_DIR/backup); "
                        "the same command started again resumes from it")
    p.add_argument("--verbose", type=int, choices=[0, 1, 2], default=None, help="Keras fit verbosity")


def run(args):
    import keras

    import kvae

    data = kvae.data.load(args.data, args.data_dir)
    out = Path(args.out or Path("runs") / data.name)
    if (out / rd.MODEL).exists() and not args.overwrite:
        raise FileExistsError(
            f"--out {str(out)!r} already holds a trained model; pass --overwrite or another --out"
        )
    if args.binarize and args.likelihood != "bernoulli":
        raise ValueError(f"--binarize needs --likelihood bernoulli, received: {args.likelihood}")
    kvae.likelihoods.get(args.likelihood).check_data(data.x_train, "--data")  # e.g. Bernoulli: [0, 1]
    if args.batch_size > len(data.x_train):
        raise ValueError(
            f"--batch-size must be at most the number of training examples ({len(data.x_train)}), "
            f"received: {args.batch_size}"
        )
    epochs = args.epochs or DEFAULT_EPOCHS.get(data.name, OTHER_EPOCHS)
    config = _run_config(args, data, epochs)

    strategy = kvae.distribute.get_strategy(args.strategy)
    worker = kvae.distribute.worker_index(strategy)
    chief = worker == 0
    backup_dir = Path(args.backup_dir or out / rd.BACKUP)
    if kvae.distribute.in_multi_worker_mode(strategy):
        backup_dir = backup_dir / f"worker-{worker}"  # workers must not share files
    if args.overwrite:
        shutil.rmtree(backup_dir, ignore_errors=True)
    elif resume.has_backup(backup_dir):
        resume.check_same_run(out / rd.CONFIG, config)

    steps = kvae.data.steps_per_epoch(len(data.x_train), args.batch_size)
    # "auto" is resolved by the model (kvae.execution); an explicit count gets the
    # same two guards: a divisor of the epoch, and 1 under a distribution strategy.
    steps_per_execution = args.steps_per_execution
    if steps_per_execution != "auto":
        steps_per_execution = 1 if args.strategy != "default" else kvae.execution.divisor_at_most(steps_per_execution, steps)

    def make_model():
        with strategy.scope():
            keras.utils.set_random_seed(args.seed)
            model = kvae.build_vae(
                data.event_shape,
                args.latent_dim,
                architecture=args.architecture,
                hidden_units=tuple(args.hidden),
                likelihood=args.likelihood,
                beta=args.beta,
                seed=args.seed,
                free_bits=args.free_bits,
                dtype=args.dtype_policy,
            )
            model.compile(
                optimizer=keras.optimizers.Adam(args.learning_rate),
                steps_per_execution=steps_per_execution,
            )
        return model

    # Restored before fit (fit restores again, harmlessly): the data stream must
    # start at the restored epoch for the resumed run to see the same batches.
    model, backup, start_epoch = resume.restore(make_model, strategy, backup_dir)
    start_epoch = min(start_epoch, epochs)
    if start_epoch:
        print(f"resuming from epoch {start_epoch} of {epochs} (backup in {backup_dir})")

    train_ds = kvae.data.make_dataset(
        data.x_train, args.batch_size, shuffle=True, seed=args.seed,
        binarize=args.binarize, start_epoch=start_epoch,
    )
    x_test = evaluate.evaluation_examples(data, args.binarize)
    test_ds = kvae.data.make_dataset(x_test, args.batch_size)
    callbacks = [backup, keras.callbacks.TerminateOnNaN()]
    if args.kl_warmup:
        # Before the loggers, which then record β.
        callbacks.append(kvae.callbacks.KLWarmup(duration=args.kl_warmup * steps, end=args.beta))
    if chief:
        out.mkdir(parents=True, exist_ok=True)
        rd.write_json(out / rd.CONFIG, config)
        resume.truncate_history(out / rd.HISTORY, start_epoch)
        callbacks.append(keras.callbacks.CSVLogger(str(out / rd.HISTORY), append=True))
    log_dir = out / "tensorboard" if args.tensorboard else None
    if args.tensorboard and chief:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir)))
    if args.image_every:
        callbacks.append(kvae.callbacks.ImageLogger(
            x_test[:16], every=args.image_every, seed=args.seed, out_dir=out / "images", log_dir=log_dir,
        ))

    start = time.perf_counter()
    history = model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps,
        validation_data=test_ds,
        callbacks=callbacks,
        verbose="auto" if args.verbose is None else args.verbose,
        shuffle=False,  # the tf.data pipeline shuffles itself
    )
    fit_seconds = time.perf_counter() - start
    losses = history.history.get("loss", [])
    if losses and not math.isfinite(float(losses[-1])):
        good = resume.backup_epoch(backup_dir)
        kept = (
            f"the state after epoch {good} is kept in {backup_dir}; run the same command to retry from it, or"
            if good else "no epoch had completed;"
        )
        raise TrainingDiverged(
            f"training diverged: the loss became NaN or Inf in epoch {start_epoch + len(losses)}; "
            f"{kept} lower --learning-rate and pass --overwrite to start again"
        )
    test = model.evaluate(test_ds, return_dict=True, verbose=0)  # every worker takes part
    if chief:
        rd.save_model(model, out)
    if kvae.distribute.in_multi_worker_mode(strategy):
        kvae.distribute.gather_int(0, strategy)  # barrier: the chief's model is saved
    shutil.rmtree(backup_dir, ignore_errors=True)  # only once the model is safe
    if not chief:
        return None
    epochs_run = len(history.history.get("loss", []))
    metrics = {
        "epochs": start_epoch + epochs_run,
        "resumed_from_epoch": start_epoch,
        "fit_seconds": fit_seconds,
        "train_examples": int(len(data.x_train)),
        "test_examples": int(len(data.x_test)),
        "train_samples_per_s": len(data.x_train) * epochs_run / fit_seconds if epochs_run else None,
        "test_neg_elbo": -test["elbo"],
        "test_reconstruction": test["reconstruction"],
        "test_kl": test["kl"],
        "test_loss": test["loss"],
        "test_active_units": int(test["active_units"]),
        "replicas": strategy.num_replicas_in_sync,
    }
    rd.write_json(out / rd.METRICS, metrics)
    report.write_report(out, model, data, x_test, seed=args.seed)
    print(
        f"test -ELBO {metrics['test_neg_elbo']:.2f} nats "
        f"(reconstruction {metrics['test_reconstruction']:.2f}, KL {metrics['test_kl']:.2f}); "
        f"run folder: {out}"
    )
    return metrics


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; nothing was published."""


def _run_config(args, data, epochs):
    skip = ("command", "overwrite", "verbose", "strategy", "backup_dir", "image_every", "tensorboard",
            "steps_per_execution")
    config = {k: v for k, v in vars(args).items() if k not in skip}
    config.update(epochs=epochs, data_name=data.name, event_shape=list(data.event_shape))
    return config
