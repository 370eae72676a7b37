"""`kvae train`: fit a VAE on a data set and write a run folder."""

import math
import time
from pathlib import Path

import keras

import kvae
from kvae.cli import report, resume, sources

# Epochs when --epochs is not given: the small digits set needs more passes.
DEFAULT_EPOCHS = {"digits": 100}
OTHER_EPOCHS = 10


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; nothing was published."""


def run(args):
    # First: MultiWorkerMirroredStrategy must configure TensorFlow before any op runs (opening a file source does).
    strategy = kvae.distribute.get_strategy(args.strategy)
    data = sources.open_data(vars(args))
    if args.cache and args.disk_cache is not None:
        raise ValueError("--cache (in memory) and --disk-cache DIR (on disk) are two ways to cache: give one")
    if args.cache and data.streaming:
        data = data.cached()
    args.likelihood = args.likelihood or sources.default_likelihood(data)
    _hierarchy_defaults(args)
    run_folder = kvae.RunFolder(args.out or Path("runs") / data.name, argument="--out")
    _check_arguments(args, data, run_folder)  # before anything is written
    if args.disk_cache is not None:
        data = kvae.data.DiskCache(data, args.disk_cache, argument="--disk-cache")
    epochs = args.epochs or DEFAULT_EPOCHS.get(data.name, OTHER_EPOCHS)
    config = _run_config(args, data, epochs)
    if sources.sharded_by_file(data, strategy) and args.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"--batch-size must be a multiple of the {strategy.num_replicas_in_sync} replicas when each worker "
            f"reads its own files, received: {args.batch_size}"
        )
    chief = kvae.distribute.worker_index(strategy) == 0
    worker = kvae.distribute.worker_index(strategy) if kvae.distribute.in_multi_worker_mode(strategy) else None
    run_folder.recover()  # a swap a kill cut short ends first: it was decided
    run, backup_dir, fresh = _target(args, run_folder, config, epochs, worker)
    steps = kvae.data.steps_per_epoch(data.num_train, args.batch_size)
    # Built (which checks the options) and restored before anything is written, and before fit (fit
    # restores again, harmlessly): the data stream must start at the restored step for the resumed
    # run to see the same batches.
    model, backup, position = resume.restore(
        lambda: _make_model(args, data, strategy, steps), strategy, backup_dir, save_every=args.backup_every,
        fresh=fresh,
    )
    state = (run, backup_dir, model, backup, position, fresh, worker)
    if not chief:
        return _train(args, data, strategy, config, epochs, steps, state, chief=False)  # writes only its backup
    with run_folder.writing():  # the chief is the run folder's one writer
        return _train(args, data, strategy, config, epochs, steps, state, chief=True)


def _target(args, run_folder, config, epochs, worker):
    """`(run, backup_dir, fresh)`: the run this command trains, where its backup is, and whether it starts anew.

    The run is the folder's own (new, or resumed from its backup), or with
    --overwrite one built beside it. Reads only; raises if the folder's
    interrupted run used other options.
    """
    run = run_folder.stage() if args.overwrite and run_folder.holds_run() else run_folder
    backup_dir = run.backup_path(args.backup_dir, worker)
    saved = run.config()
    epoch, step = kvae.callbacks.backup.position(backup_dir)
    past = epoch > epochs or (epoch == epochs and step > 0)  # it trained beyond this run's end
    if run.staged:
        # A killed --overwrite with the same options resumes; with others, its leftovers are kvae's to clear.
        unreadable = resume.has_backup(backup_dir) and (epoch, step) == (0, 0)
        stale = resume.changed_options(saved, config, strict=True) or unreadable or past
        return run, backup_dir, bool(stale)
    if resume.has_backup(backup_dir):
        resume.check_same_run(saved, config, run_folder.path)
        if past:
            raise ValueError(
                f"--out {str(run_folder.path)!r} holds an interrupted run already at epoch {epoch}, past --epochs "
                f"{epochs}; pass --epochs {epoch} or more to resume it, or --overwrite to start again"
            )
    return run, backup_dir, False


def _train(args, data, strategy, config, epochs, steps, state, chief):
    run, backup_dir, model, backup, (start_epoch, start_step), fresh, worker = state
    if fresh:
        if chief:
            run.discard()
        run.discard_backup(args.backup_dir, worker)
    run.claim_backup(args.backup_dir)
    if start_epoch or start_step:
        at = f"step {start_step} of epoch {start_epoch + 1}" if start_step else f"epoch {start_epoch}"
        print(f"resuming from {at} of {epochs} (backup in {backup_dir})")

    labels = args.conditional
    x_test, y_test = sources.test_examples(data, args.binarize, limit=sources.REPORT_EXAMPLES)
    test_ds = sources.test_dataset(data, args.batch_size, args.binarize, labels)
    if chief:
        # A pipeline transform (image decoding) is the run's; one that became the model's preprocessing is not.
        run.start(config, data.transform if data.preprocessing() is None else None, start_epoch)
    callbacks = [backup, keras.callbacks.TerminateOnNaN()]
    callbacks += _callbacks(args, run.path, steps, x_test, y_test if labels else None, chief)

    def stream(epoch, skip=0):
        if sources.sharded_by_file(data, strategy):
            return sources.file_sharded_stream(data, strategy, args, steps, epoch, skip)
        ds = data.train_dataset(args.batch_size, seed=args.seed, start_epoch=epoch, with_labels=labels,
                                binarize=args.binarize)
        return ds.skip(skip) if skip else ds

    fit = dict(validation_data=test_ds, callbacks=callbacks, shuffle=False,  # the pipelines shuffle
               verbose="auto" if args.fit_verbose is None else args.fit_verbose)
    start = time.perf_counter()
    losses, resumed_epoch = [], start_epoch
    with kvae.data.stream_errors(data):
        if start_step and start_epoch < epochs:
            # The rest of the interrupted epoch, on the batches it had left; then the later epochs.
            backup.step_offset = start_step
            history = model.fit(stream(start_epoch, start_step), epochs=start_epoch + 1, initial_epoch=start_epoch,
                                steps_per_epoch=steps - start_step, **fit)
            losses += history.history.get("loss", [])
        next_epoch = resumed_epoch + len(losses)
        if next_epoch < epochs and all(math.isfinite(float(loss)) for loss in losses):
            history = model.fit(stream(next_epoch), epochs=epochs, initial_epoch=next_epoch, steps_per_epoch=steps,
                                **fit)
            losses += history.history.get("loss", [])
    fit_seconds = time.perf_counter() - start
    epochs_run = len(losses)
    _raise_if_diverged(losses, backup_dir, resumed_epoch + epochs_run, data)
    test = model.evaluate(test_ds, return_dict=True, verbose=0)  # every worker takes part
    metrics = {
        "epochs": resumed_epoch + epochs_run,
        "resumed_from_epoch": resumed_epoch,
        "resumed_from_step": start_step,
        "fit_seconds": fit_seconds,
        "train_examples": int(data.num_train),
        "test_examples": int(data.num_test),
        "train_samples_per_s": data.num_train * epochs_run / fit_seconds if epochs_run else None,
        "test_neg_elbo": -test["elbo"],
        "test_reconstruction": test["reconstruction"],
        "test_kl": test["kl"],
        "test_loss": test["loss"],
        "test_active_units": int(test["active_units"]),
        **{f"test_{name}": test[name] for name in model.layer_logs},  # a hierarchy's, per layer
        "test_neg_elbo_bits_per_dim": -test["elbo"] / (math.prod(data.event_shape) * math.log(2)),
        **kvae.evaluation.what_nll_measures(model, x_test),
        "replicas": strategy.num_replicas_in_sync,
        **_parts(model),
    }
    if chief:
        run.write_json(kvae.run_folder.METRICS, metrics)
        report.write_report(run, model, data, x_test, y_test, seed=args.seed)
        run.save_model(model)  # last: a run folder with a model is a finished run
        run.commit()  # an --overwrite's new run takes the old one's place
    if kvae.distribute.in_multi_worker_mode(strategy):
        kvae.distribute.gather_int(0, strategy)  # barrier: the chief's model is saved
    run.delete_backup(args.backup_dir, worker)
    if not chief:
        return None
    print(
        f"test -ELBO {metrics['test_neg_elbo']:.2f} nats "
        f"(reconstruction {metrics['test_reconstruction']:.2f}, KL {metrics['test_kl']:.2f}; "
        f"{metrics['nll_kind']}); "
        f"run folder: {run.name}"
    )
    return metrics


def _check_arguments(args, data, run_folder):
    if run_folder.holds_model() and not args.overwrite:
        raise FileExistsError(
            f"--out {str(run_folder.path)!r} already holds a trained model; pass --overwrite or another --out"
        )
    run_folder.check_writable()
    run_folder.check_backup_root(args.backup_dir)
    if args.binarize and args.likelihood != "bernoulli":
        raise ValueError(f"--binarize needs --likelihood bernoulli, received: {args.likelihood}")
    if data.preprocessing() is not None and args.likelihood == "bernoulli":
        raise ValueError("--likelihood bernoulli needs values in [0, 1]; a table's standardised columns are "
                         "continuous: use --likelihood gaussian or gaussian_fixed")
    # e.g. Bernoulli: [0, 1]. Checked on the arrays, or on the first test examples of a stream.
    sample = data.splits.x_train if not data.streaming else data.test_arrays(1024)[0]
    kvae.likelihoods.get(args.likelihood).check_data(sample, "--data")
    if args.conditional and not data.has_labels:
        raise ValueError(
            f"--conditional needs class labels, and --data {args.data!r} has none (a .npz needs a `y` array, "
            "an image folder class sub-folders, TFRecords --label-feature, a table --label-column)"
        )
    _check_parts(args)
    if args.batch_size > data.num_train:
        raise ValueError(
            f"--batch-size must be at most the number of training examples ({data.num_train}), "
            f"received: {args.batch_size}"
        )


def num_classes(data):
    """The number of classes of a data set's labels."""
    return len(data.class_names)


