"""Keras forward latency: generated MobileNet V1 against keras.applications.MobileNet
(weights=None, alpha=1.0), built in the same run, TensorFlow backend.

    KERAS_BACKEND=tensorflow python bench/keras_latency.py [--batches 1 32] [--repeat 20] [--markdown]

Both models are called the same way (`model(x, training=False)` inside one tf.function each),
timed interleaved; the figure is the median per-round time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import specgen  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _runner(model):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False), jit_compile=False)
        return lambda x: fn(x).numpy()
    return lambda x: keras.ops.convert_to_numpy(model(x, training=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    generated = specgen.compile(ROOT / "examples" / "mobilenet_v1.conv").to_keras()
    reference = keras.applications.MobileNet(weights=None, alpha=1.0, input_shape=(224, 224, 3))
    run_gen, run_ref = _runner(generated), _runner(reference)
    if args.markdown:
        print("| model | backend | batch | generated (ms) | keras.applications (ms) | ratio |")
        print("|---|---|---|---|---|---|")
    for batch in args.batches:
        x = np.random.default_rng(0).normal(size=(batch, 224, 224, 3)).astype("float32")
        for _ in range(3):
            run_gen(x)
            run_ref(x)
        gen, ref = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            run_gen(x)
            gen.append(time.perf_counter() - t)
            t = time.perf_counter()
            run_ref(x)
            ref.append(time.perf_counter() - t)
        g, r = statistics.median(gen), statistics.median(ref)
        backend = keras.backend.backend()
        if args.markdown:
            print(
                f"| MobileNet V1 | {backend} | {batch} | {g * 1e3:.2f} | {r * 1e3:.2f} | {g / r:.3f} |"
            )
        else:
            print(
                f"MobileNet V1 {backend} b={batch}: generated {g * 1e3:.2f} ms, "
                f"keras.applications {r * 1e3:.2f} ms, ratio {g / r:.3f}"
            )
    print(
        f"\nparams: generated {generated.count_params():,}, keras.applications {reference.count_params():,}"
    )


if __name__ == "__main__":
    main()
