#!/usr/bin/env python3
"""Writes the hand-made replay cases in this folder: NAME.request (raw HTTP bytes) and NAME.json
(the server settings and model the case needs). The expected answers, NAME.response, are written
once by `Worker replay formats/samples --write-missing` and reviewed by eye before committing;
after that `Worker replay` (and the test suite) holds the worker to them. A capture made with
`Worker serve --record DIR` has the same layout and can be dropped in here as it is.

    python3 formats/samples/make_samples.py"""
import importlib.util
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("inputs", os.path.join(HERE, "..", "inputs", "make_inputs.py"))
inputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(inputs)

ROWS = [[1, 2, 3, 4], [-5, 0.5, 6, 7], [0.25, -0.125, 1e-3, 1e3]]
ACCEPTS = {"csv": "text/csv", "jsonl": "application/jsonlines", "json": "application/json"}


def num(v):
    return "%g" % v


def csv_body(rows):
    return "".join(",".join(num(v) for v in r) + "\n" for r in rows).encode()


def jsonl_body(rows):
    return "".join("[" + ",".join(num(v) for v in r) + "]\n" for r in rows).encode()


def json_body(rows):
    return json.dumps({"instances": rows}).encode()


def tfrecord_body(rows):
    return b"".join(inputs.tfrecord_frame(inputs.example(r)) for r in rows)


def recordio_protobuf_body(rows):
    return b"".join(inputs.recordio_frame(inputs.record(r)) for r in rows)


def recordio_raw_body(rows):
    return b"".join(inputs.recordio_frame(struct.pack("<4f", *r)) for r in rows)


TYPES = {
    "csv": ("text/csv", csv_body),
    "jsonl": ("application/jsonlines", jsonl_body),
    "json": ("application/json", json_body),
    "tfrecord": ("application/x-tfrecord", tfrecord_body),
    "recordio-protobuf": ("application/x-recordio-protobuf", recordio_protobuf_body),
    "recordio": ("application/x-recordio", recordio_raw_body),
}


def request(content_type=None, body=b"", accept=None, chunks=None, extra=None, content_length=None, method="POST", path="/invocations"):
    head = "%s %s HTTP/1.1\r\nHost: sagemaker\r\n" % (method, path)
    if content_type:
        head += "Content-Type: %s\r\n" % content_type
    if accept:
        head += "Accept: %s\r\n" % accept
    for name, value in (extra or []):
        head += "%s: %s\r\n" % (name, value)
    if chunks is not None:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        out = head.encode()
        for chunk in chunks:
            out += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        return out + b"0\r\n\r\n"
    head += "Content-Length: %d\r\n\r\n" % (len(body) if content_length is None else content_length)
    return head.encode() + body


def case(group, name, raw, description, model="linear", strategy="MULTI_RECORD", max_payload=6):
    folder = os.path.join(HERE, group)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".request"), "wb") as f:
        f.write(raw)
    settings = {"batch_strategy": strategy, "max_payload_in_mb": max_payload,
                "model_dir": "../../models/" + model, "description": description}
    with open(os.path.join(folder, name + ".json"), "w") as f:
        json.dump(settings, f, indent=2)
        f.write("\n")


