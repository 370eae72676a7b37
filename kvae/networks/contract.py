"""What `VAE` needs of its encoder and decoder, checked once when the model is built."""

import keras
import tensorflow as tf


def check_networks(encoder, decoder, latent_dim, likelihood, input_shape, params_sizes=None, condition_shape=None):
    """Raises a clear error unless the networks fit `latent_dim`, the posterior and the likelihood.

    The encoder must map `input_shape` to one `[batch, sum(params_sizes)]`
    tensor or one `[batch, size]` tensor per entry of `params_sizes` (the
    posterior's parameter blocks; default: the diagonal Gaussian's
    `(latent_dim, latent_dim)`); the decoder must map z to
    `likelihood.params_shape(event_shape)` per example. With a
    `condition_shape` (a conditional VAE) they take `[x, c]` and `[z, c]`.
    """
    L = latent_dim
    sizes = tuple(params_sizes or (L, L))
    c = None if condition_shape is None else keras.KerasTensor((None, *condition_shape))
    x = keras.KerasTensor(input_shape)
    enc = _output_spec(encoder, "encoder", x, c)
    shapes = [tuple(t.shape) for t in tf.nest.flatten(enc)]
    if len(shapes) == 1:
        ok = len(shapes[0]) == 2 and shapes[0][-1] == sum(sizes)
    else:
        ok = len(shapes) == len(sizes) and all(len(s) == 2 and s[-1] == n for s, n in zip(shapes, sizes))
    if not ok:
        blocks = " and ".join(f"(batch, {n})" for n in sizes)
        raise ValueError(
            f"`encoder` must output one tensor of shape (batch, {sum(sizes)}) or {len(sizes)} of shapes "
            f"{blocks} (the posterior's parameters for latent_dim={L}), for inputs of shape "
            f"{input_shape}; received output shapes {shapes}"
        )
    event_shape = tuple(input_shape[1:])
    z = keras.KerasTensor((None, L))
    dec = _output_spec(decoder, "decoder", z, c)
    expected = likelihood.params_shape(event_shape)
    received = tuple(dec.shape[1:])
    if received != expected:
        raise ValueError(
            f"`decoder` must output shape (batch,) + {expected} for data of shape "
            f"{event_shape} and the {type(likelihood).__name__} likelihood; "
            f"received output shape (batch,) + {received}"
        )


def _output_spec(network, name, inputs, condition):
    if condition is None:
        return network.compute_output_spec(inputs)
    try:
        return network.compute_output_spec([inputs, condition])
    except Exception as error:  # noqa: BLE001 - any failure means the network does not take [input, condition]
        raise ValueError(
            f"`{name}` of a conditional VAE must take [{'x' if name == 'encoder' else 'z'}, condition] with "
            f"inputs of shapes {tuple(inputs.shape)} and {tuple(condition.shape)} (build it with the same "
            f"num_classes or condition_shape); calling it failed: {error}"
        ) from error


def known_input_shape(layer):
    """The input shape of a functional `layer`'s (first) input, else None."""
    inputs = getattr(layer, "inputs", None)
    try:
        if inputs and len(inputs) in (1, 2):  # x, or [x, condition]
            return tuple(inputs[0].shape)
    except (AttributeError, ValueError):
        pass
    return None
