#!/usr/bin/env python3
"""Builds tiny models in the shapes the common exporters write, for the model-reach tests.
Run with Debian's python3-onnx (1.12):
    apt-get install -y python3-onnx && /usr/bin/python3 formats/models/exporters/make_exporter_models.py
Each model is what skl2onnx / onnxmltools / torch.onnx.export / tf2onnx write for such a model, cut
down to a few fixed weights so the tests compute every expected answer themselves:

  zipmap_int      skl2onnx LogisticRegression (3 classes, int labels): float_input [None,4] ->
                  output_label int64 [None], output_probability seq(map(int64, float)) via ZipMap
  zipmap_str      the same with string class labels: output_label string, map keyed by string
  dataframe       skl2onnx pipeline from a DataFrame: one [None,1] input per column (float, int64,
                  bool), Cast + Concat + LinearRegressor -> variable [None,1]
  dataframe_str   the same with a string column through OneHotEncoder
  fixed_batch4    torch.onnx.export without dynamic_axes: x [4,3] -> y [4,2]
  tokens          token ids [batch, sequence] with an attention mask, both axes dynamic
  image_uint8     a uint8 image input [None,2,2,3] -> the mean of each channel, float [None,3]
  half            a float16 model: x16 float16 [None,3] -> y16 = 2 * x16
  identity_types  one [None,2] input of every tensor type ORT runs, each passed to an output of its type
  identity_str    text string [None,2] -> same string [None,2] (quoting and escaping round trips)
  sequence_mean   x float [batch, sequence, 2] -> the mean over the sequence, [batch, 2]
  split_sequence  x float [None, 3] -> parts, a sequence of one float [3] tensor per record (SplitToSequence)
  tree_tf2onnx    a TreeEnsembleRegressor behind tf2onnx-style names (input_1:0 -> dense/BiasAdd:0) and a bool output
  bad_shapes/     models the worker refuses by name: per-token outputs [batch, sequence, 2], strings
                  with a dynamic axis
"""
import os
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 2)]

# Shared by zipmap_int and zipmap_str (and restated in Worker.Tests/Support/ExporterModels.cs).
COEFFICIENTS = [0.5, -1.0, 0.25, 1.0,    # class 0
                -0.5, 0.75, 1.0, -1.0,   # class 1
                0.0, 0.5, -0.75, 0.5]    # class 2
INTERCEPTS = [0.1, -0.2, 0.05]


def save(model, name):
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(folder, "model.onnx"))


def model(nodes, name, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=OPSET, producer_name="make_exporter_models.py")


def sequence_of_maps(name, key_type):
    # onnx 1.12's helper has no make_map_type_proto: build the map type by hand.
    map_type = onnx.TypeProto()
    map_type.map_type.key_type = key_type
    map_type.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    return helper.make_value_info(name, helper.make_sequence_type_proto(map_type))


def logistic_regression(name, labels):
    strings = isinstance(labels[0], str)
    label_attr = {"classlabels_strings": labels} if strings else {"classlabels_ints": labels}
    zipmap_attr = {"classlabels_strings": labels} if strings else {"classlabels_int64s": labels}
    nodes = [
        helper.make_node("LinearClassifier", ["float_input"], ["label", "probability_tensor"], domain="ai.onnx.ml",
                         coefficients=COEFFICIENTS, intercepts=INTERCEPTS, multi_class=1, post_transform="SOFTMAX", **label_attr),
        helper.make_node("Normalizer", ["probability_tensor"], ["probabilities"], domain="ai.onnx.ml", norm="L1"),
        helper.make_node("Identity" if strings else "Cast", ["label"], ["output_label"], **({} if strings else {"to": TensorProto.INT64})),
        helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain="ai.onnx.ml", **zipmap_attr),
    ]
    save(model(nodes, name,
               [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, 4])],
               [helper.make_tensor_value_info("output_label", TensorProto.STRING if strings else TensorProto.INT64, [None]),
                sequence_of_maps("output_probability", TensorProto.STRING if strings else TensorProto.INT64)]), name)


def dataframe(name, with_string):
    # variable = 0.5*sepal_length - 1*petal_count + 2*is_wild (+ 1.5*red - 0.5*green + 0*blue) + 0.25
    inputs = [helper.make_tensor_value_info("sepal_length", TensorProto.FLOAT, [None, 1]),
              helper.make_tensor_value_info("petal_count", TensorProto.INT64, [None, 1]),
              helper.make_tensor_value_info("is_wild", TensorProto.BOOL, [None, 1])]
    nodes = [helper.make_node("Cast", ["petal_count"], ["petal_count_f"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["is_wild"], ["is_wild_f"], to=TensorProto.FLOAT)]
    columns = ["sepal_length", "petal_count_f", "is_wild_f"]
    coefficients = [0.5, -1.0, 2.0]
    if with_string:
        inputs.append(helper.make_tensor_value_info("color", TensorProto.STRING, [None, 1]))
        nodes += [helper.make_node("OneHotEncoder", ["color"], ["color_onehot"], domain="ai.onnx.ml",
                                   cats_strings=["red", "green", "blue"], zeros=1),
                  helper.make_node("Flatten", ["color_onehot"], ["color_f"], axis=1)]
        columns.append("color_f")
        coefficients += [1.5, -0.5, 0.0]
    nodes += [helper.make_node("Concat", columns, ["features"], axis=1),
              helper.make_node("LinearRegressor", ["features"], ["variable"], domain="ai.onnx.ml",
                               coefficients=coefficients, intercepts=[0.25], targets=1)]
    save(model(nodes, name, inputs, [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])]), name)


def fixed_batch4():
    w = [1.0, -1.0, 0.5, 2.0, -0.25, 0.0]
    save(model([helper.make_node("MatMul", ["x", "w"], ["y"])], "fixed_batch4",
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])],
               [helper.make_tensor("w", TensorProto.FLOAT, [3, 2], w)]), "fixed_batch4")


