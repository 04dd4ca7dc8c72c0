#!/usr/bin/python3
"""zarr-python side of `robofactory bench prepare` (bench/RoboFactory.Bench/DataBench.cs).

  write INPUT_DIR STORE   append the raw arrays in INPUT_DIR episode by episode into a new store,
                          with the upstream settings (Blosc zstd 3, byte shuffle, 100-step chunks)
  read STORE              read every array of STORE completely
Both print {"seconds": t, "bytes": uncompressed bytes}; only the zarr calls are timed.
INPUT_DIR holds manifest.json {"arrays": [{"name", "dtype", "shape"}], "episode_ends": [...]}
and one NAME.bin (C order, little-endian) per array ('/' in names replaced by '__').
"""
import json
import os
import sys
import time

import numpy as np
import zarr
from numcodecs import Blosc


def write(inp, store):
    man = json.load(open(os.path.join(inp, "manifest.json")))
    data = {a["name"]: np.fromfile(os.path.join(inp, a["name"].replace("/", "__") + ".bin"),
                                   dtype=a["dtype"]).reshape(a["shape"]) for a in man["arrays"]}
    comp = Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE)
    t0 = time.perf_counter()
    root = zarr.open_group(store, mode="w")
    arrays = {n: root.create_dataset(n, shape=(0,) + d.shape[1:], chunks=(100,) + d.shape[1:], dtype=d.dtype,
                                     compressor=comp) for n, d in data.items()}
    ends = root.create_dataset("meta/episode_ends", shape=(0,), chunks=(1024,), dtype="<i8", compressor=comp)
    start = 0
    for end in man["episode_ends"]:
        for n, d in data.items():
            arrays[n].append(d[start:end])
        ends.append(np.array([end], dtype="<i8"))
        start = end
    t = time.perf_counter() - t0
    print(json.dumps({"seconds": t, "bytes": int(sum(d.nbytes for d in data.values()))}))


def read(store):
    t0 = time.perf_counter()
    root = zarr.open_group(store, mode="r")
    total = 0
    for name in ("data",):
        for _, a in root[name].arrays():
            total += a[...].nbytes
    t = time.perf_counter() - t0
    print(json.dumps({"seconds": t, "bytes": total}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        read(sys.argv[2])
