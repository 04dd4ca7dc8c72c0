#!/usr/bin/python3
"""PyAV side of the LeRobot tests (tests/RoboFactory.Data.Tests/LeRobotTests.cs).

Decodes frames the way LeRobot's "pyav" video backend does (huggingface/lerobot, lerobot/datasets/video_utils.py):
seek to the keyframe at or before the first queried time, decode forward, and for every queried time take the
decoded frame whose pts is closest; LeRobot refuses the sample when that distance exceeds tolerance_s (1e-4 s).

Run with Debian's interpreter (python3-av, python3-numpy). Reads a JSON list on stdin:
  [{"id": ANY, "path": MP4, "times": [seconds, ...]}, ...]
and prints a JSON list: [{"id": ..., "pts_errors": [s, ...], "frames": [base64 of HxWx3 rgb24, ...],
"width": W, "height": H}, ...].
"""
import base64
import json
import sys

import av


def decode(path, times):
    with av.open(path) as container:
        stream = container.streams.video[0]
        first, last = min(times), max(times)
        container.seek(int(first / stream.time_base), stream=stream, backward=True, any_frame=False)
        decoded = []
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            decoded.append((t, frame))
            if t >= last:
                break
    errors, frames = [], []
    for q in times:
        t, frame = min(decoded, key=lambda tf: abs(tf[0] - q))
        errors.append(abs(t - q))
        frames.append(base64.b64encode(frame.to_ndarray(format="rgb24").tobytes()).decode("ascii"))
    return errors, frames, decoded[0][1].width, decoded[0][1].height


def main():
    out = []
    for q in json.load(sys.stdin):
        errors, frames, w, h = decode(q["path"], q["times"])
        out.append({"id": q["id"], "pts_errors": errors, "frames": frames, "width": w, "height": h})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
