"""TextSequentialDataset: RecBole's SequentialDataset plus the text-aware models' text tables."""

import os
import time

from recbole.data.dataset import SequentialDataset
from recbole.utils import FeatureSource, FeatureType

from recbole_hier.text.behavior import BEHAVIOR_FIELD, BehaviorTextSpec
from recbole_hier.text.tables import build_behavior_text_table, build_item_text_states, build_item_text_table


class TextSequentialDataset(SequentialDataset):
    """Adds the text tables HierRec, SASRecText and UniSRec read, aligned to RecBole's internal ids.

    * ``item_text_table``: ``[item_num D]``, row 0 = ``[PAD]`` = zeros (``None``
      with ``item_repr: id``);
    * ``item_text_states``: ``(states, lengths)`` below the trained language-model layers
      (``plm_train_layers`` above 0; ``text/trainable.py``), else ``None``;
    * ``behavior_text_table``: ``[n_behaviour_texts D]`` for the ``behavior_text``
      inter field, whose history ``behavior_text_list`` RecBole builds like any
      other inter field (``None`` when no behaviour text is configured).

    Tables are built after RecBole has filtered and remapped the data; the splits
    made by ``build()`` are shallow copies and share them.
    """

    def __init__(self, config):
        self.behavior_spec = BehaviorTextSpec(config)
        super().__init__(config)
        start = time.perf_counter()
        self.item_text_table = (
            None if config["item_repr"] == "id" else build_item_text_table(self)
        )
        # the token states below the language model's trained layers (plm_train_layers)
        trains_plm = config["item_repr"] != "id" and config["plm_train_layers"] not in (None, 0)
        self.item_text_states = build_item_text_states(self) if trains_plm else None
        self.text_table_seconds = time.perf_counter() - start  # the scale benchmark reports it apart
        self.behavior_text_table = (
            build_behavior_text_table(self) if self.behavior_spec.enabled else None
        )

    def _load_data(self, token, dataset_path):
        super()._load_data(token, dataset_path)
        if not self.behavior_spec.enabled:
            return
        # Rendered from the raw rows, before filtering, remapping and normalisation
        # (so a rating reads "4", not its normalised value); a token field, so
        # RecBole remaps the distinct texts to ids and filters rows with the rest.
        texts = self.behavior_spec.render(
            self.inter_feat, os.path.join(dataset_path, f"{token}.inter"), dataset_path,
            self.uid_field, self.iid_field, self.time_field,
        )
        self.inter_feat[BEHAVIOR_FIELD] = texts.values
        self.set_field_property(BEHAVIOR_FIELD, FeatureType.TOKEN, FeatureSource.INTERACTION, 1)
