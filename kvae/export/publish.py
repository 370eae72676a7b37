"""`export_saved_model`: a new, complete version folder or nothing."""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

import kvae
from kvae import atomic, checks
from kvae.export.endpoints import endpoint_model
from kvae.export.signatures import build_archive, limits, served, signature_names
from kvae.export.warmup import write_warmup

# Written into every SavedModel kvae exports: what makes a folder one kvae may replace, and the
# request bounds the signatures enforce.
MARKER = "assets.extra/kvae.json"
# A SavedModel's own entries: a folder holding only these (and TF Serving's warm-up file) is one kvae
# exported before it wrote MARKER.
_SAVED_MODEL_ENTRIES = {"saved_model.pb", "variables", "assets", "assets.extra", "fingerprint.pb"}
_PARTIAL = ".kvae-partial"  # inside a folder being written; locked by the export writing it


def existing_versions(base_dir):
    """The integer version folders under `base_dir`, sorted."""
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        return []
    return sorted(int(p.name) for p in base_dir.iterdir() if p.is_dir() and p.name.isdigit())


def exported_by_kvae(path):
    """Whether `path` is a SavedModel folder kvae wrote (which `overwrite=True` may replace)."""
    path = Path(path)
    if (path / MARKER).is_file():
        return True
    entries = {p.name for p in path.iterdir()} if path.is_dir() else set()
    return ("saved_model.pb" in entries and entries <= _SAVED_MODEL_ENTRIES
            and (path / "assets.extra" / "tf_serving_warmup_requests").is_file())


def check_target(path, argument="filepath"):
    """Raises unless kvae may write a SavedModel at `path`: absent, an empty folder, or kvae's own export."""
    path = Path(path)
    if not path.exists() or exported_by_kvae(path) or (path.is_dir() and not any(path.iterdir())):
        return
    entries = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    shown = ", ".join(repr(n) for n in entries[:3]) + (", ..." if len(entries) > 3 else "")
    what = f"holds files kvae did not write ({shown})" if path.is_dir() else "is a file"
    raise FileExistsError(
        f"`{argument}` {str(path)!r} {what}; kvae writes a SavedModel into a new or empty folder, or over one it "
        "exported, and never replaces other files: choose another folder"
    )