def tokens():
    # lengths = sum(mask); id_sum = sum(ids * mask): both per record, over a dynamic sequence axis.
    nodes = [helper.make_node("Mul", ["input_ids", "attention_mask"], ["masked"]),
             helper.make_node("ReduceSum", ["masked", "axis"], ["id_sum"], keepdims=0),
             helper.make_node("ReduceSum", ["attention_mask", "axis"], ["lengths"], keepdims=0)]
    save(model(nodes, "tokens",
               [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
               [helper.make_tensor_value_info("id_sum", TensorProto.INT64, ["batch"]),
                helper.make_tensor_value_info("lengths", TensorProto.INT64, ["batch"])],
               [helper.make_tensor("axis", TensorProto.INT64, [1], [1])]), "tokens")


def image_uint8():
    nodes = [helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["image_f"], ["mean_rgb"], axes=[1, 2], keepdims=0)]
    save(model(nodes, "image_uint8",
               [helper.make_tensor_value_info("image", TensorProto.UINT8, [None, 2, 2, 3])],
               [helper.make_tensor_value_info("mean_rgb", TensorProto.FLOAT, [None, 3])]), "image_uint8")


def half():
    two = helper.make_tensor("two", TensorProto.FLOAT16, [1], [2.0])
    save(model([helper.make_node("Mul", ["x16", "two"], ["y16"])], "half",
               [helper.make_tensor_value_info("x16", TensorProto.FLOAT16, [None, 3])],
               [helper.make_tensor_value_info("y16", TensorProto.FLOAT16, [None, 3])], [two]), "half")


TYPES = [("f16", TensorProto.FLOAT16), ("bf16", TensorProto.BFLOAT16), ("f32", TensorProto.FLOAT),
         ("f64", TensorProto.DOUBLE), ("i8", TensorProto.INT8), ("i16", TensorProto.INT16),
         ("i32", TensorProto.INT32), ("i64", TensorProto.INT64), ("u8", TensorProto.UINT8),
         ("u16", TensorProto.UINT16), ("u32", TensorProto.UINT32), ("u64", TensorProto.UINT64),
         ("b", TensorProto.BOOL)]


def identity_types():
    nodes = [helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"]) for name, _ in TYPES]
    save(model(nodes, "identity_types",
               [helper.make_tensor_value_info(f"in_{name}", t, [None, 2]) for name, t in TYPES],
               [helper.make_tensor_value_info(f"out_{name}", t, [None, 2]) for name, t in TYPES]), "identity_types")


def identity_str():
    save(model([helper.make_node("Identity", ["text"], ["same"])], "identity_str",
               [helper.make_tensor_value_info("text", TensorProto.STRING, [None, 2])],
               [helper.make_tensor_value_info("same", TensorProto.STRING, [None, 2])]), "identity_str")


def sequence_mean():
    save(model([helper.make_node("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=0)], "sequence_mean",
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", 2])],
               [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", 2])]), "sequence_mean")


def split_sequence():
    save(model([helper.make_node("SplitToSequence", ["x"], ["parts"], axis=0, keepdims=0)], "split_sequence",
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
               [helper.make_tensor_sequence_value_info("parts", TensorProto.FLOAT, [3])]), "split_sequence")


def tree_tf2onnx():
    # One tree: x[0] <= 0.5 ? 1.5 : (x[1] <= 2 ? -1 : 4); positive = prediction > 0.
    nodes = [
        helper.make_node("TreeEnsembleRegressor", ["input_1:0"], ["dense/BiasAdd:0"], domain="ai.onnx.ml", n_targets=1,
                         nodes_treeids=[0, 0, 0, 0, 0], nodes_nodeids=[0, 1, 2, 3, 4], nodes_featureids=[0, 0, 1, 0, 0],
                         nodes_modes=["BRANCH_LEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"], nodes_values=[0.5, 0, 2.0, 0, 0],
                         nodes_truenodeids=[1, 0, 3, 0, 0], nodes_falsenodeids=[2, 0, 4, 0, 0],
                         target_treeids=[0, 0, 0], target_nodeids=[1, 3, 4], target_ids=[0, 0, 0], target_weights=[1.5, -1.0, 4.0]),
        helper.make_node("Greater", ["dense/BiasAdd:0", "zero"], ["positive:0"]),
    ]
    save(model(nodes, "tree_tf2onnx",
               [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [None, 2])],
               [helper.make_tensor_value_info("dense/BiasAdd:0", TensorProto.FLOAT, [None, 1]),
                helper.make_tensor_value_info("positive:0", TensorProto.BOOL, [None, 1])],
               [helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])]), "tree_tf2onnx")


def bad_shapes():
    save(model([helper.make_node("Identity", ["x"], ["logits"])], "per_token_output",
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", 2])],
               [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", 2])]), "bad_shapes/per_token_output")
    save(model([helper.make_node("Identity", ["text"], ["same"])], "dynamic_strings",
               [helper.make_tensor_value_info("text", TensorProto.STRING, ["batch", "words"])],
               [helper.make_tensor_value_info("same", TensorProto.STRING, ["batch", 1])]), "bad_shapes/dynamic_strings")


if __name__ == "__main__":
    logistic_regression("zipmap_int", [0, 1, 2])
    logistic_regression("zipmap_str", ["setosa", "versicolor", "virginica"])
    dataframe("dataframe", with_string=False)
    dataframe("dataframe_str", with_string=True)
    fixed_batch4()
    tokens()
    image_uint8()
    half()
    identity_types()
    identity_str()
    sequence_mean()
    split_sequence()
    tree_tf2onnx()
    bad_shapes()
