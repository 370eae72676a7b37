"""The options of every `kvae` command (argparse), defined without importing TensorFlow."""

import argparse

from kvae_cli import arguments, choices

COMMANDS = {
    "train": "Train a VAE and write a run folder (model, history, PNGs, metrics).",
    "evaluate": "Report test -ELBO, KL, importance-sampled NLL (nats, bits/dim) and active units of a run.",
    "report": "Draw training curves, samples, reconstructions and latent plots of a run, with a report.md.",
    "sample": "Draw examples from a trained run's prior and save them as a PNG grid.",
    "export": "Export a run's model as saved_models/NAME/<version>/ (SavedModel for TF Serving).",
}

RUN_DIR_HELP = "folder written by `kvae train`"


def build_parser():
    """The `kvae` parser: `kvae [--verbose] COMMAND [options]`."""
    parser = argparse.ArgumentParser(
        prog="kvae", description="Train, evaluate and sample variational autoencoders."
    )
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's own log lines (hidden by default unless $TF_CPP_MIN_LOG_LEVEL is set)",
    )
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    sub.required = True
    for name, help_text in COMMANDS.items():
        _ADD[name](sub.add_parser(name, help=help_text, description=help_text))
    return parser


def add_train_arguments(p):
    p.add_argument("--data", default="digits",
                   help=f"{' or '.join(choices.DATA)} (default digits, embedded), a .npy/.npz file, a folder of "
                        "images (class sub-folders become labels), TFRecord files (a .tfrecord file or a quoted "
                        "glob), or a .csv/.parquet table of numeric columns")
    p.add_argument("--data-test", default=None, metavar="PATH",
                   help="your own test split (a folder, TFRecord glob or table like --data); default: a fixed, "
                        "seeded 10%% of --data is held out")
    p.add_argument("--data-dir", default=None, help="folder searched first for Fashion-MNIST IDX files")
    p.add_argument("--image-size", default=None, metavar="HxW",
                   help="image folders and TFRecord images: resize to HxW, e.g. 28x28")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None,
                   help="image folders and TFRecord images: convert to 1 (grey) or 3 (RGB) channels "
                        "(folders default to the files' own count, which must agree)")
    p.add_argument("--feature", default=None, metavar="KEY", help="TFRecords: the feature holding the examples")
    p.add_argument("--feature-dtype", choices=choices.FEATURE_DTYPES, default=None,
                   help="TFRecords: uint8 (raw pixel bytes, the default), encoded (PNG/JPEG bytes) or float32 "
                        "(a float_list)")
    p.add_argument("--label-feature", default=None, metavar="KEY",
                   help="TFRecords: an int64 class-id feature (labels, e.g. for --conditional)")
    p.add_argument("--columns", nargs="+", default=None, metavar="NAME",
                   help="tables: the numeric columns to model (default: all but --label-column)")
    p.add_argument("--label-column", default=None, metavar="NAME", help="tables: a column of integer class ids")
    p.add_argument("--cache", action="store_true",
                   help="decode a file source once into memory and train from there (fastest, if it fits)")
    p.add_argument("--disk-cache", default=None, metavar="DIR",
                   help="decode an image folder once into DIR and train from there (near in-memory speed, a few "
                        "batches in memory); reused until a file changes")
    p.add_argument("--epochs", type=arguments.positive_int, default=None,
                   help="passes over the training set (default: 100 on digits, 10 otherwise)")
    p.add_argument("--batch-size", type=arguments.positive_int, default=128)
    p.add_argument("--latent-dim", type=arguments.positive_int, nargs="+", default=[20], metavar="D",
                   help="size of z (default 20), or several sizes d1 d2 ... for a hierarchical (ladder) VAE, "
                        "z1 (nearest the data) first, e.g. --latent-dim 32 16 8")
    p.add_argument("--hidden", type=arguments.positive_int, nargs="+", default=[400],
                   help="units of the hidden layer(s), e.g. --hidden 400 or --hidden 512 256; for a hierarchy one "
                        "width per latent layer, or one for all")
    p.add_argument("--architecture", choices=choices.ARCHITECTURES, default="mlp")
    p.add_argument("--likelihood", choices=choices.LIKELIHOODS, default=None,
                   help="p(x|z): bernoulli (default for images and arrays), gaussian (default for tables: "
                        "decoder σ), gaussian_fixed, or a probability of 8-bit pixels: discretized_logistic "
                        "(a mixture of discretised logistics, bits/dim comparable with papers) or categorical "
                        "(256-way)")
    p.add_argument("--prior", choices=choices.PRIORS, default="normal",
                   help="p(z): normal N(0, I), mixture (learned Gaussian mixture) or vamp (VampPrior)")
    p.add_argument("--prior-components", type=arguments.positive_int, default=None, metavar="K",
                   help="components of --prior mixture (default 10) or pseudo-inputs of vamp (default 500)")
    p.add_argument("--posterior", choices=choices.POSTERIORS, default="normal",
                   help="q(z|x): normal (diagonal Gaussian), full (full-covariance Gaussian) or iaf "
                        "(inverse autoregressive flow)")
    p.add_argument("--iaf-steps", type=arguments.positive_int, default=None, metavar="T",
                   help="flow steps of --posterior iaf (default 2)")
    p.add_argument("--objective", choices=choices.OBJECTIVES, default="elbo",
                   help="elbo (with --beta, --kl-warmup, --free-bits) or iwae (the importance-weighted bound; "
                        "with --beta and --kl-warmup, its weights tempered)")
    p.add_argument("--iw-train-samples", type=arguments.positive_int, default=None, metavar="K",
                   help="importance samples of --objective iwae (default 5)")
    p.add_argument("--iw-gradient", choices=choices.IW_GRADIENTS, default=None,
                   help="gradient of --objective iwae: reparam (default) or dreg (doubly reparameterised)")
    p.add_argument("--conditional", action="store_true",
                   help="a conditional VAE on the data's class labels: q(z|x, y), p(x|z, y); samples.png "
                        "shows one row per class")
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
                   help="training steps per compiled call (default auto: up to 32, the count that takes the fewest "
                        "calls per epoch, an epoch's last steps running one per call so no call crosses an epoch; 1 "
                        "under --strategy mirrored/multi_worker; about 1.4x the throughput of 1 on 2 CPU cores). An "
                        "integer is an upper bound; with --backup-every the count also divides it. --kl-warmup is "
                        "evaluated inside the step, so it keeps this speed")
    p.add_argument("--dtype-policy", choices=choices.DTYPE_POLICIES, default="float32",
                   help="Keras dtype policy of the networks: mixed_bfloat16 (fast matmuls on CPUs with AMX and on "
                        "TPUs/recent GPUs) or mixed_float16 (GPUs; with Keras' loss scaling). Distributions, "
                        "log-probs and metrics stay float32")
    p.add_argument("--binarize", action="store_true", help="dynamic binarisation of the training data (Bernoulli)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default: runs/<data>)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished or interrupted run in --out")
    p.add_argument("--strategy", choices=choices.STRATEGIES, default="default",
                   help="tf.distribute strategy; multi_worker reads $TF_CONFIG")
    p.add_argument("--backup-dir", default=None,
                   help="where BackupAndRestore keeps the last completed epoch (default: RUN_DIR/backup); "
                        "the same command started again resumes from it")
    p.add_argument("--backup-every", type=arguments.positive_int, default=None, metavar="STEPS",
                   help="also back up every STEPS training steps, so a run killed mid-epoch resumes at the last "
                        "saved step (default: at epoch ends only)")
    # dest differs from the global --verbose (TensorFlow's log lines).
    p.add_argument("--verbose", dest="fit_verbose", type=int, choices=[0, 1, 2], default=None,
                   help="Keras fit verbosity (progress bar)")


