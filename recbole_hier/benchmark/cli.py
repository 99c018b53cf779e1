"""Command lines of the measurement scripts: their own options plus ``--key=value`` config overrides."""

import torch


def parse_with_overrides(parser, argv=None):
    """``(args, overrides)``: ``parser``'s options, and the remaining ``--key=value`` pairs for the
    config (anything else is an error naming it). ``--threads N``, where the parser has it, sets
    torch's thread count."""
    args, overrides = parser.parse_known_args(argv)
    bad = [arg for arg in overrides if not arg.startswith("--") or "=" not in arg]
    if bad:
        parser.error(f"unrecognised argument(s) {bad}: config overrides look like --key=value")
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    return args, overrides
