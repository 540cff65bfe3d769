#!/usr/bin/env python3
"""Builds the tiny test models in this folder. Run with Debian's python3-onnx:
    apt-get install -y python3-onnx && /usr/bin/python3 formats/models/make_models.py
Weights are small fixed numbers so tests can compute the expected answers independently.

    /usr/bin/python3 formats/models/make_models.py --mlp DIR
builds the benchmarks' compute-bound MLP 64->512->512->16 (1.2 MB, so it is not committed)."""
import os
import random
import sys
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 13)]


def save(model, folder):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, folder, "model.onnx"))


def linear():
    # Y[N,3] = X[N,4] @ W[4,3] + B[3]
    w = [0.5, -1.0, 0.25,
         1.0, 2.0, -0.5,
         -1.5, 0.0, 1.0,
         2.0, 1.0, 0.0]
    b = [0.1, -0.2, 0.3]
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["X", "W", "B"], ["Y"])],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor("W", TensorProto.FLOAT, [4, 3], w), helper.make_tensor("B", TensorProto.FLOAT, [3], b)],
    )
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="make_models.py"), "linear")


def classifier():
    # probabilities[N,2] = Softmax(X[N,3] @ W + B); label[N] = ArgMax(probabilities) as int64
    w = [1.0, -1.0,
         0.5, 0.5,
         -2.0, 2.0]
    b = [0.0, 0.1]
    nodes = [
        helper.make_node("Gemm", ["X", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        [helper.make_tensor("W", TensorProto.FLOAT, [3, 2], w), helper.make_tensor("B", TensorProto.FLOAT, [2], b)],
    )
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="make_models.py"), "classifier")


def two_inputs():
    # sum[N,2] = a[N,2] + Cast<float>(b[N,2] int64)
    nodes = [
        helper.make_node("Cast", ["b"], ["b_float"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["a", "b_float"], ["sum"]),
    ]
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["N", 2])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 2])],
    )
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="make_models.py"), "two_inputs")


def fixed_batch():
    # Y[1,2] = X[1,2] * 2: no dynamic first dimension, so it runs row by row.
    graph = helper.make_graph(
        [helper.make_node("Mul", ["X", "two"], ["Y"])],
        "fixed_batch",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])],
    )
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="make_models.py"), "fixed_batch")


def gather():
    # Y[N,1] = table[X[N,1]] with table = [10, 20, 30]: an index outside 0..2 makes Run fail inside ORT,
    # which is how the tests show that a failed batch fails only its own requests.
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "X"], ["Y"], axis=0)],
        "gather",
        [helper.make_tensor_value_info("X", TensorProto.INT64, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor("table", TensorProto.FLOAT, [3], [10.0, 20.0, 30.0])],
    )
    save(helper.make_model(graph, opset_imports=OPSET, producer_name="make_models.py"), "gather")


def mlp(folder):
    # X[N,64] -> Relu(Gemm 512) -> Relu(Gemm 512) -> Gemm 16: the "compute-bound" model of DESIGN.md 6.
    rng = random.Random(64)
    sizes = [64, 512, 512, 16]
    nodes, inits, previous = [], [], "X"
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        scale = (2.0 / n_in) ** 0.5
        w = [rng.gauss(0.0, scale) for _ in range(n_in * n_out)]
        inits.append(helper.make_tensor(f"W{layer}", TensorProto.FLOAT, [n_in, n_out], w))
        inits.append(helper.make_tensor(f"B{layer}", TensorProto.FLOAT, [n_out], [0.01] * n_out))
        out = "Y" if layer == len(sizes) - 2 else f"h{layer}"
        gemm_out = out if out == "Y" else f"g{layer}"
        nodes.append(helper.make_node("Gemm", [previous, f"W{layer}", f"B{layer}"], [gemm_out]))
        if out != "Y":
            nodes.append(helper.make_node("Relu", [gemm_out], [out]))
        previous = out
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 16])],
        inits)
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="make_models.py")
    onnx.checker.check_model(model)
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--mlp":
        mlp(sys.argv[2])
        sys.exit(0)
    linear()
    classifier()
    two_inputs()
    fixed_batch()
    gather()