def hierarchical(args):
    """Whether --latent-dim gave several layers' sizes (a ladder VAE)."""
    return isinstance(args.latent_dim, (list, tuple)) and len(args.latent_dim) > 1


def _hierarchy_defaults(args):
    # One size is an int (as kvae 0.1 stored it); several make a hierarchy, whose default parts are its own.
    if isinstance(args.latent_dim, (list, tuple)) and len(args.latent_dim) == 1:
        args.latent_dim = args.latent_dim[0]
    if hierarchical(args):
        args.latent_dim = list(args.latent_dim)
        args.prior = "top_down" if args.prior == "normal" else args.prior
        args.posterior = "ladder" if args.posterior == "normal" else args.posterior


def _check_parts(args):
    sizes = " ".join(str(d) for d in args.latent_dim) if hierarchical(args) else str(args.latent_dim)
    if hierarchical(args) and args.prior != "top_down":
        raise ValueError(f"a hierarchical VAE (--latent-dim {sizes}) has the top-down prior, received: --prior "
                         f"{args.prior}")
    for flag, value in (("--prior", args.prior), ("--posterior", args.posterior)):
        if value in ("top_down", "ladder") and not hierarchical(args):
            raise ValueError(f"{flag} {value} needs several --latent-dim sizes (a hierarchy, e.g. --latent-dim 32 "
                             f"16), received: --latent-dim {sizes}")
    if args.prior in ("normal", "top_down") and args.prior_components is not None:
        raise ValueError(f"--prior-components needs --prior mixture or vamp, received: --prior {args.prior}")
    if args.posterior != "iaf" and args.iaf_steps is not None:
        raise ValueError(f"--iaf-steps needs --posterior iaf, received: --posterior {args.posterior}")
    if args.objective != "iwae":
        for flag, value in (("--iw-train-samples", args.iw_train_samples), ("--iw-gradient", args.iw_gradient)):
            if value is not None:
                raise ValueError(f"{flag} needs --objective iwae, received: --objective {args.objective}")
        return
    if args.free_bits != 0.0:
        raise ValueError("--free-bits needs --objective elbo (the IWAE bound has no per-dimension KL to floor), "
                         "received: --objective iwae")


