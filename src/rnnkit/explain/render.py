"""An explanation as a page a person reads: the text as given, each token shaded by its score
(green toward the label, red against), every character HTML-escaped; one self-contained file, no
scripts, no external assets."""

from __future__ import annotations

import html

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rnnkit: why {label}</title>
<style>
body {{ font: 16px/1.7 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
.text {{ white-space: pre-wrap; }}
.token {{ border-radius: 3px; padding: 0 1px; }}
.note {{ color: #555; font-size: 14px; }}
</style>
</head>
<body>
<h1>{label} <span class="note">(probability {probability:.3f})</span></h1>
<p class="note">{method}: token scores in logit units toward {label}; green for, red against. They sum to
{total:.4f} of the logit difference {difference:.4f} (gap {gap:.4f}).</p>
<p class="text">{body}</p>
</body>
</html>
"""


def shade(score: float, scale: float) -> str:
    """A background colour whose opacity grows with ``|score| / scale``."""
    alpha = min(abs(score) / scale, 1.0) * 0.8 if scale > 0 else 0.0
    rgb = "34, 139, 34" if score > 0 else "220, 20, 60"
    return f"rgba({rgb}, {alpha:.3f})"


def to_html(text: str, explanation: dict) -> str:
    """The page of ``explanation`` (see :mod:`rnnkit.explain.text`) over the ``text`` it explains."""
    tokens = explanation["tokens"]
    scale = max((abs(t["score"]) for t in tokens), default=0.0)
    parts, cursor = [], 0
    for token in tokens:
        if token["end"] <= token["start"]:
            continue  # not found as such in the text (e.g. an unescaped entity): nothing to shade
        parts.append(html.escape(text[cursor : token["start"]]))
        title = f"{token['text']}: {token['score']:+.4f}"
        style = shade(token["score"], scale)
        span = html.escape(text[token["start"] : token["end"]])
        parts.append(f'<span class="token" style="background: {style}" title="{html.escape(title)}">{span}</span>')
        cursor = token["end"]
    parts.append(html.escape(text[cursor:]))
    label = html.escape(str(explanation["label"]))
    total = sum(t["score"] for t in tokens)
    method = explanation["method"].replace("_", " ").capitalize()
    return PAGE.format(
        label=label,
        probability=explanation["probability"],
        method=html.escape(method),
        total=total,
        difference=explanation["logit_difference"],
        gap=explanation["completeness_gap"],
        body="".join(parts),
    )
