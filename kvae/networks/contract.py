"""What `VAE` needs of its encoder and decoder, checked once when the model is built."""

import keras
import tensorflow as tf


def check_networks(encoder, decoder, latent_dim, likelihood, input_shape):
    """Raises a clear error unless the networks fit `latent_dim` and the likelihood.

    The encoder must map `input_shape` to one `[batch, 2 * latent_dim]` tensor or
    two `[batch, latent_dim]` ones; the decoder must map z to
    `likelihood.params_shape(event_shape)` per example.
    """
    enc = encoder.compute_output_spec(keras.KerasTensor(input_shape))
    shapes = [tuple(t.shape) for t in tf.nest.flatten(enc)]
    L = latent_dim
    if len(shapes) == 1:
        ok = len(shapes[0]) == 2 and shapes[0][-1] == 2 * L
    else:
        ok = len(shapes) == 2 and all(len(s) == 2 and s[-1] == L for s in shapes)
    if not ok:
        raise ValueError(
            f"`encoder` must output one tensor of shape (batch, 2 * latent_dim) = "
            f"(batch, {2 * L}) or two of shape (batch, {L}), for inputs of shape "
            f"{input_shape}; received output shapes {shapes}"
        )
    event_shape = tuple(input_shape[1:])
    dec = decoder.compute_output_spec(keras.KerasTensor((None, L)))
    expected = likelihood.params_shape(event_shape)
    received = tuple(dec.shape[1:])
    if received != expected:
        raise ValueError(
            f"`decoder` must output shape (batch,) + {expected} for data of shape "
            f"{event_shape} and the {type(likelihood).__name__} likelihood; "
            f"received output shape (batch,) + {received}"
        )


def known_input_shape(layer):
    """The input shape of a functional `layer` (one input), else None."""
    inputs = getattr(layer, "inputs", None)
    try:
        if inputs and len(inputs) == 1:
            return tuple(inputs[0].shape)
    except (AttributeError, ValueError):
        pass
    return None
