"""The data of a run: opened from `kvae train`'s options, and again from its config.json."""

import kvae
from kvae.data.open import SOURCE_OPTIONS

# Test examples held in memory for the report and the image logger (streamed sources can be large).
REPORT_EXAMPLES = 2000


def open_data(options, data_dir=None):
    """A `kvae.data.Source` for a dict of data options (argparse's, or config.json's, which records them)."""
    return kvae.data.open_source(
        options.get("data", "digits"), data_test=options.get("data_test"),
        data_dir=data_dir or options.get("data_dir"), seed=options.get("seed", 0), argument="--data",
        **{k: options.get(k) for k in SOURCE_OPTIONS},
    )


def default_likelihood(source):
    """Bernoulli for images and arrays in [0, 1]; Gaussian (decoder σ) for standardised tables."""
    return "gaussian" if source.preprocessing() is not None else "bernoulli"  # standardised: continuous


def test_examples(source, binarize, limit=None):
    """`(x, y)`: the first `limit` test examples a run is scored and pictured on.

    Binarised once with seed 0 if the run trained on binarised data, so every
    evaluation sees the same binary examples.
    """
    x, y = source.test_arrays(limit)
    return (kvae.data.binarize(x, seed=0) if binarize else x), y


def test_dataset(source, batch_size, binarize, with_labels):
    """The test split as a dataset, binarised as `test_examples` is."""
    if binarize:
        x, y = test_examples(source, binarize)
        return kvae.data.make_dataset(x, batch_size, y=y if with_labels else None)
    return source.test_dataset(batch_size, with_labels=with_labels)


def sharded_by_file(data, strategy):
    """Whether each worker reads only its own files: a multi-worker run on enough files."""
    if not kvae.distribute.in_multi_worker_mode(strategy):
        return False
    workers = strategy.cluster_resolver.cluster_spec().num_tasks("worker")
    return data.num_files >= workers


def file_sharded_stream(data, strategy, args, steps, epoch, skip):
    """The training stream with each worker reading files `i, i + workers, ...` of the split.

    `tf.distribute`'s documented per-worker input: each input pipeline yields
    its replicas' share of every global batch, from its own files only, and
    every epoch is `steps` batches on every worker (a worker whose files hold
    fewer examples wraps around), so the collectives stay in step.
    """

    def pipeline(context):
        shard = (context.num_input_pipelines, context.input_pipeline_id)
        local = strategy.num_replicas_in_sync // context.num_input_pipelines
        print(f"worker {shard[1]} of {shard[0]} reads {len(range(shard[1], data.num_files, shard[0]))} of "
              f"{data.num_files} files")
        ds = data.train_dataset(context.get_per_replica_batch_size(args.batch_size), seed=args.seed,
                                start_epoch=epoch, with_labels=args.conditional, binarize=args.binarize, shard=shard,
                                steps=steps * local)
        return ds.skip(skip * local) if skip else ds

    return strategy.distribute_datasets_from_function(pipeline)
