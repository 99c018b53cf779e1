"""recbole_hier: HierRec, a text-aware hierarchical sequential recommender for RecBole."""

from recbole_hier import compat

compat.apply()  # before anything below touches RecBole

from recbole_hier.config import Config  # noqa: E402
from recbole_hier.model.hierrec.model import HierRec  # noqa: E402
from recbole_hier.quick_start import load_data_and_model, run, run_recbole_hier  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Config", HierRec.__name__, "load_data_and_model", "run", "run_recbole_hier"]
