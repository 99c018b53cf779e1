"""Rewrite each plugin model's YAML of defaults and the key reference from its declaration.

    python -m recbole_hier.keydocs

A plugin model with ``config_keys`` gets ``recbole_hier/properties/model/<Model>.yaml``
(:meth:`recbole_hier.keys.KeySet.yaml`) and a section of ``docs/keys.md``
(:meth:`recbole_hier.keys.KeySet.markdown`); a test fails while either disagrees.
"""

import os

from recbole_hier.config import package_model_yaml
from recbole_hier.files import write_text
from recbole_hier.known_keys import PACKAGE_KEYS
from recbole_hier.presets import REPO
from recbole_hier.registry import plugin_models

KEYS_DOC = os.path.join(REPO, "docs", "keys.md")

_INTRO = """\
# Configuration keys

Generated from the declarations (`recbole_hier/model/{hierrec,baselines}/keys.py`, `text_keys.py`,
`known_keys.py`) by
`python -m recbole_hier.keydocs`, with each model's `recbole_hier/properties/model/<Model>.yaml`;
edit the declaration, not this file. Every key has a type and, where it matters, a range; a
run checks them all before it reads any data (booleans accept `true/false`, `yes/no`, `1/0`),
and a bad value is an error that names the key. SASRecText and UniSRec also take RecBole's
SASRec keys (`n_layers`, `hidden_size`, ...).
"""


def documented_models():
    """``{name: KeySet}`` of the plugin models that declare their keys."""
    return {name: model.config_keys for name, model in plugin_models().items()
            if getattr(model, "config_keys", None) is not None}


def keys_document():
    """The text of ``docs/keys.md``: every documented model's key table."""
    sections = [_INTRO]
    for name, keys in documented_models().items():
        sections.append(f"## {name}\n\n{keys.markdown()}")
    sections.append(f"## Every model (RecBole's too)\n\n{PACKAGE_KEYS.markdown()}")
    return "\n".join(sections)


def main(argv=None):
    for name, keys in documented_models().items():
        write_text(package_model_yaml(name), keys.yaml())
        print(f"wrote {package_model_yaml(name)}")
    os.makedirs(os.path.dirname(KEYS_DOC), exist_ok=True)
    write_text(KEYS_DOC, keys_document())
    print(f"wrote {KEYS_DOC}")


if __name__ == "__main__":
    main()
