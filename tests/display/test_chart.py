"""The live SVG chart and the running trace: dense, capped, drawn where measured, never joined across epochs."""

import math
import xml.etree.ElementTree as ET

import numpy as np

import nbtrain
from nbtrain.display.base import RecordingSink
from nbtrain.display.chart import Trace, chart_data, chart_svg
from nbtrain.display.plot import LivePlot, new_figure, render


def _data(n=1600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype("float32")
    return X, (X[:, 0] - X[:, 1] > 0).astype("int64")


def _segments_of(line):
    xs, segs, cur = line.get_xdata(), [], []
    for x in xs:
        if math.isnan(x):
            segs.append(cur)
            cur = []
        else:
            cur.append(x)
    return segs + [cur]


def test_the_final_figure_has_a_dense_running_trace_one_segment_per_epoch():
    plot = LivePlot(sink=RecordingSink())
    run = nbtrain.train(_data(), model="mlp(16)", epochs=4, batch_size=16, display="none", callbacks=[plot], seed=0)
    nb = run.live.num_batches
    assert nb >= 60
    (trace,) = [s for s in plot.final_data["panels"][0]["series"] if s["label"] == "train (running)"]
    segs = trace["segments"]
    assert len(segs) == 4  # one per epoch
    for e, seg in enumerate(segs, start=1):
        xs = [x for x, _ in seg]
        assert all(e - 1 < x < e for x in xs) and xs == sorted(xs)  # drawn inside its own epoch
        assert len(seg) >= 20  # a point at least every 5% of an epoch
        assert max(b - a for a, b in zip([e - 1, *xs], [*xs, e])) <= 0.08
        assert len(seg) <= Trace.per_epoch
    # the matplotlib figure draws the same trace with a break between epochs (no line joins two)
    fig = new_figure(2)
    render(fig, plot.final_data)
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "train (running)"]
    assert [len(s) for s in _segments_of(line)] == [len(s) for s in segs]
    # each point is the mean of the batch losses it covers, at their middle
    first = segs[0][0]
    assert 0 < first[0] < 0.05 and 0 < first[1] < 2


def test_the_trace_is_capped_and_thinning_never_joins_epochs():
    t = Trace(epochs=400)  # 2000 points / 400 epochs: 5 points an epoch
    for e in range(1, 401):
        t.add(e, 100, [1.0 / e] * 100)
        t.end_epoch(object(), e, 100)
    assert t.total <= Trace.cap and len(t.segment_list()) == 400
    assert all(all(e - 1 < x < e for x, _ in seg) for e, seg in enumerate(t.segment_list(), start=1))
    many = Trace(epochs=10)
    for e in range(1, 11):
        many.add(e, 10_000, [0.5] * 10_000)
        many.end_epoch(object(), e, 10_000)
    assert 10 * 20 <= many.total <= Trace.cap and max(len(s) for s in many.segment_list()) <= Trace.per_epoch


def test_svg_chart_looks_like_the_final_figure():
    rows = [
        {"epoch": 1.0, "train_loss": 2.0, "val_loss": 2.2, "val_accuracy": 0.4},
        {"epoch": 2.0, "train_loss": 0.05, "val_loss": 0.04, "val_accuracy": 0.9},
        {"epoch": 3.0, "train_loss": 0.01, "val_loss": 0.03, "val_accuracy": 0.95},
    ]
    trace = [[(0.5, 2.5), (0.9, 1.9)], [(1.5, 0.2), (1.9, 0.06)], [(2.5, 0.02)]]
    data = chart_data(rows, trace, "val_accuracy", best=3, title="r: epoch 3/5")
    assert data["panels"][0]["log"] and not data["panels"][1]["log"]  # losses span decades
    svg = chart_svg(data)
    root = ET.fromstring(svg)  # well-formed
    assert root.get("width") == "736"  # two panels
    paths = {p.get("data-label"): p.get("d") for p in root.iter("{http://www.w3.org/2000/svg}path")}
    assert set(paths) == {"train (running)", "train", "val", "val_accuracy"}
    assert paths["train (running)"].count("M") == 3  # one segment per epoch
    assert svg.count('class="nbtrain-best"') == 2 and "r: epoch 3/5" in svg
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "0.01" in texts and "1" in texts  # log ticks


def test_a_live_without_batch_losses_is_sampled_by_its_running_mean():
    """A relayed (distributed) run's live has counters and a streamed loss but no batch losses."""
    from nbtrain.distributed.relay import RemoteLive

    live, t = RemoteLive(), Trace(epochs=2)
    live.begin(1, 10)
    for b in (3, 6, 9):
        live.batch, live.remote_loss = b, 1.0 / b
        t.read(live, 1, 10)
    t.end_epoch(live, 1, 10)
    assert t.segment_list() == [[(0.3, 1 / 3), (0.6, 1 / 6), (0.9, 1 / 9)]]
