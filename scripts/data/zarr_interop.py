#!/usr/bin/python3
"""zarr-python side of the Zarr interop tests (tests/RoboFactory.Data.Tests/ZarrInteropTests.cs).

Run with Debian's interpreter (python3-zarr 2.13.6, python3-numcodecs, python3-numpy):
  suite DIR          write arrays with varied chunkings/codecs/fill values into DIR, print a JSON manifest
  dump STORE         print {array path: {shape, dtype, chunks, sha256 of the C-order values}} for every array
  mirror SRC DST     rewrite SRC's arrays with zarr-python (same metadata, appended episode by episode
                     using meta/episode_ends) into DST, so the two directory trees can be compared byte for byte
"""
import hashlib
import json
import sys

import numpy as np
import numcodecs
import zarr
from numcodecs import Blosc
import numcodecs.blosc

# One blosc thread, like our writer: libblosc lays out multi-threaded frames differently.
numcodecs.blosc.use_threads = False


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def pattern(shape, dtype, seed):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) * 10).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.randint(0, 2, size=shape).astype(bool)
    info = np.iinfo(dtype)
    return rng.randint(max(info.min, -1000), min(info.max, 1000) + 1, size=shape).astype(dtype)


def suite(root):
    g = zarr.open_group(root, mode="w")
    manifest = []

    def add(name, shape, dtype, chunks, compressor, fill_value=0, region=None, **kw):
        a = g.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks, compressor=compressor,
                             fill_value=fill_value, **kw)
        data = pattern(shape, dtype, len(manifest) + 1)
        if region is None:
            a[...] = data
        else:
            a[region] = data[region]  # chunks outside the region are never written -> fill_value
        full = a[...]
        manifest.append({"name": name, "dtype": a.dtype.str, "shape": list(shape), "sha256": sha(full)})

    # image-like uint8 with every dimension chunked and partial edge chunks everywhere
    add("img_edges", (23, 3, 10, 13), "u1", (7, 2, 4, 5), Blosc("zstd", 3, Blosc.SHUFFLE))
    add("img_lz4_bit", (11, 3, 8, 8), "u1", (4, 3, 8, 8), Blosc("lz4", 5, Blosc.BITSHUFFLE))
    add("act_blosclz_noshuffle", (57, 8), "<f4", (10, 8), Blosc("blosclz", 9, Blosc.NOSHUFFLE))
    add("act_lz4hc_auto", (57, 8), "<f4", (16, 3), Blosc("lz4hc", 4, Blosc.AUTOSHUFFLE))
    add("ends_zlibblosc", (9,), "<i8", (4,), Blosc("zlib", 1, Blosc.SHUFFLE))
    add("f64_fill_nan", (30, 4), "<f8", (8, 4), Blosc("zstd", 1), fill_value=float("nan"),
        region=(slice(0, 13), slice(None)))
    add("i16_fill_7", (20, 6), "<i2", (6, 4), Blosc("zstd", 3), fill_value=7,
        region=(slice(2, 9), slice(0, 3)))
    add("u1_missing_all", (5, 5), "u1", (2, 2), Blosc("zstd", 3), fill_value=42, region=(slice(0, 0),))
    add("bool_gzip", (17, 3), "|b1", (5, 3), numcodecs.GZip(5))
    add("f4_zlib", (17, 3), "<f4", (5, 2), numcodecs.Zlib(3))
    add("u4_raw", (17, 3), "<u4", (5, 3), None)
    add("i4_slash", (12, 5), "<i4", (5, 2), Blosc("zstd", 3), dimension_separator="/")
    add("big_chunk", (3, 2), "<f4", (100, 2), Blosc("zstd", 3))

    # things we must refuse with a clear error
    errs = []
    g.create_dataset("err_order_f", shape=(4, 4), dtype="<f4", chunks=(2, 2), order="F")[...] = 1
    errs.append({"name": "err_order_f", "field": "order"})
    g.create_dataset("err_lzma", shape=(4,), dtype="<f4", chunks=(2,), compressor=numcodecs.LZMA())[...] = 1
    errs.append({"name": "err_lzma", "field": "compressor.id"})
    g.create_dataset("err_filters", shape=(4,), dtype="<i4", chunks=(2,), filters=[numcodecs.Delta(dtype="<i4")])[...] = 1
    errs.append({"name": "err_filters", "field": "filters"})
    g.create_dataset("err_bigendian", shape=(4,), dtype=">f4", chunks=(2,))[...] = 1
    errs.append({"name": "err_bigendian", "field": "dtype"})
    print(json.dumps({"arrays": manifest, "errors": errs}))


def walk(group, prefix=""):
    for name, arr in group.arrays():
        yield prefix + name, arr
    for name, sub in group.groups():
        yield from walk(sub, prefix + name + "/")


def dump(path):
    g = zarr.open_group(path, mode="r")
    out = {}
    for name, a in walk(g):
        v = a[...]
        out[name] = {"shape": list(a.shape), "dtype": a.dtype.str, "chunks": list(a.chunks),
                     "sha256": sha(v), "compressor": a.compressor.get_config() if a.compressor else None,
                     "fill_value": None if a.fill_value is None else float(a.fill_value)}
    out["__attrs__"] = dict(g.attrs)
    print(json.dumps(out))


def mirror(src, dst):
    s = zarr.open_group(src, mode="r")
    d = zarr.open_group(dst, mode="w")
    d.attrs.put(dict(s.attrs))
    ends = s["meta/episode_ends"][...]
    for name, a in walk(s):
        if name == "meta/episode_ends":
            continue
        b = d.create_dataset(name, shape=(0,) + a.shape[1:], chunks=a.chunks, dtype=a.dtype,
                             compressor=a.compressor, fill_value=a.fill_value)
        start = 0
        for end in ends:
            b.append(a[start:end])
            start = end
    e = d.create_dataset("meta/episode_ends", shape=(0,), chunks=s["meta/episode_ends"].chunks, dtype="<i8",
                         compressor=s["meta/episode_ends"].compressor, fill_value=0)
    for end in ends:
        e.append(np.array([end], dtype="<i8"))
    print(json.dumps({"episodes": len(ends)}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "suite":
        suite(sys.argv[2])
    elif cmd == "dump":
        dump(sys.argv[2])
    elif cmd == "mirror":
        mirror(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
