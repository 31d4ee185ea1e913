"""slnl-tf: SLnL-rFA skeleton action recognition in TensorFlow / Keras 3.

Dependencies are given here as the range of versions meant to work; constraints.txt pins
the exact versions CI and `make` install (README, "Dependencies").
"""
from setuptools import find_packages, setup

TENSORFLOW = "tensorflow>=2.21,<2.22"
LITERT = ["ai-edge-litert>=2.1,<3"]
ONNX = ["tf2onnx>=1.16,<2", "onnx>=1.16,<2", "onnxruntime>=1.18,<2"]

setup(
    name="slnl-tf",
    version="0.1.0",
    description="SLnL-rFA (Hu, Cui, Yu, ICME 2019) skeleton-based action recognition in Keras 3",
    python_requires=">=3.11,<3.14",  # TF 2.21 and Keras 3.15 have wheels for 3.11-3.13
    classifiers=["Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12",
                 "Programming Language :: Python :: 3.13"],
    packages=find_packages(include=["slnl_tf", "slnl_tf.*"]),
    package_data={"slnl_tf": ["configs/*.flags", "configs/ablation/*.flags"]},
    entry_points={"console_scripts": [
        "slnl-train = slnl_tf.train:cli",
        "slnl-build = slnl_tf.data.build:cli",
        "slnl-evaluate = slnl_tf.evaluate:cli",
        "slnl-export = slnl_tf.export:cli",
        "slnl-predict = slnl_tf.predict:cli",
        "slnl-summary = slnl_tf.summary:cli",
        "slnl-serving-client = slnl_tf.serving_client:cli",
        "slnl-visualize = slnl_tf.visualize:cli",
        "slnl-stream = slnl_tf.stream:cli",
    ]},
    install_requires=[
        TENSORFLOW,
        "keras>=3.15,<4",
        "numpy>=1.26,<3",
        "absl-py>=2.1,<3",
        "tensorboard>=2.21,<2.22",
        "tqdm>=4.66,<5",
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        # pytest 9.2's node ids undo xdist's --dist loadgroup grouping without a word
        # (pytest-dev/pytest-xdist#1386); tests/conftest.py fails a grouped test where that happens.
        "test": ["pytest>=9.1,<9.2", "pytest-xdist>=3.8,<4", "hypothesis>=6.100,<7", *LITERT, *ONNX],
        # The standalone LiteRT interpreter, to run the .tflite exports without TensorFlow.
        "litert": LITERT,
        # The ONNX export's converter and ONNX Runtime.
        "onnx": ONNX,
        "bench": [],
        # On a CUDA machine: pip install -e '.[cuda]' pulls the CUDA libraries TF needs.
        "cuda": [TENSORFLOW.replace("tensorflow", "tensorflow[and-cuda]", 1)],
    },
)