def _prior(args):
    if args.prior == "normal":
        return "normal"
    if args.prior == "top_down":
        return None  # build_vae's, with the hierarchy's widths
    options = {"seed": args.seed}
    if args.prior_components:
        options["num_components"] = args.prior_components
    if args.prior == "vamp" and args.likelihood != "bernoulli":
        options["clip"] = None  # pseudo-inputs live where the data does
    return kvae.priors.get(args.prior, **options)


def _posterior(args):
    if args.posterior == "iaf" and args.iaf_steps is not None:
        return kvae.posteriors.IAF(num_steps=args.iaf_steps)
    return args.posterior


def _objective(args):
    if args.objective == "elbo":
        return "elbo"
    return kvae.objectives.IWAE(args.iw_train_samples or 5, gradient=args.iw_gradient or "reparam", beta=args.beta)


def _make_model(args, data, strategy, steps):
    with strategy.scope():
        keras.utils.set_random_seed(args.seed)
        model = kvae.build_vae(
            data.event_shape,
            tuple(args.latent_dim) if hierarchical(args) else args.latent_dim,
            architecture=args.architecture,
            hidden_units=tuple(args.hidden),
            likelihood=args.likelihood,
            beta=args.beta if args.objective == "elbo" else 1.0,  # the IWAE instance holds its own
            seed=args.seed,
            free_bits=args.free_bits,
            dtype=args.dtype_policy,
            prior=_prior(args),
            posterior=_posterior(args),
            objective=_objective(args),
            num_classes=num_classes(data) if args.conditional else None,
            preprocessing=data.preprocessing(),
        )
        steps_per_execution = args.steps_per_execution
        if steps_per_execution != "auto" or args.backup_every:
            # An explicit count gets "auto"'s guards: the fewest calls per epoch, 1 under a strategy; with
            # --backup-every, a divisor of the backup interval, so every backup falls between two calls.
            limit = kvae.execution.AUTO_STEPS_PER_EXECUTION if steps_per_execution == "auto" else steps_per_execution
            steps_per_execution = kvae.execution.auto_steps_per_execution(model, args.backup_every, limit=limit,
                                                                          train_steps=steps)
        model.compile(optimizer=kvae.optimizers.Adam(args.learning_rate), steps_per_execution=steps_per_execution)
    return model


