#!/usr/bin/python3
"""python3-protobuf side of the TFRecord / tf.train.Example interop tests.

The schema of tf_example.proto is built here with descriptor_pb2 (no protoc needed); the TFRecord
framing and CRC32C are implemented independently of the C# code.
  read FILE      verify framing + CRCs, parse every record as tf.train.Example, print JSON
                 [{offset, features: {key: {kind, values}}}] (bytes as base64)
  write FILE     read a JSON list of examples (same shape) from stdin and write them as a TFRecord file
"""
import base64
import json
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool

try:
    from google.protobuf.message_factory import GetMessageClass
except ImportError:  # protobuf < 4.22
    from google.protobuf import message_factory

    def GetMessageClass(desc):
        return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)

F = descriptor_pb2.FieldDescriptorProto


def build_schema():
    fdp = descriptor_pb2.FileDescriptorProto(name="tf_example.proto", package="tensorflow", syntax="proto3")

    def msg(name, fields, nested=None, oneofs=()):
        m = fdp.message_type.add(name=name)
        for o in oneofs:
            m.oneof_decl.add(name=o)
        for f in fields:
            m.field.add(**f)
        if nested:
            m.nested_type.add().CopyFrom(nested)
        return m

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    msg("BytesList", [dict(name="value", number=1, label=rep, type=F.TYPE_BYTES)])
    fl = msg("FloatList", [dict(name="value", number=1, label=rep, type=F.TYPE_FLOAT)])
    fl.field[0].options.packed = True
    il = msg("Int64List", [dict(name="value", number=1, label=rep, type=F.TYPE_INT64)])
    il.field[0].options.packed = True
    msg("Feature", [
        dict(name="bytes_list", number=1, label=opt, type=F.TYPE_MESSAGE, type_name=".tensorflow.BytesList", oneof_index=0),
        dict(name="float_list", number=2, label=opt, type=F.TYPE_MESSAGE, type_name=".tensorflow.FloatList", oneof_index=0),
        dict(name="int64_list", number=3, label=opt, type=F.TYPE_MESSAGE, type_name=".tensorflow.Int64List", oneof_index=0),
    ], oneofs=["kind"])
    entry = descriptor_pb2.DescriptorProto(name="FeatureEntry")
    entry.field.add(name="key", number=1, label=opt, type=F.TYPE_STRING)
    entry.field.add(name="value", number=2, label=opt, type=F.TYPE_MESSAGE, type_name=".tensorflow.Feature")
    entry.options.map_entry = True
    msg("Features", [dict(name="feature", number=1, label=rep, type=F.TYPE_MESSAGE,
                          type_name=".tensorflow.Features.FeatureEntry")], nested=entry)
    msg("Example", [dict(name="features", number=1, label=opt, type=F.TYPE_MESSAGE, type_name=".tensorflow.Features")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))


Example = build_schema()

_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def to_json(ex):
    out = {}
    for key, feat in ex.features.feature.items():
        kind = feat.WhichOneof("kind")
        vals = list(getattr(feat, kind).value) if kind else []
        if kind == "bytes_list":
            vals = [base64.b64encode(v).decode() for v in vals]
        out[key] = {"kind": kind, "values": vals}
    return out


def read(path):
    data = open(path, "rb").read()
    pos, records = 0, []
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        (lcrc,) = struct.unpack_from("<I", data, pos + 8)
        assert lcrc == masked(data[pos:pos + 8]), f"length crc at {pos}"
        payload = data[pos + 12:pos + 12 + length]
        (dcrc,) = struct.unpack_from("<I", data, pos + 12 + length)
        assert dcrc == masked(payload), f"data crc at {pos}"
        ex = Example()
        ex.ParseFromString(payload)
        records.append({"offset": pos, "features": to_json(ex)})
        pos += 16 + length
    print(json.dumps(records))


def write(path):
    spec = json.load(sys.stdin)
    with open(path, "wb") as f:
        for rec in spec:
            ex = Example()
            for key, feat in rec.items():
                kind, vals = feat["kind"], feat["values"]
                target = getattr(ex.features.feature[key], kind)
                if kind == "bytes_list":
                    vals = [base64.b64decode(v) for v in vals]
                target.value.extend(vals)
            payload = ex.SerializeToString()
            header = struct.pack("<Q", len(payload))
            f.write(header + struct.pack("<I", masked(header)) + payload + struct.pack("<I", masked(payload)))


if __name__ == "__main__":
    {"read": lambda: read(sys.argv[2]), "write": lambda: write(sys.argv[2])}[sys.argv[1]]()
