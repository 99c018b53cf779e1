"""Where the run presets live: ``properties/`` at the repository root.

The one place that knows the repository layout; the CLI, the benchmark and the
speed scripts ask here for the protocol and dataset presets.
"""

import os

def _repository():
    """The checkout this package was imported from; the working directory for an
    installed copy (whose parent folder, site-packages, holds no presets)."""
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return checkout if os.path.isdir(os.path.join(checkout, "properties", "protocol")) else os.getcwd()


REPO = _repository()
PROPERTIES = os.path.join(REPO, "properties")
PROTOCOL = os.path.join(PROPERTIES, "protocol", "sequential.yaml")


def dataset_preset(dataset):
    """``properties/dataset/<dataset>.yaml``, or None when the dataset has none."""
    path = os.path.join(PROPERTIES, "dataset", f"{dataset}.yaml")
    return path if os.path.isfile(path) else None


def preset_files(dataset):
    """The protocol preset and, if present, the dataset's preset."""
    preset = dataset_preset(dataset)
    return [PROTOCOL] + ([preset] if preset else [])


def resolve_preset(path, *folders):
    """``path`` as given, or relative to the repository, one of ``folders`` or the working directory."""
    for base in (REPO, *folders, os.getcwd()):
        candidate = os.path.join(base, path)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"preset file {path!r} not found (looked in the repository, "
                            f"{', '.join(folders) + ', ' if folders else ''}and the working directory)")
