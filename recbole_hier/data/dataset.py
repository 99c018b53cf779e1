"""HierRecDataset: RecBole's SequentialDataset plus HierRec's frozen text tables."""

from recbole.data.dataset import SequentialDataset

from recbole_hier.text.tables import build_item_text_table


class HierRecDataset(SequentialDataset):
    """Adds ``item_text_table`` (``[item_num D]`` float32, row 0 = ``[PAD]`` = zeros).

    The table is built after RecBole has filtered and remapped the data, so its
    rows follow RecBole's internal item ids. Splits made by ``build()`` are shallow
    copies and share it. With ``item_repr: id`` no text is needed and the table is
    ``None``.
    """

    def __init__(self, config):
        super().__init__(config)
        self.item_text_table = (
            None if config["item_repr"] == "id" else build_item_text_table(self)
        )
