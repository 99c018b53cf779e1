"""Top-k recommendations from a trained checkpoint, in the dataset's own tokens.

    python run_recbole_hier.py --recommend --model_file=saved/<file>.pth
        [--users=u1,u2 | --users_file=F | --history=i1,i2 | --history_file=F]
        [--new_items=F.item] [--item_fields=title] [--topk=10] [--exclude_seen=true]
        [--output=recs.csv | recs.jsonl]

* ``histories.py``: every known user's whole history, rebuilt from the dataset, and the
  padded batches a model reads;
* ``new_items.py``: items added after training, embedded from their text;
* ``requests.py``: reading the request (users, histories) and writing the answer;
* ``recommender.py``: :class:`Recommender`, which ranks the catalogue for each request.
"""

from recbole_hier.recommend.histories import Histories
from recbole_hier.recommend.recommender import Recommender, recommend
from recbole_hier.recommend.requests import (
    RecommendError,
    check_output,
    read_histories,
    read_users,
    write_recommendations,
)

__all__ = ["Histories", "Recommender", "RecommendError", "check_output", "read_histories", "read_users",
           "recommend", "write_recommendations"]
