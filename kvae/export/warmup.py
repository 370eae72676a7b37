"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests`."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from kvae.data.transforms import ImageDecoding
from kvae.export.transformed import IMAGE_INPUT, IMAGE_SIGNATURES

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def example_inputs(event_shape, latent_dim, batch_size=2, num_samples=4, condition=None, transform=None):
    """Valid inputs for every signature (what warm-up and the latency bench send).

    Args:
        event_shape: tuple of int. Shape of one example.
        latent_dim: int. Size of z.
        batch_size: int. Rows per request.
        num_samples: int. K for `score_k`.
        condition: `kvae.conditions.Condition` or None. A conditional VAE's
            condition (`model.condition`): its served input, with the valid
            values it gives (`Condition.example`).
        transform: `kvae.data.ImageDecoding` or None. Adds the image
            signatures' requests (mid-grey PNGs of the training size).
    """
    x = np.full((batch_size,) + tuple(event_shape), 0.5, np.float32)
    inputs = {
        "encode": {"x": x},
        "decode": {"z": np.zeros((batch_size, latent_dim), np.float32)},
        "reconstruct": {"x": x},
        "generate": {"seed": np.arange(batch_size, dtype=np.int64)},
        "score": {"x": x},
        "score_k": {"x": x, "num_samples": np.full((batch_size,), num_samples, np.int32)},
    }
    if isinstance(transform, ImageDecoding):
        png = tf.io.encode_png(tf.fill([*transform.image_size, transform.channels], tf.constant(128, tf.uint8)))
        images = np.array([png.numpy()] * batch_size, dtype=object)
        inputs.update({name: {IMAGE_INPUT: images} for name in IMAGE_SIGNATURES})
    spec = None if condition is None else condition.spec()
    if spec is not None:
        value = np.asarray(condition.example(batch_size), spec.dtype.as_numpy_dtype)
        inputs = {name: {**values, spec.name: value} for name, values in inputs.items()}
    return inputs


def write_warmup(saved_model_dir, model, model_name, batch_sizes=(1, 2), transform=None):
    """Writes `PredictionLog` records (one `PredictRequest` per signature and batch size).

    TF Serving replays them when it loads the version, so the first real
    request does not pay for lazy initialisation.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(saved_model_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch_size in batch_sizes:
            examples = example_inputs(model.event_shape, model.latent_dim, batch_size,
                                      condition=model.condition, transform=transform)
            for signature, inputs in examples.items():
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
                )
                for key, value in inputs.items():
                    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
                log = prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
                writer.write(log.SerializeToString())
    return path
