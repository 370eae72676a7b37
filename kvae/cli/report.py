"""`kvae report`: pictures and a `report.md` from a finished run."""

import csv
import json
from pathlib import Path

import numpy as np

import kvae
from kvae import plotting
from kvae import run_folder as rf
from kvae.cli import sources

CURVES = "curves.png"
LATENT = "latent.png"
MANIFOLD = "manifold.png"
TRAVERSAL = "traversal.png"
TEMPERATURES = "temperatures.png"  # a hierarchy's
LAYERS = "layers.png"
# Samples per class (per row) in a conditional run's samples.png.
SAMPLE_COLUMNS = 8
# Test examples placed in the latent scatter plot.
SCATTER_EXAMPLES = 2000




def run(args):
    run = kvae.RunFolder(args.run_dir)
    model, config = run.load()
    run.check_writable()
    data = sources.open_data(config, args.data_dir)
    x_test, y_test = sources.test_examples(data, config.get("binarize", False), limit=sources.REPORT_EXAMPLES)
    with run.writing():
        path = write_report(run, model, data, x_test, y_test, seed=config.get("seed", 0))
    print(f"wrote {path}")
    return path


def write_report(run, model, data, x_test, y_test, seed=0):
    """Writes the run's pictures and `report.md`; returns the report's path.

    Pictures: `curves.png` (from history.csv), `samples.png` (64 prior
    draws), `reconstructions.png` (10 test inputs and their reconstructions),
    `latent.png` (PCA of test posterior means, coloured by label) and
    `manifold.png` (latent_dim 2) or `traversal.png`, and for a hierarchy
    `temperatures.png` and `layers.png` (`kvae.plotting.hierarchy`). The report lists
    metrics.json and, when `kvae evaluate` has run, evaluation.json.

    Args:
        run: `kvae.RunFolder`. The run, locked by the caller.
    """
    run_dir = run.path
    pictures = []
    history = read_history(run_dir / rf.HISTORY)
    if history:
        plotting.save_training_curves(run_dir / CURVES, history)
        pictures.append(("Training curves", CURVES))
    names = _class_names(data)
    condition = y_test if model.conditional else None  # what a conditional model is given
    if model.conditional:
        labels = model.condition.grid(SAMPLE_COLUMNS)
        plotting.save_samples(run_dir / "samples.png", np.asarray(model.sample(len(labels), seed=seed, condition=labels)),
                              columns=SAMPLE_COLUMNS)
        rows = ", ".join(f"{c}: {names[c]}" for c in range(model.num_classes))
        pictures.append((f"Samples, one row per class, {SAMPLE_COLUMNS} prior draws each (rows {rows})", "samples.png"))
    else:
        plotting.save_samples(run_dir / "samples.png", np.asarray(model.sample(64, seed=seed)))
        pictures.append(("Samples (decoder means at 64 prior draws)", "samples.png"))
    n = min(10, len(x_test))
    plotting.save_grid(
        run_dir / "reconstructions.png",
        [x_test[:n], np.asarray(model.reconstruct(x_test[:n], condition=None if condition is None else condition[:n]))],
        titles=["inputs", "reconstructions"],
    )
    pictures.append(("Test inputs and reconstructions", "reconstructions.png"))

    shown = slice(0, SCATTER_EXAMPLES)
    loc = np.asarray(model.embed(x_test[shown], condition=None if condition is None else condition[shown]))
    labels = None if y_test is None else y_test[shown]
    fig = plotting.latent_scatter(loc, labels, class_names=list(data.class_names) if data.has_labels else None)
    plotting.save_png(run_dir / LATENT, plotting.figure_to_image(fig))
    pictures.append((f"Posterior means of {len(loc)} test examples", LATENT))
    label = 0 if model.conditional else None  # a conditional model's latent pictures are for class 0
    given = f" given class 0 ({names[0]})" if model.conditional else ""
    if model.latent_dim == 2:
        plotting.save_png(run_dir / MANIFOLD, plotting.tile(plotting.manifold(model, 15, condition=label), 15))
        pictures.append((f"Latent manifold (decoder means on a grid of prior quantiles){given}", MANIFOLD))
    else:
        dims = [int(d) for d in np.argsort(-loc.var(axis=0))[:10]]
        values = np.linspace(-3, 3, 9)
        images = plotting.traversal(model, dims=dims, values=values, condition=label)
        plotting.save_png(run_dir / TRAVERSAL, plotting.tile(images, 9))
        listed = ", ".join(str(d) for d in dims)
        pictures.append(
            (f"Latent traversals: dimensions {listed} (most active first), each from -3 to 3{given}", TRAVERSAL)
        )

    if len(model.latent_layers) > 1:  # a hierarchy: temperatures, and what each layer controls
        temperatures = (0.6, 0.8, 1.0)
        images = plotting.hierarchy.temperature_samples(model, temperatures, SAMPLE_COLUMNS, seed, label)
        plotting.save_png(run_dir / TEMPERATURES, plotting.tile(images, SAMPLE_COLUMNS))
        pictures.append((f"Samples at temperatures {', '.join(str(t) for t in temperatures)} (one row each, the same "
                         f"draws in each column){given}", TEMPERATURES))
        images = plotting.hierarchy.layer_variations(model, SAMPLE_COLUMNS, seed, label)
        plotting.save_png(run_dir / LAYERS, plotting.tile(images, SAMPLE_COLUMNS))
        order = ", ".join(f"z{l}" for l in range(len(model.latent_layers), 0, -1))
        pictures.append((f"What each latent layer controls: one row per layer ({order}), each resampling that "
                         f"layer's noise alone{given}", LAYERS))

    lines = [f"# kvae run: {run_dir.name}", ""]
    config = run.config()
    if config:
        lines += [_describe(config, data, model), ""]
    meaning = (_read_json(run_dir / rf.EVALUATION) or _read_json(run_dir / rf.METRICS)).get("nll_meaning")
    if meaning:  # what the nats and bits/dim below are a likelihood of (kvae.evaluation.what_nll_measures)
        lines += [f"**The likelihoods below are {meaning}.**", ""]
    for title, name in ((rf.METRICS, rf.METRICS), (rf.EVALUATION, rf.EVALUATION)):
        metrics = _read_json(run_dir / name)
        if metrics:
            lines += [f"## {title}", "", "| metric | value |", "| --- | --- |"]
            lines += [f"| {key} | {_format(value)} |" for key, value in sorted(metrics.items())
                      if not isinstance(value, dict)]  # the parts' configs are described above
            lines.append("")
    for title, name in pictures:
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    run.write_text(rf.REPORT, "\n".join(lines))
    return run.file(rf.REPORT)


