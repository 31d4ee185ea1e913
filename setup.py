"""slnl-tf: SLnL-rFA skeleton action recognition in TensorFlow / Keras 3.

All dependency versions are pinned here and nowhere else (README, "Dependencies").
"""
from setuptools import find_packages, setup

TENSORFLOW = "tensorflow==2.21.0"

setup(
    name="slnl-tf",
    version="0.1.0",
    description="SLnL-rFA (Hu, Cui, Yu, ICME 2019) skeleton-based action recognition in Keras 3",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["slnl_tf", "slnl_tf.*", "data_pipeline", "data_pipeline.*"]),
    py_modules=["train_main"],
    install_requires=[
        TENSORFLOW,
        "keras==3.15.1",
        "numpy==2.4.6",
        "absl-py==2.5.1",
        "tensorboard==2.21.0",
        "tqdm==4.70.1",
    ],
    extras_require={
        # pytest 9.2's node ids undo xdist's --dist loadgroup grouping without a word
        # (pytest-dev/pytest-xdist#1386); tests/conftest.py fails a grouped test where that happens.
        "test": ["pytest==9.1.1", "pytest-xdist==3.8.0", "hypothesis==6.155.2"],
        "bench": [],
        # On a CUDA machine: pip install -e '.[cuda]' pulls the CUDA libraries TF needs.
        "cuda": [TENSORFLOW.replace("tensorflow", "tensorflow[and-cuda]")],
    },
)
