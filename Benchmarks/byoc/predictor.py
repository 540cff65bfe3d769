"""The classic SageMaker "bring your own container" predictor (the shape of AWS's
scikit_bring_your_own example: Flask behind gunicorn behind nginx, pandas for CSV), serving the
same arithmetic as formats/models/linear: Y = X @ W + B. The baseline the worker is measured against."""
import io

import flask
import numpy as np
import pandas as pd

W = np.array([[0.5, -1.0, 0.25],
              [1.0, 2.0, -0.5],
              [-1.5, 0.0, 1.0],
              [2.0, 1.0, 0.0]], dtype=np.float32)
B = np.array([0.1, -0.2, 0.3], dtype=np.float32)

app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    return flask.Response(response="\n", status=200, mimetype="application/json")


@app.route("/execution-parameters", methods=["GET"])
def execution_parameters():
    return flask.jsonify({"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6})


@app.route("/invocations", methods=["POST"])
def invocations():
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
    data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
    predictions = data.to_numpy(dtype=np.float32) @ W + B
    out = io.StringIO()
    pd.DataFrame(predictions).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
