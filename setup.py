"""pinet-tf: PINet pose transfer in TensorFlow/Keras."""

from setuptools import find_packages, setup

#: The documentation site's packages (the `docs` extra, and part of `dev`).
DOCS = ["mkdocs>=1.6,<2", "mkdocs-material>=9,<10", "mkdocstrings[python]>=1,<2",
        "mkdocstrings-python>=2,<3"]

setup(
    name="pinet-tf",
    version="0.1.0",
    description="PINet pose-transfer GAN (Zhang, Liu, Li, PG 2020) in TensorFlow 2 / Keras 3",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["pinet_tf", "pinet_tf.*"]),
    include_package_data=True,
    # The built-in demo model (pinet_tf/inference/demo/: float16 weights, config, manifest).
    package_data={"pinet_tf": ["py.typed", "assets/*"],
                  "pinet_tf.inference.demo": ["*.npz", "*.json"]},
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.10",
        "numpy",
        "pillow",
        "tqdm",
        "tensorboard",  # tf.summary (training logs); no longer a TensorFlow dependency
    ],
    # The base install runs every verb but serve, client, int8 export-tflite (utils/extras.py).
    extras_require={
        # The tests build the documentation site too (tests/docs/test_site.py): DOCS is in dev.
        "dev": ["pytest", "pytest-xdist", "scikit-image", "scipy", "dill", "importlib_resources",
                "tensorflow-datasets>=4.9", *DOCS],
        # `mkdocs build` / `mkdocs serve` (mkdocs.yml: Material theme, API pages by mkdocstrings).
        "docs": DOCS,
        # `import pinet_tf.datasets.tfds` (TFDS builders); no verb needs it.
        "tfds": ["tensorflow-datasets>=4.9"],
        "serving": ["tensorflow-serving-api==2.21.*", "grpcio"],
        "tflite": ["ai-edge-litert"],
        # PyTorch reference for parity tests and benchmarks; not needed at run time.
        "torch": ["torch"],
    },
    entry_points={"console_scripts": ["pinet-tf=pinet_tf.cli:main"]},
)
