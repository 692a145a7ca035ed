"""Tagging reports: CoNLL entity precision/recall/F1 for chunk schemes, token accuracy for plain tags.

Entity scores follow the CoNLL shared tasks (conlleval): a predicted entity counts as correct only
when both its span and its type match a gold entity, and precision, recall and F1 are micro averages
over all entities. Partial overlaps earn nothing, which is why entity F1 sits well below token
accuracy on the same predictions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rnnkit.errors import DataError
from rnnkit.tasks.tagging.schemes import check_scheme, chunks


def _check_lengths(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise DataError(f"{len(gold)} gold sentences but {len(pred)} predicted ones")
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise DataError(f"sentence {i} has {len(g)} gold tags but {len(p)} predicted ones")


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, and 0.0 rather than NaN when nothing was counted."""
    return numerator / denominator if denominator else 0.0


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    precision, recall = _ratio(correct, predicted), _ratio(correct, gold)
    f1 = _ratio(2 * correct, predicted + gold)  # = 2PR / (P + R), and 0.0 when both are 0
    return {"precision": precision, "recall": recall, "f1": f1}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Micro precision, recall and F1 over entities, and the same per type with its gold support.

    Both sides are BIOES tag lists, sentence by sentence of equal lengths (DataError, a ValueError,
    otherwise). Ill-formed predicted sequences are read the way :func:`~.schemes.chunks` reads them.
    Types appearing in either side are reported, sorted; a type only predicted has support 0.
    """
    _check_lengths(gold, pred)
    gold_entities = {(i, *chunk) for i, tags in enumerate(gold) for chunk in chunks(tags)}
    pred_entities = {(i, *chunk) for i, tags in enumerate(pred) for chunk in chunks(tags)}
    correct = gold_entities & pred_entities
    n_gold, n_pred, n_correct = (Counter(kind for _, kind, _, _ in s) for s in (gold_entities, pred_entities, correct))
    per_type = {
        kind: {**_prf(n_correct[kind], n_pred[kind], n_gold[kind]), "support": n_gold[kind]}
        for kind in sorted(n_gold.keys() | n_pred.keys())
    }
    return {**_prf(len(correct), len(pred_entities), len(gold_entities)), "per_type": per_type}


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """The fraction of tokens whose predicted tag equals the gold one (0.0 for no tokens)."""
    _check_lengths(gold, pred)
    pairs = [(g, p) for g_tags, p_tags in zip(gold, pred, strict=True) for g, p in zip(g_tags, p_tags, strict=True)]
    return _ratio(sum(g == p for g, p in pairs), len(pairs))


def per_tag_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, dict]:
    """``{tag: {"accuracy", "support"}}`` for every gold tag, sorted: the recall of each POS tag."""
    _check_lengths(gold, pred)
    support: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for g_tags, p_tags in zip(gold, pred, strict=True):
        for g, p in zip(g_tags, p_tags, strict=True):
            support[g] += 1
            right[g] += g == p
    return {tag: {"accuracy": right[tag] / support[tag], "support": support[tag]} for tag in sorted(support)}


def tagging_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str) -> dict:
    """The JSON-ready evaluation of a tagger: entity scores for chunk schemes, per-tag accuracy for plain.

    For chunk schemes ``gold`` and ``pred`` are in BIOES (as the tagger works), for plain the raw tags.
    """
    scheme = check_scheme(scheme)
    if scheme == "plain":
        return {"token_accuracy": token_accuracy(gold, pred), "per_tag": per_tag_accuracy(gold, pred), "n": len(gold)}
    scores = entity_scores(gold, pred)
    return {
        "f1": scores["f1"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "token_accuracy": token_accuracy(gold, pred),
        "per_type": scores["per_type"],
        "n": len(gold),
    }


def format_tagging_report(name: str, report: dict) -> str:
    """A readable table: per-type P/R/F1 for entities, or the most frequent tags' accuracy for POS."""
    lines = [f"{name} (n={report['n']} sentences)"]
    if "per_type" in report:
        rows = report["per_type"]
        width = max([9, *(len(kind) for kind in rows)])
        lines.append(f"{'':<{width}}  precision  recall      f1  support")
        for kind, row in rows.items():
            lines.append(
                f"{kind:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:6.4f}  {row['support']:7d}"
            )
        support = sum(row["support"] for row in rows.values())
        lines.append(
            f"{'micro avg':<{width}}  {report['precision']:9.4f}  {report['recall']:6.4f}"
            f"  {report['f1']:6.4f}  {support:7d}"
        )
    else:
        by_support = sorted(report["per_tag"].items(), key=lambda item: -item[1]["support"])[:10]
        width = max([9, *(len(tag) for tag, _ in by_support)])
        shown = f"{len(by_support)} most frequent of {len(report['per_tag'])} tags"
        lines.append(f"{'tag':<{width}}  accuracy  support  ({shown})")
        lines.extend(f"{tag:<{width}}  {row['accuracy']:8.4f}  {row['support']:7d}" for tag, row in by_support)
    lines.append(f"token accuracy {report['token_accuracy']:.4f}")
    return "\n".join(lines)
