"""`gated`: what a served op sees of an input whose checks may fail.

Under the session call TF Serving makes, a failing `tf.debugging.Assert` races
the ops after it; an op fed the bad input could fail first with an error of its
own, or allocate what the bad request sized. So every op after a check sees the
input only through `gated`: the input if the checks passed, else an empty
batch of the declared shape, data-dependent and without a `tf.cond`
(Grappler runs both branches of a cond here).
"""

import tensorflow as tf


def gated(tensor, ok, shape):
    """`tensor` as `[batch, *shape[1:]]` if `ok`, else an empty batch of that shape: data-dependent, no cond."""
    per_row = 1
    for d in shape[1:]:
        per_row *= int(d)
    rows = tf.where(ok, tf.size(tensor) // per_row, 0)
    return tf.reshape(tf.reshape(tensor, [-1])[: rows * per_row], [-1, *shape[1:]])
