"""SavedModel export for TF Serving: signatures, versioned atomic publish, warm-up."""

from kvae.export.publish import existing_versions, export_saved_model
from kvae.export.signatures import SIGNATURES, build_archive, input_specs
from kvae.export.warmup import WARMUP_FILE, example_inputs, write_warmup

__all__ = [
    "SIGNATURES",
    "WARMUP_FILE",
    "build_archive",
    "example_inputs",
    "existing_versions",
    "export_saved_model",
    "input_specs",
    "write_warmup",
]
