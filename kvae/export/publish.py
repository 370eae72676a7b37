"""`export_saved_model`: a new, complete version folder or nothing."""

import os
import shutil
import tempfile
from pathlib import Path

from kvae.export.signatures import build_archive
from kvae.export.warmup import write_warmup


def existing_versions(base_dir):
    """The integer version folders under `base_dir`, sorted."""
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        return []
    return sorted(int(p.name) for p in base_dir.iterdir() if p.is_dir() and p.name.isdigit())


def export_saved_model(model, base_dir, version=None, overwrite=False, score_samples=100):
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
    if version is None:
        version = (existing_versions(base_dir) or [0])[-1] + 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be an integer >= 1, received: {version!r}")
    if isinstance(score_samples, bool) or not isinstance(score_samples, int) or score_samples < 1:
        raise ValueError(f"`score_samples` must be an integer >= 1, received: {score_samples!r}")
    target = base_dir / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"version folder {str(target)!r} already exists; pass overwrite=True (--overwrite) "
            "or another version"
        )
    base_dir.mkdir(parents=True, exist_ok=True)
    # Hidden and non-numeric: TF Serving ignores it while it is being written.
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base_dir))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; a TF Serving container may run as another user
    try:
        build_archive(model, score_samples).write_out(str(tmp), verbose=False)
        write_warmup(tmp, model, model_name=base_dir.name)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{version}-", dir=base_dir))
            os.replace(target, old / "version")
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