def main():
    # Every Content-Type x Accept pair, MULTI_RECORD, three records through the linear model.
    for type_name, (content_type, make) in TYPES.items():
        for accept_name, accept in ACCEPTS.items():
            case("types", "%s-to-%s" % (type_name, accept_name), request(content_type, make(ROWS), accept),
                 "%s in, %s out, three records" % (content_type, accept))

    # SINGLE_RECORD: one record per request; TFRecord and RecordIO bare (SageMaker strips the framing) or framed.
    one = ROWS[1:2]
    case("single-record", "csv", request("text/csv", csv_body(one)), "one CSV row", strategy="SINGLE_RECORD")
    case("single-record", "jsonl", request("application/jsonlines", jsonl_body(one)), "one JSON line", strategy="SINGLE_RECORD")
    case("single-record", "json-array", request("application/json", b"[-5, 0.5, 6, 7]"), "one bare JSON array", strategy="SINGLE_RECORD")
    case("single-record", "tfrecord-bare", request("application/x-tfrecord", inputs.example(one[0])),
         "a tf.Example without framing, as SageMaker sends it", strategy="SINGLE_RECORD")
    case("single-record", "tfrecord-framed", request("application/x-tfrecord", tfrecord_body(one)),
         "one framed TFRecord whose CRCs check out", strategy="SINGLE_RECORD")
    case("single-record", "recordio-protobuf-bare", request("application/x-recordio-protobuf", inputs.record(one[0])),
         "a Record without framing", strategy="SINGLE_RECORD")
    case("single-record", "two-records", request("text/csv", csv_body(ROWS[:2])),
         "two CSV rows under SINGLE_RECORD: 400 saying so", strategy="SINGLE_RECORD")

    # Media-type parameters and Accept negotiation.
    case("parameters", "csv-charset", request("text/csv; charset=utf-8", csv_body(ROWS), "text/csv"), "charset=utf-8 is accepted")
    case("parameters", "csv-header-present", request("text/csv; header=present", b"a,b,c,d\n" + csv_body(ROWS), "text/csv"),
         "header=present: the first row is skipped")
    case("parameters", "csv-charset-latin1", request("text/csv; charset=latin1", csv_body(ROWS)), "an unsupported charset is 415")
    case("parameters", "jsonl-alias", request("application/x-jsonlines", jsonl_body(ROWS), "application/jsonl"), "the JSON Lines aliases")
    case("parameters", "accept-quality", request("text/csv", csv_body(ROWS), "application/json;q=0.5, application/jsonlines;q=0.9"),
         "the Accept entry of highest quality wins")
    case("parameters", "accept-wildcard", request("application/x-tfrecord", tfrecord_body(ROWS), "*/*"), "*/* answers in the type's family")
    case("parameters", "csv-quoted", request("text/csv", b'"1","2",3,"4"\r\n"-5",0.5,"6",7\r\n', "text/csv"),
         "RFC 4180 quoted fields and CRLF line ends")
    case("parameters", "csv-bom", request("text/csv", b"\xef\xbb\xbf" + csv_body(ROWS), "text/csv"), "a UTF-8 byte order mark")

    # Chunked bodies, cut in odd places.
    body = csv_body(ROWS)
    case("chunked", "csv", request("text/csv", chunks=[body[:5], body[5:6], body[6:]], accept="text/csv"), "a chunked CSV body")
    body = tfrecord_body(ROWS)
    case("chunked", "tfrecord", request("application/x-tfrecord", chunks=[body[i:i + 7] for i in range(0, len(body), 7)]),
         "a chunked TFRecord body, 7-byte chunks")
    case("chunked", "jsonl-single-record", request("application/jsonlines", chunks=[b"[1,2,", b"3,4]\n"]),
         "a chunked body under SINGLE_RECORD", strategy="SINGLE_RECORD")

    # Other models: several outputs, several inputs.
    case("models", "classifier-jsonl", request("text/csv", b"1,2,3\n-1,0,4\n", "application/jsonlines"),
         "two outputs (float probabilities, int64 label) as JSON Lines", model="classifier")
    case("models", "classifier-csv", request("text/csv", b"1,2,3\n-1,0,4\n", "text/csv"), "two outputs on one CSV line", model="classifier")
    case("models", "two-inputs-jsonl", request("application/jsonlines", b'{"a": [1, 2], "b": [3, 4]}\n{"a": [0.5, -1], "b": [2, -7]}\n'),
         "JSON objects keyed by input name", model="two_inputs")

    # Models in the exporters' shapes (formats/models/exporters): every element type, strings, ZipMap,
    # one input per DataFrame column, a fixed batch of 4.
    ex = "exporters/"
    case("exporters", "zipmap-int-jsonl", request("text/csv", b"5.1,3.5,1.4,0.2\n6.7,3,5.2,2.3\n", "application/jsonlines"),
         "skl2onnx LogisticRegression: int64 label and ZipMap probabilities as an object keyed by class", model=ex + "zipmap_int")
    case("exporters", "zipmap-str-csv", request("text/csv", b"5.1,3.5,1.4,0.2\n6.7,3,5.2,2.3\n", "text/csv"),
         "string class labels: the label, then each class's probability in label order", model=ex + "zipmap_str")
    case("exporters", "zipmap-str-json", request("application/json", b'{"instances": [[5.1,3.5,1.4,0.2]]}', "application/json"),
         "string labels and a ZipMap keyed by string, as JSON", model=ex + "zipmap_str")
    case("exporters", "dataframe-header", request("text/csv; header=present",
         b'color,is_wild,petal_count,sepal_length\n"green, light",False,0,-2.5\nred,True,3,5.1\n', "text/csv"),
         "one [None,1] input per DataFrame column, mapped by the header's names; a quoted string column", model=ex + "dataframe_str")
    case("exporters", "dataframe-jsonl", request("application/jsonlines",
         b'{"sepal_length": 5.1, "petal_count": 3, "is_wild": true, "color": "red"}\n', "application/jsonlines"),
         "JSON objects keyed by input name: numbers, a boolean and a string", model=ex + "dataframe_str")
    case("exporters", "fixed-batch4-csv", request("text/csv", b"0,0,1\n1,-0.5,2\n2,-1,3\n3,-1.5,4\n4,-2,5\n", "text/csv"),
         "a fixed batch of 4 (torch.onnx.export without dynamic_axes): five records, two Runs, the last padded", model=ex + "fixed_batch4")
    case("exporters", "image-uint8-recordio", request("application/x-recordio",
         inputs.recordio_frame(bytes([0, 10, 255, 20, 30, 255, 40, 50, 0, 60, 70, 0])), "application/jsonlines"),
         "a uint8 image [None,2,2,3] as raw little-endian bytes", model=ex + "image_uint8")
    case("exporters", "half-csv", request("text/csv", b"1.5,-0.1,65504\n", "application/jsonlines"),
         "float16 in and out (65504 doubled overflows: null in JSON)", model=ex + "half")
    case("exporters", "identity-types-csv", request("text/csv",
         b"0.5,-65504,1.5,-256,0.1,-1e-30,0.1,1e300,-128,127,-32768,32767,-2147483648,2147483647,"
         b"-9223372036854775808,9223372036854775807,0,255,0,65535,0,4294967295,0,18446744073709551615,true,false\n",
         "application/jsonlines"), "every tensor type's edge values through Identity", model=ex + "identity_types")
    case("exporters", "identity-str-json", request("application/json",
         json.dumps({"instances": [["with, comma", "say \"hi\""], ["two\nlines", "caf\u00e9"]]}).encode(), "text/csv"),
         "strings through Identity: RFC 4180 quoting in CSV answers", model=ex + "identity_str")
    case("exporters", "uint8-out-of-range", request("text/csv", b"0,10,256,20,30,255,40,50,0,60,70,0\n"),
         "256 does not fit a uint8 input: 400 naming the record", model=ex + "image_uint8")
    case("exporters", "dataframe-missing-column", request("text/csv; header=present", b"sepal_length,petal_count\n5.1,3\n"),
         "the header has no column for two inputs: 400 naming them", model=ex + "dataframe_str")

    # Errors: status and JSON error with the record at fault.
    frames = bytearray(tfrecord_body(ROWS))
    frames[-1] ^= 0xFF
    case("errors", "tfrecord-crc-mismatch", request("application/x-tfrecord", bytes(frames)), "the last record's data CRC is wrong")
    case("errors", "tfrecord-truncated", request("application/x-tfrecord", tfrecord_body(ROWS)[:-6]), "the last frame is cut short")
    bad = bytearray(recordio_protobuf_body(ROWS))
    bad[0] = 0
    case("errors", "recordio-bad-magic", request("application/x-recordio-protobuf", bytes(bad)), "the first frame's magic is wrong")
    case("errors", "csv-ragged-row", request("text/csv", b"1,2,3,4\n5,6,7\n8,9,10,11\n"), "record 1 has three values")
    case("errors", "csv-not-a-number", request("text/csv", b"1,2,3,4\n5,six,7,8\n"), "record 1 holds a word")
    case("errors", "csv-blank-line", request("text/csv", b"1,2,3,4\n\n5,6,7,8\n"), "a blank line between records")
    case("errors", "jsonl-bad-line", request("application/jsonlines", b"[1,2,3,4]\n[5,6,7,8\n[9,10,11,12]\n"), "record 1 is not JSON")
    case("errors", "unsupported-type", request("image/gif", b"GIF89a"), "415 for a type the worker does not read")
    case("errors", "not-acceptable", request("text/csv", csv_body(ROWS), "image/png"), "406 for an Accept it cannot answer")
    case("errors", "empty-body", request("text/csv", b""), "400 for an empty body")
    case("errors", "oversize", request("text/csv", b"", content_length=2 * 1024 * 1024),
         "413 decided from Content-Length before any body byte is read", max_payload=1)
    case("errors", "wrong-method", request(method="GET", path="/invocations"), "405 with Allow: POST")
    case("errors", "unknown-path", request(method="GET", path="/metrics"), "404")


if __name__ == "__main__":
    main()
