"""Translation scores with sacreBLEU: the numbers papers can be compared with.

BLEU is only comparable when computed the same way, which is what sacreBLEU exists for: it scores
detokenized hypotheses against detokenized references with its own tokenizer (``13a``), and its
signature (``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:...``) says exactly how. rnnkit
reports

* ``bleu``: sacreBLEU's default, cased, on the text as written (what current papers report);
* ``chrf``: character n-gram F-score (chrF2), kinder to morphology than BLEU;
* ``bleu_lowercase``: the same BLEU on lower-cased text, closer to the lowercased, tokenized BLEU of
  older papers and tutorials (for example the 28.3 of a GRU with attention on Multi30k).
"""

from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF


def translation_scores(hypotheses: list[str], references: list[str]) -> dict:
    """``{"bleu", "chrf", "bleu_lowercase", "n", "signatures"}`` for hypotheses against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references; one each is needed")
    if not hypotheses:
        raise ValueError("no sentences to score")
    metrics = {"bleu": BLEU(), "chrf": CHRF(), "bleu_lowercase": BLEU(lowercase=True)}
    scores: dict = {name: metric.corpus_score(hypotheses, [references]).score for name, metric in metrics.items()}
    scores["n"] = len(hypotheses)
    scores["signatures"] = {name: str(metric.get_signature()) for name, metric in metrics.items()}
    return scores
