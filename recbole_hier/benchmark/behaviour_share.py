"""How large behaviour text is in HierRec's I1, against the item vector it is added to.

    python -m recbole_hier.benchmark.behaviour_share [--dataset ml-latest-small] [--model_file F]
        [--threads N] --behavior_text_template="rated {rating} of 5" [--key=value ...]

Over the real steps of the validation histories: the mean norm of the item vector, of the
behaviour vector ``adapt(B)`` and of the term I1 adds (``gate * adapt(B)``; the gate starts
at zero, ``model/hierrec/levels.py``), and their ratios to the item vector. Then the
distinct behaviour texts: how many there are, the share of steps the five most frequent
cover, and how alike their frozen text vectors are (the step-weighted mean cosine between
two steps' texts: near 1, the behaviour vector is nearly one offset for every step, which
carries little signal and, ungated, shifts every step's input alike). Without
``--model_file`` the model is freshly initialised, the state every training run starts from.
"""

import argparse

import torch
import torch.nn.functional as F

from recbole_hier.benchmark.cli import parse_with_overrides
from recbole_hier.presets import preset_files
from recbole_hier.text.behavior import BEHAVIOR_FIELD


def _build(args, overrides):
    from recbole_hier import pipeline
    from recbole_hier.config import Config
    from recbole_hier.quick_start import load_data_and_model

    if args.model_file:
        _, model, dataset, _, valid_data, _ = load_data_and_model(args.model_file)
        return model, dataset, valid_data
    config = Config("HierRec", args.dataset, preset_files(args.dataset), {"show_progress": False},
                    cmd_args=list(overrides))
    run = pipeline.build(config, with_trainer=False)
    return run.model, run.dataset, run.valid_data


def measure(model, dataset, valid_data):
    """The figures the module docstring lists, as a dict."""
    if not model.uses_behavior:
        raise ValueError("this HierRec reads no behaviour text: set behavior_text_template and/or "
                         "behavior_side_file, e.g. --behavior_text_template=\"rated {rating} of 5\" (no preset does)")
    model.eval()
    histories = valid_data._dataset.inter_feat
    item_seq, lengths = histories[model.ITEM_SEQ], histories[model.ITEM_SEQ_LEN]
    real = torch.arange(item_seq.size(1)).unsqueeze(0) < lengths.unsqueeze(1)  # [B L]
    with torch.no_grad():
        items = model.item_table()[item_seq][real]  # [S H]
        behaviour = model.behaviors(histories[model.BEHAVIOR_SEQ])[real]  # [S H]
        added = model.semantic.behavior_gate * behaviour  # [S H]
    item_norm = float(items.norm(dim=-1).mean())
    counts = torch.bincount(histories[model.BEHAVIOR_SEQ][real], minlength=model.behaviors.text.size(0)).double()
    counts[0] = 0  # padding
    weights = counts / counts.sum()
    top5 = counts.argsort(descending=True)[:5]
    unit = F.normalize(model.behaviors.text.double(), dim=-1)  # [T D] frozen text vectors
    mean_cosine = float((weights @ unit).norm() ** 2)  # E over two steps of cos(text_a, text_b)
    return {
        "steps": int(real.sum()),
        "item_norm": item_norm,
        "behaviour_norm": float(behaviour.norm(dim=-1).mean()),
        "added_norm": float(added.norm(dim=-1).mean()),
        "texts": int((counts > 0).sum()),
        "top5_share": float(weights[top5].sum()),
        "top5": [str(dataset.id2token(BEHAVIOR_FIELD, int(i))) for i in top5],
        "mean_cosine": mean_cosine,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--model_file", default=None, help="a HierRec checkpoint (default: a fresh model)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args, overrides = parse_with_overrides(parser, argv)
    out = measure(*_build(args, overrides))
    source = args.model_file or f"a fresh HierRec on {args.dataset}"
    print(f"{source}: {out['steps']} real validation-history steps")
    print(f"mean norm: item vector {out['item_norm']:.4f}, behaviour vector {out['behaviour_norm']:.4f} "
          f"({out['behaviour_norm'] / out['item_norm']:.2f}x), gated term I1 adds {out['added_norm']:.4f} "
          f"({out['added_norm'] / out['item_norm']:.2f}x)")
    print(f"{out['texts']} distinct behaviour texts; the five most frequent cover {out['top5_share']:.1%} "
          f"of the steps: {out['top5']}")
    print(f"step-weighted mean cosine between two steps' frozen behaviour text vectors: {out['mean_cosine']:.3f}")
    return out


if __name__ == "__main__":
    main()
