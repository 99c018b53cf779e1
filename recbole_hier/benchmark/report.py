"""Leaderboard files from a plan's stored runs: .md, .csv, .json and .png."""

import csv
import io
import json
import os

import numpy as np

from recbole_hier.benchmark import rescore, stats
from recbole_hier.benchmark.plan import grid_edges, point_tag, validation_score
from recbole_hier.files import atomic_path, write_json, write_text

METRICS = ("ndcg@10", "recall@10", "mrr@10", "hit@10", "ndcg@20", "recall@20")
COSTS = ("epochs_run", "train_epoch_seconds", "eval_seconds", "peak_memory_mb")


def _fmt(mean, std, digits=4, spread=True):
    """``mean ± std``; just the mean where there is no spread to show (one seed)."""
    if mean != mean:
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if spread else f"{mean:.{digits}f}"


def devices_of(run):
    """Where ``run`` trained, every process of a resumed run included."""
    return {segment["device"] for segment in run["segments"]}


def summarise(plan, runs):
    """Rows (one per dataset and model) with seed means, spreads and p-values."""
    reference = plan.reference
    rows = []
    for dataset in plan.datasets:
        here = [run for run in runs if run["dataset"] == dataset]
        ref_runs = [run for run in here if run["name"] == reference]
        ref_seed = {r["seed"]: r["test"]["ndcg@10"] for r in ref_runs}
        ref_users = stats.per_user_mean(ref_runs) if ref_runs else {}
        for _, name in plan.cells([dataset]):
            model_runs = [run for run in here if run["name"] == name]
            if not model_runs:
                continue
            row = {"dataset": dataset, "model": name, "seeds": sorted(r["seed"] for r in model_runs),
                   "test ndcg@10 by seed": {r["seed"]: r["test"]["ndcg@10"] for r in model_runs}}
            for metric in METRICS:
                row[f"test {metric}"] = stats.mean_std([r["test"].get(metric) for r in model_runs])
            valid_metric = model_runs[0]["valid_metric"].lower()
            row[f"valid {valid_metric}"] = stats.mean_std([r["best_valid"].get(valid_metric) for r in model_runs])
            for cost in COSTS:
                row[cost] = stats.mean_std([r[cost] for r in model_runs])
            row["device"] = ", ".join(sorted(set().union(*(devices_of(r) for r in model_runs))))
            if reference and name != reference and ref_runs:
                row["p seeds"] = stats.paired_seed_test(ref_seed, {r["seed"]: r["test"]["ndcg@10"] for r in model_runs})
                row["p users"] = stats.paired_user_test(ref_users, stats.per_user_mean(model_runs))
            rows.append(row)
    return rows


def _best(rows, dataset, column, bigger=True):
    values = [r[column][0] for r in rows if r["dataset"] == dataset and r[column][0] == r[column][0]]
    return (max(values) if bigger else min(values)) if values else None


SIGNIFICANCE = stats.SIGNIFICANCE


def verdict(reference, best, unfinished, min_seeds):
    """``(won, reasons)``: whether ``reference`` (a leaderboard row) beats ``best`` by the
    rule, and each condition that fails. The rule: every baseline's grid and seeds
    finished, at least ``min_seeds`` seeds on both sides, a higher mean, and both the
    paired t-test over seeds and the Wilcoxon test over test users at p < 0.05."""
    reasons = []
    if unfinished:
        more = f", and {len(unfinished) - 3} more" if len(unfinished) > 3 else ""
        reasons.append(f"runs not finished: {', '.join(unfinished[:3])}{more}")
    seeds = min(len(reference["seeds"]), len(best["seeds"]))
    if seeds < min_seeds:
        reasons.append(f"{seeds} seed(s), the rule needs {min_seeds} on both sides")
    if not reference["test ndcg@10"][0] > best["test ndcg@10"][0]:
        reasons.append("the mean is not higher")
    for test in ("p seeds", "p users"):
        p = best.get(test)
        if p is None or not p < SIGNIFICANCE:
            reasons.append(f"{test} {stats.format_p(p)} is not below {SIGNIFICANCE}")
    return not reasons, reasons


def _by_seed(row):
    return ", ".join(f"{seed}: {value:.4f}" for seed, value in sorted(row["test ndcg@10 by seed"].items()))


