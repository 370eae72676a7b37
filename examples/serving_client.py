"""Query a kvae model behind TF Serving: REST (row and columnar JSON) and gRPC.

Start TF Serving on the exported digits model (see README, "Serving with TF Serving"):

    docker run --rm -p 8500:8500 -p 8501:8501 \\
      --mount type=bind,source="$PWD/saved_models/digits",target=/models/digits \\
      -e MODEL_NAME=digits tensorflow/serving

then:

    python examples/serving_client.py                  # every signature, REST rows + columns + gRPC
    python examples/serving_client.py --print-request encode > encode.json   # a body for curl

A model trained on image files (`kvae train --data FOLDER --image-size HxW`) also
serves `encode_image`, `reconstruct_image` and `score_image` on encoded PNG/JPEG
bytes, sent base64-encoded as TF Serving's REST API expects (`{"b64": ...}`):

    python examples/serving_client.py --model images --image a.png b.jpg   # score_image over REST

Needs only numpy (REST) and tensorflow-serving-api + grpcio (gRPC); not kvae.
"""

import argparse
import base64
import json
import urllib.request

import numpy as np

EVENT_SHAPE = (8, 8, 1)  # the digits model
LATENT_DIM = 20


def example_inputs(batch_size=2):
    """Valid inputs for each signature of the digits model."""
    x = np.random.default_rng(0).uniform(size=(batch_size,) + EVENT_SHAPE).astype(np.float32)
    return {
        "encode": {"x": x},
        "decode": {"z": np.zeros((batch_size, LATENT_DIM), np.float32)},
        "reconstruct": {"x": x},
        "generate": {"seed": np.arange(batch_size, dtype=np.int64)},
        "score": {"x": x},
        "score_k": {"x": x, "num_samples": np.full(batch_size, 100, np.int32)},
    }


def rest_rows(signature, inputs):
    """TF Serving's row format: one {input: value} object per example."""
    n = len(next(iter(inputs.values())))
    return {
        "signature_name": signature,
        "instances": [{k: v[i].tolist() for k, v in inputs.items()} for i in range(n)],
    }


def rest_columns(signature, inputs):
    """TF Serving's columnar format: one batched list per input."""
    return {"signature_name": signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}


def rest_images(signature, images):
    """A REST body for an image signature: each image's bytes as `{"b64": ...}`, one row per image."""
    return {
        "signature_name": signature,
        "instances": [{"image_bytes": {"b64": base64.b64encode(data).decode("ascii")}} for data in images],
    }


def post(url, payload, timeout=10.0):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def predict_request(model, signature, inputs):
    """A gRPC `PredictRequest` for `signature`."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def grpc_predict(target, model, signature, inputs, timeout=10.0):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(predict_request(model, signature, inputs), timeout)
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--rest-port", type=int, default=8501)
    parser.add_argument("--grpc-port", type=int, default=8500)
    parser.add_argument("--model", default="digits")
    parser.add_argument("--print-request", metavar="SIGNATURE", help="print a REST body and exit")
    parser.add_argument("--image", nargs="+", metavar="FILE",
                        help="score these PNG/JPEG files with score_image (a model trained on image files)")
    args = parser.parse_args(argv)
    url = f"http://{args.host}:{args.rest_port}/v1/models/{args.model}:predict"
    if args.image:
        images = [open(path, "rb").read() for path in args.image]
        predictions = post(url, rest_images("score_image", images))["predictions"]
        for path, scores in zip(args.image, predictions):
            print(f"{path}: log p(x) ≈ {scores['log_likelihood']:.2f} nats, -ELBO {scores['neg_elbo']:.2f}")
        return
    inputs = example_inputs()
    if args.print_request:
        print(json.dumps(rest_rows(args.print_request, inputs[args.print_request])))
        return
    for signature, values in inputs.items():
        rows = post(url, rest_rows(signature, values))["predictions"]
        columns = post(url, rest_columns(signature, values))["outputs"]
        grpc_outputs = grpc_predict(f"{args.host}:{args.grpc_port}", args.model, signature, values)
        shapes = {k: v.shape for k, v in grpc_outputs.items()}
        print(f"{signature:<12} rows: {len(rows)} predictions, columns: {sorted(columns)}, gRPC: {shapes}")


if __name__ == "__main__":
    main()