def _callbacks(args, out, steps, x_test, y_test, chief):
    callbacks = []
    if args.kl_warmup:
        # Before the loggers, which then record β.
        callbacks.append(kvae.callbacks.KLWarmup(duration=args.kl_warmup * steps, end=args.beta))
    if chief:
        callbacks.append(keras.callbacks.CSVLogger(str(out / kvae.run_folder.HISTORY), append=True))
    log_dir = out / "tensorboard" if args.tensorboard else None
    if args.tensorboard and chief:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir)))
    if args.image_every:
        callbacks.append(kvae.callbacks.ImageLogger(
            x_test[:16], every=args.image_every, seed=args.seed, out_dir=out / "images", log_dir=log_dir,
            condition=None if y_test is None else y_test[:16],
        ))
    return callbacks


def _raise_if_diverged(losses, backup_dir, last_epoch, data):
    if not losses or math.isfinite(float(losses[-1])):
        return
    data.validate()  # a NaN read from a file changed mid-run is the data's fault: this names it
    good = resume.backup_epoch(backup_dir)
    kept = (
        f"the state after epoch {good} is kept in {backup_dir}; run the same command to retry from it, or"
        if good else "no epoch had completed;"
    )
    raise TrainingDiverged(
        f"training diverged: the loss became NaN or Inf in epoch {last_epoch}; "
        f"{kept} lower --learning-rate and pass --overwrite to start again"
    )


def _parts(model):
    """The model's parts, each its class and configuration (`Part.summary`), for metrics.json."""
    parts = {"parts": {role: model.parts[role].summary() for role in ("prior", "posterior", "objective", "likelihood")}}
    if model.conditional:
        parts["num_classes"] = model.num_classes
    return parts


def _run_config(args, data, epochs):
    skip = ("command", "overwrite", "verbose", "fit_verbose", "strategy", "backup_dir", "image_every",
            "tensorboard", "steps_per_execution", "backup_every")
    config = {k: v for k, v in vars(args).items() if k not in skip}
    config.update(epochs=epochs, data_name=data.name, event_shape=list(data.event_shape),
                  class_names=data.class_names, train_examples=int(data.num_train), test_examples=int(data.num_test))
    return config
