"""Rewrite each plugin model's YAML of defaults and README key table from its declaration.

    python -m recbole_hier.keydocs [README.md]

A plugin model with ``config_keys`` gets ``recbole_hier/properties/model/<Model>.yaml``
(:meth:`recbole_hier.keys.KeySet.yaml`) and, where the README has
``<!-- <Model> keys: begin -->`` and ``<!-- <Model> keys: end -->`` markers (HierRec's),
the table between them.
"""

import re
import sys

from recbole_hier.config import package_model_yaml
from recbole_hier.files import write_text
from recbole_hier.registry import plugin_models


def documented_models():
    """``{name: KeySet}`` of the plugin models that declare their keys."""
    return {name: model.config_keys for name, model in plugin_models().items()
            if getattr(model, "config_keys", None) is not None}


def _markers(name):
    return re.compile(rf"(<!-- {re.escape(name)} keys: begin -->\n)(.*?)(<!-- {re.escape(name)} keys: end -->)", re.S)


def readme_table(readme, name):
    """The key table of model ``name`` as it stands in ``readme``."""
    match = _markers(name).search(readme)
    if match is None:
        raise ValueError(f"README.md has no '<!-- {name} keys: begin -->' / '<!-- {name} keys: end -->' markers")
    return match.group(2)


def readme_with_tables(readme):
    """``readme`` with the table of every model it has markers for rendered from its declaration."""
    for name, keys in documented_models().items():
        readme = _markers(name).sub(lambda m, keys=keys: m.group(1) + keys.markdown() + m.group(3), readme)
    return readme


def main(argv=None):
    readme_path = (argv or sys.argv[1:] or ["README.md"])[0]
    for name, keys in documented_models().items():
        write_text(package_model_yaml(name), keys.yaml())
        print(f"wrote {package_model_yaml(name)}")
    with open(readme_path, encoding="utf-8") as f:
        write_text(readme_path, readme_with_tables(f.read()))
    print(f"wrote the key tables of {readme_path}")


if __name__ == "__main__":
    main()
