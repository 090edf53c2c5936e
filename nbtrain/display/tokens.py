"""Per-token attributions as coloured text: one HTML span a token, a diverging colour scale and a legend.

Like the charts (see :mod:`.theme`), the view is a box with its own opaque white background, so that
it reads the same in light and dark themes: every token's text colour is black or white, whichever
contrasts more with its own background (4.6 : 1 at the least, on any colour of the scale), and the
special tokens (``[CLS]``, ``<s>``) are dark grey on white (7 : 1).  Padding is left out.  Red: the
token pushes towards the predicted class; blue: away from it; white: no effect.

>>> view = TokenView([TokenRow("row 3: neg / pos", ["good", "movie"], ["token"] * 2, [0.9, -0.1])],
...                  title="attributions")            # doctest: +SKIP
"""

from __future__ import annotations

import html
from dataclasses import dataclass

#: the diverging scale from -1 (against) to +1 (for): ColorBrewer's RdBu, as the figures' RdBu_r
STOPS = (
    (-1.0, (33, 102, 172)),
    (-0.5, (146, 197, 222)),
    (0.0, (247, 247, 247)),
    (0.5, (244, 165, 130)),
    (1.0, (178, 24, 43)),
)
#: the view's own background and text, and the special tokens' grey (7.0 : 1 on white)
PAPER, INK, DIM = "#ffffff", "#000000", "#595959"


def scale(t: float) -> tuple:
    """The colour of ``t`` in [-1, 1] (clipped), as ``(r, g, b)``."""
    t = max(-1.0, min(1.0, float(t)))
    for (a, ca), (b, cb) in zip(STOPS, STOPS[1:]):
        if t <= b:
            w = (t - a) / (b - a)
            return tuple(round(x + (y - x) * w) for x, y in zip(ca, cb))
    return STOPS[-1][1]


def luminance(rgb) -> float:
    """WCAG relative luminance."""

    def lin(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(rgb) -> str:
    """Black or white: whichever contrasts more with ``rgb``."""
    return INK if contrast(rgb, (0, 0, 0)) >= contrast(rgb, (255, 255, 255)) else PAPER


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass
class TokenRow:
    label: str  # "row 3: neg / pos, loss 0.83"
    tokens: list  # the tokens as text
    kinds: list  # "token", "special" or "pad" for each
    values: list  # the attribution of each


class TokenView:
    """Rows of coloured tokens with a legend (``_repr_html_``) and a short stable text form."""

    def __init__(self, rows: list, title: str, label: str = "", scale_max: float | None = None):
        self.rows, self.title, self.label = rows, title, label or title
        shown = [abs(v) for r in rows for v, k in zip(r.values, r.kinds) if k == "token"]
        self.max = scale_max if scale_max is not None else (max(shown) if shown else 0.0) or 1.0

    def __repr__(self) -> str:
        return f"<Token attributions: {self.label}>"

    def text(self) -> str:
        """The rows as plain text: each token with its attribution."""
        lines = [self.title]
        for r in self.rows:
            words = [f"{t}({v:+.2f})" for t, k, v in zip(r.tokens, r.kinds, r.values) if k == "token"]
            lines.append(f"{r.label}: {' '.join(words)}")
        return "\n".join(lines)

    def _span(self, token: str, kind: str, value: float) -> str:
        text = html.escape(token)
        tip = html.escape(f"{token}: {value:+.4g}", quote=True)
        if kind == "special":
            return (
                f'<span class="nbtrain-token special" title="{tip}" style="color:{DIM};padding:1px 2px">{text}</span>'
            )
        rgb = scale(value / self.max)
        return (
            f'<span class="nbtrain-token" title="{tip}" style="background-color:{_hex(rgb)};color:{text_on(rgb)};'
            f'padding:1px 3px;margin:1px;border-radius:3px;display:inline-block">{text}</span>'
        )

    def _legend(self) -> str:
        stops = ", ".join(f"{_hex(c)} {(t + 1) * 50:.0f}%" for t, c in STOPS)
        m = f"{self.max:.3g}"
        return (
            '<div class="nbtrain-token-legend" style="display:flex;align-items:center;gap:6px;margin-top:6px;'
            f'font-size:90%"><span>&minus;{m} against</span><span style="display:inline-block;width:160px;'
            f'height:10px;border:1px solid {DIM};background:linear-gradient(to right, {stops})"></span>'
            f"<span>+{m} for the predicted class</span></div>"
        )

    def _repr_html_(self) -> str:
        body = []
        for r in self.rows:
            spans = "".join(self._span(t, k, v) for t, k, v in zip(r.tokens, r.kinds, r.values) if k != "pad")
            body.append(
                f'<div class="nbtrain-token-row" style="margin:4px 0"><div style="font-size:90%;color:{DIM}">'
                f"{html.escape(r.label)}</div><div>{spans}</div></div>"
            )
        return (
            f'<div class="nbtrain-tokens" style="background-color:{PAPER};color:{INK};padding:8px 10px;'
            f'border-radius:4px;line-height:1.9"><div style="font-weight:bold">{html.escape(self.title)}</div>'
            f"{''.join(body)}{self._legend()}</div>"
        )


def reader(ex):
    """The :class:`~nbtrain.core.tokens.Tokens` of an explanation's tokenizer, or None."""
    from ..core.tokens import Tokens

    return Tokens.of(ex.tokenizer)


def _entry(ex, x):
    """The token ids of ``x`` where the run reads integer inputs as ids (a model of the user's own,
    no preprocessing); integer features of a preset model are numbers, not tokens."""
    from ..core.tokens import token_entry

    return token_entry(x) if ex.run.config.get("int_inputs") else None


def texts(ex, x) -> list | None:
    """The rows of ``x`` as text (their token ids decoded; the ids themselves without a tokenizer), or
    None where ``x`` holds no token ids."""
    entry = _entry(ex, x)
    if entry is None:
        return None
    _, ids, mask = entry
    tok = reader(ex)
    out = []
    for r in range(len(ids)):
        m = None if mask is None else mask[r]
        if tok is not None:
            out.append(tok.text(ids[r], m))
        else:
            out.append(" ".join(str(int(i)) for n, i in enumerate(ids[r]) if m is None or m[n]))
    return out


def token_view(ex, idx, x, attr, title: str, label: str) -> TokenView | None:
    """The top-loss rows ``idx`` (inputs ``x``, attributions ``attr`` in x's structure) as coloured
    tokens, or None where ``x`` holds no token ids."""
    from ..core.batch import named_leaves

    entry = _entry(ex, x)
    if entry is None:
        return None
    path, ids, mask = entry
    values = dict(named_leaves(attr))[path] if path else attr
    tok = reader(ex)
    top = ex.top_losses(len(ex)).set_index("index")
    rows = []
    for n, i in enumerate(idx):
        r = top.loc[i]
        m = None if mask is None else mask[n]
        kinds = (
            tok.kinds(ids[n], m)
            if tok is not None
            else ["token" if m is None or m[j] else "pad" for j in range(len(ids[n]))]
        )
        tokens = tok.tokens(ids[n]) if tok is not None else [str(int(t)) for t in ids[n]]
        head = f"row {i}: {r['target']} / {r['prediction']}, loss {float(r['loss']):.3g}"
        rows.append(TokenRow(head, tokens, kinds, [float(v) for v in values[n]]))
    return TokenView(rows, title, label)