def add_evaluate_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--iw-samples", type=arguments.positive_int, default=1000,
                   help="importance samples K per example (default 1000)")
    p.add_argument("--data-dir", default=None, help="override the run's Fashion-MNIST folder")
    p.add_argument("--batch-size", type=arguments.positive_int, default=256)
    p.add_argument("--max-examples", type=arguments.positive_int, default=None,
                   help="evaluate the first N test examples only")
    p.add_argument("--seed", type=int, default=0)


def add_report_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--data-dir", default=None, help="override the run's Fashion-MNIST folder")


def add_sample_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--n", type=arguments.positive_int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", type=arguments.png_path, default="samples.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--columns", type=arguments.positive_int, default=8)
    p.add_argument("--label", type=arguments.non_negative_int, default=None,
                   help="a conditional run's class for every sample (default: one row per class)")


def add_export_arguments(p):
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.add_argument("--to", required=True, metavar="BASE_DIR", help="model folder, e.g. saved_models/digits")
    p.add_argument("--version", type=arguments.positive_int, default=None, help="version number (default: next free)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--score-samples", type=arguments.positive_int, default=100,
                   help="importance samples of the score signature")
    p.add_argument("--max-batch", type=arguments.positive_int, default=None,
                   help="rows one request may send (default 4096)")
    p.add_argument("--max-score-samples", type=arguments.positive_int, default=None,
                   help="num_samples score_k may be sent (default 10000)")
    p.add_argument("--max-score-rows", type=arguments.positive_int, default=None,
                   help="batch x num_samples of one score request (default: 2^27 / decoder activations per row)")


_ADD = {
    "train": add_train_arguments,
    "evaluate": add_evaluate_arguments,
    "report": add_report_arguments,
    "sample": add_sample_arguments,
    "export": add_export_arguments,
}