def read_history(path):
    """history.csv (CSVLogger) as `{metric: [float per epoch]}`; {} when absent."""
    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = [row for row in csv.DictReader(f) if None not in row.values()]
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(row[k]) for row in rows] for k in keys}


def _describe(config, data, model):
    # The parts describe themselves from their own configs (`kvae.protocol.Part.describe`).
    shape = "×".join(str(d) for d in data.event_shape)
    parts = [
        f"data **{config.get('data')}** ({data.num_train} train / {data.num_test} test, {shape}"
        f"{', binarised' if config.get('binarize') else ''})",
        f"{config.get('architecture', 'mlp')} {'-'.join(str(u) for u in config.get('hidden') or [])} hidden units",
        _latent(config.get("latent_dim")),
        *(model.parts[role].describe() for role in ("likelihood", "prior", "posterior", "objective")),
        *(["conditional on the class labels"] if config.get("conditional") else []),
        f"{config.get('epochs')} epochs, batch {config.get('batch_size')}",
    ]
    if config.get("kl_warmup"):
        parts.append(f"KL warm-up over {config['kl_warmup']} epochs")
    return "; ".join(parts) + "."


def _latent(latent_dim):
    if isinstance(latent_dim, (list, tuple)):
        return f"latent layers {'-'.join(str(d) for d in latent_dim)} (z1 first)"
    return f"latent {latent_dim}"


def _class_names(data):
    return tuple(data.class_names) if data.class_names else ("0",)


def _read_json(path):
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {}


def _format(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)
