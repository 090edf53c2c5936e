"""The cheap live chart: the loss/metric curves as an SVG string written here, no matplotlib.

A live frame costs about a millisecond (string formatting of a few hundred points), so the live
plot can redraw every half second at well under 1% of a run.  The chart draws the same
:func:`chart_data` as the final matplotlib figure (``plot.py``), so the live frames look like the
final one: train and val loss (log axis when :func:`~nbtrain.display.format.wants_log` says so),
the running training trace, the metric panel and the best-epoch marker.

The running trace (:class:`Trace`) is a point every few percent of an epoch (at most
``per_epoch`` points an epoch and ``cap`` in all), each the mean of the batch losses it covers and
drawn at the middle of those batches; each epoch is its own segment, so two samples are never
joined across an epoch.

>>> svg = chart_svg(chart_data([{"epoch": 1.0, "train_loss": 0.9}, {"epoch": 2.0, "train_loss": 0.5}]))
>>> svg.startswith("<svg") and "train" in svg
True
"""

from __future__ import annotations

import html
import math

from .format import finite, wants_log

BLUE, ORANGE, GREEN, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#808080"


# ---------------------------------------------------------------------------- the running trace
class Trace:
    """Per-epoch segments of the running training loss, read from ``run.live``.

    ``read(live, epoch, num_batches)`` takes the batch losses since the last read
    (``live.losses_since``: one host read, throttled by the loop's ``Live``) and turns every full
    bucket of batches into one point; ``end_epoch`` flushes the rest of the epoch.  Where the live
    object cannot list batch losses (a relayed run), the running mean (``live.loss()``) is sampled.
    """

    #: at most this many points an epoch (one every 2%)
    per_epoch = 50
    #: points kept in all; past it every other point is dropped (never across an epoch)
    cap = 2000

    def __init__(self, epochs: int | None = None):
        self.segments: dict = {}  # epoch -> [(x, loss), ...]
        self.epochs = epochs
        self._epoch, self._read, self._buf, self._nb = None, 0, [], 1
        self._bucket = 1
        self.total = 0

    def _begin(self, epoch: int, nb: int) -> None:
        self._epoch, self._read, self._buf, self._nb = epoch, 0, [], max(1, nb)
        want = self.per_epoch
        if self.epochs:
            want = max(2, min(self.per_epoch, self.cap // max(1, int(self.epochs))))
        self._bucket = max(1, math.ceil(self._nb / want))

    def _emit(self, n: int) -> None:
        chunk, self._buf = self._buf[:n], self._buf[n:]
        start = self._read - len(self._buf) - len(chunk)  # index of the chunk's first batch
        vals = finite(chunk)
        if vals:
            x = self._epoch - 1 + (start + len(chunk) / 2) / self._nb
            self.segments.setdefault(self._epoch, []).append((x, sum(vals) / len(vals)))
            self.total += 1
            if self.total > self.cap:
                self._thin()

    def _thin(self) -> None:
        for e, seg in self.segments.items():
            self.segments[e] = seg[::2] if len(seg) > 2 else seg
        self.total = sum(len(s) for s in self.segments.values())
        self.per_epoch = max(2, self.per_epoch // 2)
        self._bucket *= 2

    def add(self, epoch: int, nb: int, losses: list) -> None:
        """Batch losses of ``epoch`` that follow the ones already added."""
        if epoch != self._epoch:
            self._begin(epoch, nb)
        self._buf += losses
        self._read += len(losses)
        while len(self._buf) >= self._bucket:
            self._emit(self._bucket)

    def read(self, live, epoch: int, nb: int, force: bool = False) -> None:
        if epoch != self._epoch:
            self._begin(epoch, nb)
        since = getattr(live, "losses_since", None)
        if since is None or (live.batch and not getattr(live, "has_batch_losses", True)):
            # no batch losses here (a relayed run: rank 0 streams its running mean): sample that
            y = live.loss()
            if y is not None and math.isfinite(y):
                x = epoch - 1 + min(live.batch, nb) / max(1, nb)
                self.segments.setdefault(epoch, []).append((x, y))
                self.total += 1
                if self.total > self.cap:
                    self._thin()
            return
        # at the epoch's end (force: a host sync already) read its last batches past the Live's throttle
        self.add(epoch, nb, since(self._read, force=force))

    def end_epoch(self, live, epoch: int, nb: int, read: bool = True) -> None:
        """Read the epoch's remaining batches (``read``) and flush its last, partial bucket."""
        if epoch != self._epoch:
            self._begin(epoch, nb)
        if read and getattr(live, "losses_since", None) is not None and getattr(live, "has_batch_losses", False):
            self.read(live, epoch, nb, force=True)
        if self._buf:
            self._emit(len(self._buf))

    def points(self) -> list:
        return [p for e in sorted(self.segments) for p in self.segments[e]]

    def segment_list(self) -> list:
        return [list(self.segments[e]) for e in sorted(self.segments) if self.segments[e]]


# ---------------------------------------------------------------------------- what a chart shows
def _segments(xs, ys) -> list:
    """Consecutive finite points as segments (a NaN breaks the line)."""
    out, cur = [], []
    for x, y in zip(xs, ys):
        if isinstance(y, (int, float)) and math.isfinite(y) and x is not None:
            cur.append((float(x), float(y)))
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def chart_data(rows, trace=(), metric: str | None = None, best: int | None = None, title: str | None = None) -> dict:
    """The curves of a run, as plain data both renderers draw (the SVG here, matplotlib in plot.py).

    ``trace``: segments of (x, loss) points (:meth:`Trace.segment_list`), or a flat list of points
    (split at epoch boundaries)."""
    trace = list(trace)
    if trace and isinstance(trace[0], tuple):  # flat points: one segment per epoch
        by_epoch: dict = {}
        for x, y in trace:
            by_epoch.setdefault(math.ceil(x) if x > 0 else 1, []).append((x, y))
        trace = [by_epoch[k] for k in sorted(by_epoch)]
    epochs = [r.get("epoch") for r in rows]
    markers = len(rows) <= 30
    loss_series = []
    if trace:
        loss_series.append({"label": "train (running)", "color": BLUE, "alpha": 0.35, "width": 1, "segments": trace})
    for key, color in (("train_loss", BLUE), ("val_loss", ORANGE)):
        segs = _segments(epochs, [r.get(key, math.nan) for r in rows])
        if segs:
            label = key.replace("_loss", "")
            loss_series.append({"label": label, "color": color, "segments": segs, "markers": markers})
    values = [y for s in loss_series for seg in s["segments"] for _, y in seg]
    panels = [{"ylabel": "loss", "log": wants_log(values), "series": loss_series, "legend": True}]
    if metric is not None:
        segs = _segments(epochs, [r.get(metric, math.nan) for r in rows])
        series = [{"label": metric, "color": GREEN, "segments": segs, "markers": markers}] if segs else []
        panels.append({"ylabel": metric, "log": False, "series": series, "legend": False})
    return {"title": title, "best": best, "panels": panels, "integer_x": len(rows) <= 12}


# ---------------------------------------------------------------------------- the SVG
def _nice(span: float) -> float:
    """A 1-2-5 step giving about five ticks over ``span``."""
    raw = span / 5 if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def _ticks(lo: float, hi: float, integer: bool = False) -> list:
    step = _nice(hi - lo)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    n = int((hi - first) / step + 1e-9) + 1
    return [first + i * step for i in range(max(0, min(n, 20)))]


def _log_ticks(lo: float, hi: float) -> list:
    """Ticks for a log axis over [10**lo, 10**hi] (``lo``/``hi`` in decades)."""
    mults = (1,) if hi - lo > 2 else (1, 2, 5)
    out = [m * 10.0**k for k in range(math.floor(lo), math.ceil(hi) + 1) for m in mults]
    return [t for t in out if lo - 1e-9 <= math.log10(t) <= hi + 1e-9]


def _label(v: float) -> str:
    return f"{v:.3g}" if v != 0 else "0"


def _range(values, log: bool) -> tuple:
    vals = [math.log10(v) for v in values if v > 0] if log else list(values)
    if not vals:
        return (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def _thin_segments(segments: list, most: int) -> list:
    """At most about ``most`` points (a 300-pixel axis shows no more), each segment kept apart."""
    total = sum(len(s) for s in segments)
    if total <= most:
        return segments
    k = math.ceil(total / most)
    return [seg[::k] + ([seg[-1]] if (len(seg) - 1) % k else []) for seg in segments]


def _panel(p: dict, x0: float, w: float, h: float, xr: tuple, best, integer_x: bool) -> list:
    """One axes box at horizontal offset ``x0``: grid, ticks, curves, best marker, legend."""
    left, right, top, bottom = 52, 8, 26, 34
    ax, ay, aw, ah = x0 + left, top, w - left - right, h - top - bottom
    log = p["log"]
    ys = [y for s in p["series"] for seg in s["segments"] for _, y in seg]
    yr = _range(ys, log)
    (xa, xb), (ya, yb) = xr, yr

    def X(x):
        return ax + (x - xa) / (xb - xa) * aw

    def Y(y):
        v = math.log10(y) if log else y
        return ay + ah - (v - ya) / (yb - ya) * ah

    out = [f'<rect x="{ax:.1f}" y="{ay:.1f}" width="{aw:.1f}" height="{ah:.1f}" fill="white" stroke="#444"/>']
    yticks = _log_ticks(ya, yb) if log else _ticks(ya, yb)
    for t in yticks:
        y = Y(t)
        out.append(f'<line x1="{ax:.1f}" x2="{ax + aw:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ax - 4:.1f}" y="{y + 3.5:.1f}" text-anchor="end">{_label(t)}</text>')
    for t in _ticks(xa, xb, integer=integer_x):
        x = X(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{ay:.1f}" y2="{ay + ah:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{ay + ah + 13:.1f}" text-anchor="middle">{_label(t)}</text>')
    out.append(f'<text x="{ax + aw / 2:.1f}" y="{h - 6:.1f}" text-anchor="middle">epoch</text>')
    out.append(
        f'<text x="{x0 + 12:.1f}" y="{ay + ah / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 + 12:.1f} {ay + ah / 2:.1f})">{html.escape(p["ylabel"])}</text>'
    )
    if best is not None and xa <= best <= xb:
        out.append(
            f'<line class="nbtrain-best" x1="{X(best):.1f}" x2="{X(best):.1f}" y1="{ay:.1f}" y2="{ay + ah:.1f}" '
            f'stroke="{GREY}" stroke-dasharray="2,3"/>'
        )
    for s in p["series"]:
        color, alpha, width = s["color"], s.get("alpha", 1.0), s.get("width", 1.5)
        segs = _thin_segments(s["segments"], 2 * int(aw))
        d = " ".join("M" + " L".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in seg) for seg in segs)
        out.append(
            f'<path d="{d}" fill="none" stroke="{color}" stroke-opacity="{alpha}" stroke-width="{width}"'
            f' data-label="{html.escape(s["label"] or "")}"/>'
        )
        if s.get("markers"):
            dot = '<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="' + color + '"/>'
            out += [dot.format(X(x), Y(y)) for g in s["segments"] for x, y in g]
    if p.get("legend") and p["series"]:
        lx, ly = ax + aw - 96, ay + 12
        for i, s in enumerate(p["series"]):
            y = ly + 13 * i
            out.append(
                f'<line x1="{lx:.1f}" x2="{lx + 16:.1f}" y1="{y - 3.5:.1f}" y2="{y - 3.5:.1f}" stroke="{s["color"]}" '
                f'stroke-opacity="{s.get("alpha", 1.0)}" stroke-width="2"/>'
            )
            out.append(f'<text x="{lx + 20:.1f}" y="{y:.1f}">{html.escape(s["label"])}</text>')
    return out


def chart_svg(data: dict, size=(368, 256)) -> str:
    """The chart as one SVG string (``size``: one panel's width and height in pixels)."""
    panels = data["panels"]
    w, h = size
    xs = [x for p in panels for s in p["series"] for seg in s["segments"] for x, _ in seg]
    if xs:
        xa, xb = min(xs), max(xs)
        if xb - xa < 1e-9:
            xa, xb = xa - 0.5, xb + 0.5
        pad = 0.03 * (xb - xa)
        xr = (xa - pad, xb + pad)
    else:
        xr = (0.0, 1.0)
    total = w * len(panels)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nbtrain-chart" width="{total}" height="{h}" '
        f'viewBox="0 0 {total} {h}" font-family="sans-serif" font-size="10" fill="#222">',
        # its own opaque background: the image sees none of the page's theme, so its dark text
        # (15.9 : 1 on white) must not stand on a dark page (1.19 : 1 in JupyterLab Dark)
        f'<rect class="nbtrain-bg" width="{total}" height="{h}" fill="white"/>',
    ]
    if data.get("title"):
        title = html.escape(data["title"])
        out.append(f'<text x="{total / 2:.1f}" y="15" text-anchor="middle" font-size="12">{title}</text>')
    for i, p in enumerate(panels):
        out += _panel(p, i * w, w, h, xr, data.get("best"), data.get("integer_x", False))
    out.append("</svg>")
    return "".join(out)
