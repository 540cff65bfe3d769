#!/usr/bin/env python3
"""Builds the tiny image-input test models in this folder (onnx 1.12 or later):
    apt-get install -y python3-onnx && /usr/bin/python3 formats/models/images/make_image_models.py

  nchw_float     image float [None,3,8,8]  -> pixels (the same tensor) and mean [None,3] per channel
  nhwc_uint8     image uint8 [None,8,8,3]  -> pixels (the same tensor)
  dynamic_half   image float16 [None,3,None,None] -> mean float16 [None,3] (any image size)
  gray           image float [None,1,4,4]  -> pixels (the same tensor)
  with_metadata  image float [None,3,4,4]  -> pixels, with WORKER_IMAGE_* in metadata_props:
                 RESIZE=6 (shorter side, then a 4x4 center crop), MEAN, STD, CHANNELS=bgr, SCALE=1/255
The tests compute what each should answer from the images they make."""
import os
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 13)]


def save(nodes, name, inputs, outputs, metadata=None):
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="make_image_models.py")
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))


def info(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


save([helper.make_node("Identity", ["image"], ["pixels"]),
      helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0)],
     "nchw_float", [info("image", TensorProto.FLOAT, [None, 3, 8, 8])],
     [info("pixels", TensorProto.FLOAT, [None, 3, 8, 8]), info("mean", TensorProto.FLOAT, [None, 3])])

save([helper.make_node("Identity", ["image"], ["pixels"])],
     "nhwc_uint8", [info("image", TensorProto.UINT8, [None, 8, 8, 3])],
     [info("pixels", TensorProto.UINT8, [None, 8, 8, 3])])

save([helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0)],
     "dynamic_half", [info("image", TensorProto.FLOAT16, [None, 3, "height", "width"])],
     [info("mean", TensorProto.FLOAT16, [None, 3])])

save([helper.make_node("Identity", ["image"], ["pixels"])],
     "gray", [info("image", TensorProto.FLOAT, [None, 1, 4, 4])],
     [info("pixels", TensorProto.FLOAT, [None, 1, 4, 4])])

save([helper.make_node("Identity", ["image"], ["pixels"])],
     "with_metadata", [info("image", TensorProto.FLOAT, [None, 3, 4, 4])],
     [info("pixels", TensorProto.FLOAT, [None, 3, 4, 4])],
     {"WORKER_IMAGE_RESIZE": "6", "WORKER_IMAGE_MEAN": "0.406,0.456,0.485", "WORKER_IMAGE_STD": "0.225,0.224,0.229",
      "WORKER_IMAGE_CHANNELS": "bgr", "WORKER_IMAGE_SCALE": "1/255"})
