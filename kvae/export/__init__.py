"""SavedModel export for TF Serving: signatures, versioned atomic publish, warm-up."""

from kvae.export.endpoints import ENDPOINTS, endpoint_model
from kvae.export.publish import (
    FILE_FORMATS,
    existing_versions,
    export_endpoint,
    export_model,
    export_saved_model,
    exported_by_kvae,
    write_saved_model,
)
from kvae.export.signatures import (
    MAX_BATCH,
    MAX_SCORE_SAMPLES,
    SIGNATURES,
    build_archive,
    condition_spec,
    input_specs,
    limits,
)
from kvae.export.transformed import IMAGE_INPUT, IMAGE_SIGNATURES
from kvae.export.warmup import WARMUP_FILE, example_inputs, write_warmup

__all__ = [
    "MAX_BATCH",
    "MAX_SCORE_SAMPLES",
    "exported_by_kvae",
    "limits",
    "ENDPOINTS",
    "IMAGE_INPUT",
    "IMAGE_SIGNATURES",
    "FILE_FORMATS",
    "endpoint_model",
    "export_endpoint",
    "export_model",
    "SIGNATURES",
    "WARMUP_FILE",
    "build_archive",
    "condition_spec",
    "example_inputs",
    "existing_versions",
    "export_saved_model",
    "input_specs",
    "signature_names",
    "write_saved_model",
    "write_warmup",
]