def remove_abandoned(folder, name=r"\d+"):
    """Clears what killed exports of `name` (a regex: version numbers by default) left in `folder`.

    Only folders kvae made (`.tmp-<name>-*` being written, `.old-<name>-*`
    holding a version being replaced) whose writer is gone (their lock is
    free) are touched, and a version one had moved aside is put back.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    ours = re.compile(rf"\.(tmp|old)-({name})-[A-Za-z0-9_]+")
    for leftover in sorted(p for p in folder.iterdir() if ours.fullmatch(p.name) and p.is_dir()):
        marker = leftover / _PARTIAL
        if not marker.is_file():
            if not any(leftover.iterdir()):
                leftover.rmdir()  # made and killed before its marker
            continue
        try:
            with atomic.locked(marker, atomic.holder_text(), f"export {str(leftover)!r}"):
                original = folder / ours.fullmatch(leftover.name).group(2)
                moved = leftover / "version"
                if leftover.name.startswith(".old-") and moved.is_dir() and not original.exists():
                    os.replace(moved, original)  # killed between moving the old version aside and the new in
                shutil.rmtree(leftover)
        except atomic.Locked:
            continue  # another export is writing it


def export_saved_model(model, base_dir, version=None, overwrite=False, score_samples=100, transform=None, **bounds):
    """Exports `model` as `base_dir/<version>/`, the layout TF Serving watches.

    The SavedModel (signatures `encode` = `serving_default`, `decode`,
    `reconstruct`, `generate`, `score`, `score_k`; see
    `kvae.export.build_archive`) and its warm-up requests are written into a
    hidden temporary sibling folder, which is renamed into place only when
    complete: TF Serving never sees a half-written version, and a failed
    export leaves no version folder. An existing version is only replaced with
    `overwrite=True`.

    Args:
        model: a built `kvae.VAE`.
        base_dir: str. The model's folder, e.g. `saved_models/digits`.
        version: int or None. The version number (default: one more than the
            highest existing one, or 1).
        overwrite: bool. Replace an existing version folder.
        score_samples: int. Importance samples used by the `score` signature.
        transform: `kvae.data.ImageDecoding`, `kvae.data.Standardization` or
            None. The input transform the model was trained through (a run's
            `kvae.data.load_transform(run_dir)`): image models also get
            `encode_image`, `reconstruct_image`, `score_image` on encoded
            bytes. (A `Standardization`, kvae 0.1's way for tables, is
            attached to the model as `kvae.preprocessing`.)
        **bounds: `max_batch`, `max_score_samples`, `max_score_rows`: what one
            request may ask for (`kvae.export.limits`), recorded in
            `assets.extra/kvae.json`.

    Returns:
        The `Path` of the version folder.

    Example:

    >>> import tempfile, kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=(16,))
    >>> base = tempfile.mkdtemp()
    >>> kvae.export.export_saved_model(vae, base).name
    '1'
    >>> kvae.export.export_saved_model(vae, base).name
    '2'
    """
    base_dir = Path(base_dir)
    remove_abandoned(base_dir)  # first: a version a killed export had moved aside counts
    if version is None:
        version = (existing_versions(base_dir) or [0])[-1] + 1
    version = checks.positive_int(version, "version")
    checks.positive_int(score_samples, "score_samples")
    target = base_dir / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"version folder {str(target)!r} already exists; pass overwrite=True (--overwrite) "
            "or another version"
        )
    return write_saved_model(model, target, score_samples, model_name=base_dir.name, transform=transform, **bounds)


def write_saved_model(model, path, score_samples=100, model_name=None, transform=None, argument="filepath",
                      **bounds):
    """Writes the SavedModel and its warm-up file to `path`, replacing it whole or not at all.

    What `export_saved_model` publishes as a version folder, and what
    `model.export(path)` (Keras' API, `format="tf_saved_model"`) writes: it is
    built in a hidden temporary sibling and renamed into place when complete.

    Args:
        model: a built `kvae.VAE`.
        path: str or Path. The SavedModel folder.
        score_samples: int. Importance samples used by the `score` signature.
        model_name: str or None. The model name in the warm-up requests
            (default: the parent folder's name).
        transform: the input transform the model was trained through, or
            None (see `export_saved_model`).
        argument: str. How errors name `path`.
        **bounds: the request bounds (`kvae.export.limits`).

    A folder that holds anything but a SavedModel kvae wrote is refused, never
    replaced; what a killed export left beside `path` is cleared first.
    """
    path = Path(path)
    check_target(path, argument)
    model, transform = served(model, transform)  # kvae 0.1's table standardisation: into the model
    bounds = limits(model, score_samples, **bounds)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned(path.parent, re.escape(path.name))
    # Hidden and non-numeric: TF Serving ignores it while it is being written.
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; a TF Serving container may run as another user
    holder = atomic.holder_text()
    try:
        with atomic.locked(tmp / _PARTIAL, holder, f"export {str(tmp)!r}"):
            build_archive(model, score_samples, transform, **{k: bounds[k] for k in bounds if k != "score_samples"}
                          ).write_out(str(tmp), verbose=False)
            write_warmup(tmp, model, model_name=model_name or path.parent.name, transform=transform)
            atomic.write_text(tmp / MARKER, json.dumps({"kvae": kvae.__version__, **bounds}, indent=2) + "\n")
            (tmp / _PARTIAL).unlink()  # the lock stays held on the open file until the block ends
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=path.parent))
                with atomic.locked(old / _PARTIAL, holder, f"export {str(old)!r}"):
                    os.replace(path, old / "version")
                    os.replace(tmp, path)
                    shutil.rmtree(old)
            else:
                os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


FILE_FORMATS = ("onnx", "litert")


def export_endpoint(model, filepath, format, endpoint="encode", verbose=None, **kwargs):
    """Writes one deterministic endpoint of `model` as an ONNX or LiteRT file, whole or not at all.

    The endpoint (`kvae.export.endpoint_model`) is converted by Keras' own
    `Model.export`; the file is written under a temporary name and renamed.

    Args:
        model: a built `kvae.VAE` whose networks compute in float32.
        filepath: str or Path. The `.onnx` or `.tflite` file.
        format: str. `"onnx"` or `"litert"`.
        endpoint: str. `"encode"`, `"decode"` or `"reconstruct"`.
        verbose: bool or None. Keras' export messages.
        **kwargs: passed to Keras' converter (e.g. `opset_version` for ONNX).
    """
    if format not in FILE_FORMATS:
        raise ValueError(
            f"`format` must be one of {['tf_saved_model', *FILE_FORMATS]}, received: {format!r}"
        )
    if model.dtype_policy.compute_dtype != "float32":
        raise ValueError(
            f"`format={format!r}` needs a model that computes in float32 (ONNX Runtime and LiteRT on CPU "
            f"have no {model.dtype_policy.compute_dtype} matmuls), received dtype policy "
            f"{model.dtype_policy.name!r}; export a SavedModel instead"
        )
    if model.conditional:
        raise ValueError(
            f"`format={format!r}` endpoints take x or z alone; a conditional VAE's also need its labels, which "
            "kvae does not convert yet: export a SavedModel (format=\"tf_saved_model\"), whose signatures take them"
        )
    if format == "onnx":
        try:
            import tf2onnx  # noqa: F401
        except ImportError:
            raise ImportError('`format="onnx"` needs tf2onnx: pip install "kvae[onnx]"') from None
    endpoint_net = endpoint_model(model, endpoint)
    spec = [tf.TensorSpec(endpoint_net.inputs[0].shape, tf.float32, name=endpoint_net.inputs[0].name)]
    path = Path(filepath)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
        endpoint_net.export(str(tmp), format=format, verbose=bool(verbose), input_signature=spec, **kwargs)
    return path


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
    """Keras' `Model.export` for a `kvae.VAE` (what `VAE.export` does).

    - `format="tf_saved_model"` (default) writes the SavedModel that
      `export_saved_model` publishes (signatures `encode` = `serving_default`,
      `decode`, `reconstruct`, `generate`, `score`, `score_k`, with declared
      shapes, input checks and TF Serving warm-up requests), whole or not at
      all. Keras' generic export would hold only `call` and refuses a model
      whose steps never called it.
    - `format="onnx"` or `"litert"` writes one deterministic endpoint
      (`endpoint="encode"`, the default, `"decode"` or `"reconstruct"`; see
      `endpoint_model`) through Keras' own converter; call it once per
      endpoint. ONNX needs `pip install "kvae[onnx]"`.

    Args:
        model: a `kvae.VAE`.
        filepath: str or Path. The SavedModel folder or the file (replaced if
            it exists).
        format: str. `"tf_saved_model"`, `"onnx"` or `"litert"`.
        verbose: bool or None. Print where the model was written.
        input_signature: None. The inputs follow from the model.
        **kwargs: `score_samples` (int, default 100: importance samples of the
            `score` signature), `transform` and the request bounds `max_batch`, `max_score_samples`,
            `max_score_rows` (see `export_saved_model`) for a SavedModel; `endpoint` and Keras'
            converter options (`opset_version`, ...) otherwise.
    """

    if input_signature is not None:
        raise ValueError(
            "`input_signature` must be None for a kvae.VAE: the signatures take x "
            f"[batch, *event_shape] and z [batch, latent_dim]; received: {input_signature!r}"
        )
    if format == "tf_saved_model":
        path = write_saved_model(model, filepath, **kwargs)  # refuses a folder holding the user's files
        if verbose:
            names = signature_names(kwargs.get("transform"))
            print(f"Saved kvae's SavedModel (signatures {', '.join(names)}) to {path}")
        return path
    return export_endpoint(model, filepath, format, verbose=verbose, **kwargs)