def _power_line(plan, dataset, runs, reference, best):
    """How large a lead the test over users can detect here, now and at the rule's seeds."""
    here = [r for r in runs if r["dataset"] == dataset]
    ours, theirs = ([r for r in here if r["name"] == name] for name in (reference, best["model"]))
    seeds = plan.min_seeds(dataset)
    lead = stats.detectable_lead(ours, theirs, seeds)
    if lead is None:
        return []
    share = lambda value: f"{value:.4f} ({value / best['test ndcg@10'][0]:.0%} of {best['model']}'s mean)"
    at_rule = ("" if lead["at_seeds"] is None else
               f"; {share(lead['at_seeds'])} projected at {seeds} seeds a side from each model's spread over its seeds")
    return [f"Detectable lead of {reference} (80% power at p < {SIGNIFICANCE}, paired test over the {lead['users']} "
            f"test users, normal approximation): {share(lead['now'])} at the seeds run{at_rule}.", ""]


def _verdict_lines(plan, store, dataset, rows, runs):
    """The reference against the best baseline (its own ablations are not baselines)."""
    reference = plan.reference
    ref = next((r for r in rows if r["dataset"] == dataset and r["model"] == reference), None)
    if ref is None:
        return []
    planned = [name for d, name in plan.cells([dataset])
               if plan.model_class(name) != plan.model_class(reference)]
    baselines = [r for r in rows if r["dataset"] == dataset and r["model"] in planned]
    if not planned:  # a study of the reference's own variants: no verdict to give
        return []
    unfinished = plan.todo(store, [dataset], planned + [reference])
    if not baselines:
        missing = [name for name in planned if name not in {r["model"] for r in baselines}]
        return [f"Verdict: not decided, no baseline has finished (not run yet: {', '.join(missing)}).", ""]
    best = max(baselines, key=lambda r: r["test ndcg@10"][0])
    ours, theirs = ref["test ndcg@10"][0], best["test ndcg@10"][0]
    won, reasons = verdict(ref, best, unfinished, plan.min_seeds(dataset))
    rule = (f"every run finished, >= {plan.min_seeds(dataset)} seeds each, a higher mean, "
            f"p seeds and p users < {SIGNIFICANCE}")
    return [f"Verdict: best {'finished ' if unfinished else ''}baseline by mean test NDCG@10 is {best['model']} "
            f"({theirs:.4f}; by seed {_by_seed(best)}); {reference} {ours:.4f} ({(ours - theirs) / theirs:+.1%}; "
            f"by seed {_by_seed(ref)}), seeds {len(ref['seeds'])} vs {len(best['seeds'])}, "
            f"p seeds {stats.format_p(best.get('p seeds'))}, p users {stats.format_p(best.get('p users'))}: "
            + (f"a win (rule: {rule})." if won else f"not a win ({'; '.join(reasons)}; rule: {rule})."), ""
            ] + _power_line(plan, dataset, runs, reference, best)


def _cap_lines(dataset, pairs):
    """Runs that used every allowed epoch: more epochs might still have helped them.
    ``pairs``: ``(spec, record)`` of seeded and grid runs."""
    capped, seen, caps = [], set(), set()
    for spec, r in pairs:
        # a seeded run that reuses its grid run holds the same training: list it once
        key = (r["model"], r["seed"], json.dumps(r["config"], sort_keys=True))
        if (r["dataset"] == dataset and r["config"].get("epochs") is not None
                and r["epochs_run"] >= r["config"]["epochs"] and key not in seen):
            seen.add(key)
            caps.add(r["config"]["epochs"])
            tag = point_tag(spec.point) + ", " if spec.point else ""  # a grid run: its point, as in the tuning list
            capped.append(f"{spec.name} ({tag}seed {r['seed']})")
    if not capped:
        return []
    cap = "/".join(str(c) for c in sorted(caps))  # one number unless a model sets its own epochs
    return [f"Ran to the {cap}-epoch cap, so their validation score may still have "
            "been rising: " + ", ".join(sorted(capped)) + ".", ""]


