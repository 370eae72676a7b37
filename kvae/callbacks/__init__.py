"""Keras callbacks for VAE training: KL annealing, image and latent-space logging, safe backups."""

from kvae.callbacks.backup import FiniteBackupAndRestore
from kvae.callbacks.image_logger import ImageLogger
from kvae.callbacks.latent_plots import LatentScatter, LatentTraversal
from kvae.callbacks.pictures import PictureCallback
from kvae.callbacks.schedules import CyclicalKLAnnealing, KLWarmup, VariableSchedule

__all__ = [
    "CyclicalKLAnnealing",
    "FiniteBackupAndRestore",
    "ImageLogger",
    "KLWarmup",
    "LatentScatter",
    "LatentTraversal",
    "PictureCallback",
    "VariableSchedule",
]