def _ablation_lines(plan, dataset, runs):
    """Each variant of the reference model against the reference at the same seeds."""
    reference = plan.reference
    here = [r for r in runs if r["dataset"] == dataset]
    rows = stats.variants_against_reference(here, reference, plan.variants(reference), validation_score)
    if not rows:
        return []
    lines = ["Ablations (test NDCG@10 at the seeds both ran; p users: Wilcoxon over test users):", "",
             f"| variant | seeds | variant | {reference} | change | p users |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['name']} | {','.join(map(str, row['seeds']))} | {row['test']:.4f} | "
                     f"{row['test ref']:.4f} | {row['change']:+.1%} | {stats.format_p(row['p users'])} |")
    return lines + [""]


def _tuning_lines(plan, store, dataset, grid_pairs):
    """Validation score of every grid point per tuned model; the chosen one in bold."""
    here = [(spec, r) for spec, r in grid_pairs if spec.dataset == dataset]
    if not here:
        return []
    metric = here[0][1]["valid_metric"]
    lines = [f"Tuning (seed {plan.tuning['seed']}; best validation {metric} per grid point, chosen in bold; "
             "test metrics are never consulted):", ""]
    for name in plan.models:
        mine = [(spec, r) for spec, r in here if spec.name == name]
        if not mine:
            continue
        points = len(plan.grid_runs(dataset, name))
        finished = len(mine) == points
        chosen = plan.chosen_point(dataset, name, store) if finished else None
        cells = [(f"**{point_tag(spec.point)}: {validation_score(r):.4f}**" if spec.point == chosen
                  else f"{point_tag(spec.point)}: {validation_score(r):.4f}") for spec, r in mine]
        edges = grid_edges(plan.own_grid(name), chosen) if chosen else []
        edge_note = "".join(f"; the choice is the grid's {side} {key}, so the optimum may lie "
                            f"{'below' if side == 'lowest' else 'above'} the grid" for key, side in edges)
        lines.append(f"- {name}: " + ", ".join(cells) + ("" if finished else f" ({len(mine)} of {points} finished)")
                     + edge_note)
    tuned = plan.tuning["datasets"]
    others = [d for d in plan.datasets if d not in tuned]
    if others:
        lines.append(f"- Datasets without a grid ({', '.join(others)}) take the choice made on {tuned[0]}.")
    return lines + [""]


def write_markdown(plan, store, rows, seeded, grid, path):
    reference = plan.reference
    runs = [r for _, r in seeded]
    lines = [f"# Leaderboard: {plan.name}", "",
             f"Suite file: `{plan.path}`. Test metrics are mean ± std over seeds (the value "
             "alone where a model ran one seed) of the "
             "best-validation checkpoint (full ranking). **Bold**: best in the column for the "
             f"dataset. p seeds: paired t-test over seeds of test NDCG@10 against {reference}; "
             f"p users: Wilcoxon signed-rank test over test users of seed-averaged NDCG@10 against {reference}. "
             "Costs (s/epoch, eval s, peak MB) are means over a model's epochs and runs; where the "
             "device column names several devices (a run resumed elsewhere), they mix them and "
             "do not compare.", ""]
    columns = [f"test {m}" for m in METRICS]
    for dataset in plan.datasets:
        data_rows = [r for r in rows if r["dataset"] == dataset]
        if not data_rows:
            lines += ([f"## {dataset}", "", "No finished seeded runs yet.", ""]
                      + _tuning_lines(plan, store, dataset, grid) + _cap_lines(dataset, grid)
                      + _part_way_lines(plan, store, dataset))
            continue
        valid_col = next(k for k in data_rows[0] if k.startswith("valid "))
        header = ["model", "seeds", "test ndcg@10 by seed"] + columns + [
            valid_col, "p seeds", "p users", "epochs", "s/epoch", "eval s", "peak MB", "device"]
        lines += [f"## {dataset}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in data_rows:
            by_seed = " ".join(f"{v:.4f}" for _, v in sorted(r["test ndcg@10 by seed"].items()))
            cells = [r["model"], ",".join(map(str, r["seeds"])), by_seed]
            spread = len(r["seeds"]) > 1
            for col in columns + [valid_col]:
                text = _fmt(*r[col], spread=spread)
                cells.append(f"**{text}**" if r[col][0] == _best(rows, dataset, col) else text)
            cells += [stats.format_p(r.get("p seeds")), stats.format_p(r.get("p users"))]
            cells += [_fmt(*r[cost], digits, spread) for cost, digits in zip(COSTS, (1, 1, 2, 0))]
            cells.append(r["device"])
            lines.append("| " + " | ".join(cells) + " |")
        lines += ([""] + _verdict_lines(plan, store, dataset, rows, runs) + _tuning_lines(plan, store, dataset, grid)
                  + _cap_lines(dataset, list(seeded) + list(grid)) + _part_way_lines(plan, store, dataset)
                  + _ablation_lines(plan, dataset, runs) + _cold_lines(plan, dataset, runs)
                  + _rescore_lines(plan, dataset, runs)
                  + _breakdown_lines(plan, dataset, runs) + [""])
    write_text(path, "\n".join(lines) + "\n")


def _part_way_lines(plan, store, dataset):
    """Runs of ``dataset`` stopped part-way (paused or cut), from their saved progress."""
    from recbole_hier.benchmark.progress import progress_summary

    keys = [spec.key for d, n in plan.cells([dataset]) for spec in plan.grid_runs(d, n) + plan.seeded_runs(d, n)]
    found = [(key, progress_summary(store.progress_dir(key))) for key in sorted(set(keys) & set(store.part_way()))]
    found = [(key, s) for key, s in found if s is not None]
    if not found:
        return []
    lines = ["Part-way (resumed by a rerun; figures from each run's saved progress, not results):", "",
             "| run | epochs done | best valid so far | validations since | s/epoch |", "|---|---|---|---|---|"]
    for key, s in found:
        seconds = "n/a" if s["epoch_seconds"] is None else f"{s['epoch_seconds']:.1f}"
        lines.append(f"| {key} | {s['epochs']} | {s['best_valid']:.4f} | {s['since_best']} | {seconds} |")
    return lines + [""]


def _cold_lines(plan, dataset, runs):
    """Cold-item protocol: test NDCG@10 and Recall@10 on targets that were held out of
    training (cold) and on the others (warm)."""
    runs = [r for r in runs if r["dataset"] == dataset and r.get("cold_items") and "target" in r["per_user"]]
    if not runs:
        return []
    cold = set(runs[0]["cold_items"])
    if any(set(r["cold_items"]) != cold for r in runs):
        raise ValueError(f"{dataset}: runs of this suite held out different cold items; rerun them with one "
                         "cold_item_seed and cold_item_ratio")
    groups = stats.target_groups(runs[0], "cold")
    n = {g: sum(v == g for v in groups.values()) for g in ("cold", "warm")}
    lines = [f"Cold-item protocol: {len(cold)} items held out of training (cold_item_ratio). Test metrics "
             "over seeds on targets that are cold items and on the others:", "",
             f"| model | cold NDCG@10 (n={n['cold']}) | cold Recall@10 | warm NDCG@10 (n={n['warm']}) "
             "| warm Recall@10 |", "|---|---|---|---|---|"]
    for name in plan.models:
        model_runs = [r for r in runs if r["name"] == name]
        if not model_runs:
            continue
        ndcg = stats.breakdown(stats.per_user_mean(model_runs), groups)
        recall = stats.breakdown(stats.per_user_mean(model_runs, of=lambda v: float(v > 0)), groups)
        cells = [f"{table[g][0]:.4f}" if g in table else "n/a" for g in ("cold", "warm")
                 for table in (ndcg, recall)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def _setting_text(setting):
    return ", ".join(f"{k}: {v}" for k, v in setting.items()) or "as trained"


def _rescore_lines(plan, dataset, runs):
    """Each ``rescore`` model's scoring setting chosen on validation by its rule, per seed, with
    its test NDCG@10 over all targets and (cold-item protocol) cold and warm ones; then the
    model that validates best at its choices against each other one, paired."""
    lines, unscored, chosen = [], [], {}
    for name, mspec in plan.models.items():
        here = [r for r in runs if r["dataset"] == dataset and r["name"] == name]
        model_runs = sorted((r for r in here if r.get("rescored")), key=lambda r: r["seed"])
        if mspec.get("rescore"):
            unscored += [f"{name} {r['seed']}" for r in here if not r.get("rescored")]
        if not mspec.get("rescore") or not model_runs:
            continue
        rule = mspec["rescore"].get("choose") or {}
        if not lines:
            lines = ["Scoring settings chosen on validation (rescore: each run's best checkpoint scored under its "
                     "grid; the rule sees validation only):", "",
                     "| model | seed | rule | chosen | valid | test | test cold | test warm |",
                     "|---|---|---|---|---|---|---|---|"]
        base = _setting_text(rule.get("of", {}))
        rule_text = (f"{rule.get('metric', 'ndcg@10')}" + (f" within {float(rule['within']):.0%} of {base}, "
                     f"{rule['pick']}" if "pick" in rule else ", best"))
        figures = []
        for run in model_runs:
            valid_groups = stats.target_groups({"per_user": run["per_user_valid"],
                                                "cold_items": run.get("cold_items")}, "cold")
            row = rescore.choose(run, rule, valid_groups)
            group, _ = rescore.metric_group(rule.get("metric", "ndcg@10"))
            valid = rescore.group_mean(row["valid"], run["per_user_valid"]["user"], valid_groups, group)
            test_groups = stats.target_groups(run, "cold")
            figures.append([valid] + [rescore.group_mean(row["test"], run["per_user"]["user"], test_groups, g)
                                      for g in ("all", "cold", "warm")])
            lines.append(f"| {name} | {run['seed']} | {rule_text} | {_setting_text(row['setting'])} | "
                         + " | ".join(_cell(v) for v in figures[-1]) + " |")
            chosen.setdefault(name, []).append(
                {"seed": run["seed"], "valid": valid, "test": figures[-1][1],
                 "per_user": {"user": run["per_user"]["user"], "ndcg@10": row["test"]}})
        if len(figures) > 1:  # each seed at its own choice, then averaged
            lines.append(f"| **{name}** | **mean of {len(figures)}** | | each seed's choice | "
                         + " | ".join(f"**{_cell(v)}**" for v in (sum(c) / len(c) for c in zip(*figures))) + " |")
    lines += _chosen_comparison_lines(chosen)
    if unscored:
        lines += ([""] if lines else []) + [f"Not scored under their rescore grid yet (records made before it; the "
                                            f"same command trains them again): {', '.join(unscored)}."]
    return lines + [""] if lines else []


def _chosen_comparison_lines(chosen):
    """The rescore model with the best mean validation at its choices against each other one,
    over the seeds both have: mean test NDCG@10 at each seed's choice, a paired t-test over
    those seeds and a Wilcoxon test over test users (each user's NDCG@10 averaged over them)."""
    if len(chosen) < 2:
        return []
    leader = max(chosen, key=lambda name: np.mean([c["valid"] for c in chosen[name]]))
    out = []
    for name, other in chosen.items():
        seeds = {c["seed"] for c in chosen[leader]} & {c["seed"] for c in other}
        if name == leader or not seeds:
            continue
        lead, other = ([c for c in runs if c["seed"] in seeds] for runs in (chosen[leader], other))
        p_seeds = stats.paired_seed_test({c["seed"]: c["test"] for c in lead}, {c["seed"]: c["test"] for c in other})
        p_users = stats.paired_user_test(stats.per_user_mean(lead), stats.per_user_mean(other))
        out.append(f"{leader} {np.mean([c['test'] for c in lead]):.4f} against {name} "
                   f"{np.mean([c['test'] for c in other]):.4f} (seeds {', '.join(map(str, sorted(seeds)))}: "
                   f"p seeds {stats.format_p(p_seeds)}, p users {stats.format_p(p_users)})")
    return ["", "At each seed's choice, the model that validates best against the others, over the seeds both "
                "have (test NDCG@10; paired t-test over seeds, Wilcoxon over test users): " + "; ".join(out) + "."]


def _cell(value):
    return f"{value:.4f}" if value == value else "n/a"


def _breakdown_lines(plan, dataset, runs):
    reference = plan.reference
    ref = [r for r in runs if r["dataset"] == dataset and r["name"] == reference and "train_item_counts" in r]
    if not ref:
        return []
    ref = min(ref, key=lambda r: r["seed"])
    full = "history_length_full" in ref["per_user"]
    lengths = ref["per_user"]["history_length_full" if full else "history_length"]
    spread = f"mean {np.mean(lengths):.1f}, median {np.median(lengths):.0f} over the {len(lengths)} test users"
    titles = {"popularity": "target-item popularity (train interactions; head = top 20% of items, torso = next 30%)",
              "train interactions": "the target item's train interactions",
              "history length": "history length" + (f" (interactions before the target; {spread})" if full
                                                     else f" (steps the model reads; {spread})")}
    users = {name: stats.per_user_mean([r for r in runs if r["dataset"] == dataset and r["name"] == name])
             for name in plan.models}
    users = {name: values for name, values in users.items() if values}
    lines = []
    for by, title in titles.items():
        groups, order = stats.target_groups(ref, by), stats.group_order(by)
        table = {name: stats.breakdown(values, groups) for name, values in users.items()}
        tests = {name: stats.breakdown_tests(users[reference], values, groups)
                 for name, values in users.items() if name != reference and reference in users}
        present = [g for g in order if any(g in t for t in table.values())]
        counts = {g: next(t[g][1] for t in table.values() if g in t) for g in present}
        lines += [f"Test NDCG@10 by {title}; in brackets, the Wilcoxon p over the group's users against "
                  f"{reference}:", "",
                  "| model | " + " | ".join(f"{g} (n={counts[g]})" for g in present) + " |",
                  "|" + "---|" * (len(present) + 1)]
        for name, values in table.items():
            cell = lambda g: f"{values[g][0]:.4f}" + (
                f" ({stats.format_p(tests[name].get(g))})" if name in tests else "")
            lines.append(f"| {name} | " + " | ".join(cell(g) if g in values else "n/a" for g in present) + " |")
        lines.append("")
    return lines


def write_csv_json(rows, csv_path, json_path):
    flat = []
    for r in rows:
        item = {"dataset": r["dataset"], "model": r["model"], "seeds": " ".join(map(str, r["seeds"]))}
        for key, value in r.items():
            if isinstance(value, tuple):
                item[f"{key} mean"], item[f"{key} std"] = value
            elif key in ("p seeds", "p users", "device"):
                item[key] = value
        flat.append(item)
    fields = sorted({k for item in flat for k in item}, key=lambda k: (k not in ("dataset", "model", "seeds"), k))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(flat)
    write_text(csv_path, text.getvalue())
    write_json(json_path, flat, indent=1)


def write_plot(plan, rows, runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in plan.datasets if any(r["dataset"] == d for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(4.5 * max(1, len(datasets)), 4), squeeze=False)
    if not datasets:
        axes[0][0].text(0.5, 0.5, "no finished seeded runs yet", ha="center")
    for ax, dataset in zip(axes[0], datasets):
        data_rows = [r for r in rows if r["dataset"] == dataset]
        names = [r["model"] for r in data_rows]
        means = [r["test ndcg@10"][0] for r in data_rows]
        stds = [r["test ndcg@10"][1] for r in data_rows]
        ax.bar(range(len(names)), means, yerr=stds, capsize=3, color="#8fb3d9")
        for i, name in enumerate(names):
            seeds = [r["test"]["ndcg@10"] for r in runs if r["dataset"] == dataset and r["name"] == name]
            ax.scatter([i] * len(seeds), seeds, color="black", s=8, zorder=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.set_title(dataset)
        ax.set_ylabel("test NDCG@10")
    fig.suptitle(f"{plan.name}: bars = mean ± std over seeds, dots = seeds", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def write_all(plan, store, out_dir):
    """The four leaderboard files from ``store``'s runs that match ``plan``; only the .md
    (where runs stand) while no run has finished but some are part-way; {} when neither."""
    seeded, grid = plan.stored(store)
    if not seeded and not grid:
        if not store.part_way():
            return {}
        path = os.path.join(out_dir, "leaderboard.md")
        write_markdown(plan, store, [], [], [], path)
        return {"md": path}
    runs = [r for _, r in seeded]
    rows = summarise(plan, runs)
    paths = {name: os.path.join(out_dir, f"leaderboard.{name}") for name in ("md", "csv", "json", "png")}
    write_markdown(plan, store, rows, seeded, grid, paths["md"])
    write_csv_json(rows, paths["csv"], paths["json"])
    write_plot(plan, rows, runs, paths["png"])
    return paths
