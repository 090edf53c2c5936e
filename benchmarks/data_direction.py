"""How often the data goes back while ``prepare`` runs, for 8 kinds of source (issue 19 item 10).

Two counts, one rule for the tree before the restructuring (``nbtrain/core/data.py`` and friends)
and after it (``nbtrain/core/sources/`` and the stage modules):

- backward steps: module-level functions are given a stage (adapt, clean, labels, split,
  preprocess, batches; by module now, by function in the old tree whose ``data.py`` mixed stages);
  a call into a stage earlier than one already reached is a step back.  Vocabulary (type tests,
  conversions, declarations) and methods of the objects handed along are no stage;
- module re-entries (the issue's measure): a data module entered again after the path had left it
  (module-level functions, comprehensions included, methods not).

    python benchmarks/data_direction.py                          # this tree
    PYTHONPATH=/path/to/old/checkout python benchmarks/data_direction.py   # an older one (same tests/)
"""

import collections
import os
import pathlib
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "core"))
warnings.simplefilter("ignore")

import test_data_direction as T  # noqa: E402

import nbtrain.core  # noqa: E402
from nbtrain.core.prepare import prepare  # noqa: E402

NEW = T.STAGES
OLD_FN = {
    "data": {
        "adapt": 0,
        "as_features": 0,
        "structured_features": 0,
        "stacked_rows": 0,
        "_length": 0,
        "infer_task": 2,
        "split": 3,
        "_part_size": 3,
    },
    "files": 0,
    "items": {"probe_items": 0, "read_labels": 0, "_check_item": 0, "_signature": 0, "_show": 0, "_label": 0},
    "hf": 0,
    "datasets": {
        "known_targets": 0,
        "known_classes": 0,
        "base": 0,
        "is_iterable": None,
        "check_workers": 5,
        "start_method": 5,
        "_move": 5,
    },
    "inputs": {"decide_task": 2, "declared_codec": 2, "_targets": 5, "as_tensor": 5},
    "dataset_inputs": {"split_dataset": 3, "_classes": 2},
    "preprocess": {
        "apply_row_filters": 1,
        "_hashable": 1,
        "build": 4,
        "features": 4,
        "_make": 4,
        "_build_sparse": 4,
        "_build_frame": 4,
        "_sparse": 4,
        "_plain": 4,
        "_finite": 4,
    },
    "sparse": 5,
    "tensor_batches": 5,
}
OLD_DATA = {"data", "inputs", "datasets", "dataset_inputs", "items", "sparse", "preprocess", "files", "hf", "placement"}
NEW_DATA = {
    "sources",
    "clean",
    "labels",
    "splits",
    "preprocess",
    "tensor_batches",
    "sparse",
    "datasets",
    "inputs",
    "dataset_inputs",
    "placement",
}
old = (pathlib.Path(nbtrain.core.__file__).parent / "data.py").exists()  # the tree before the sources


def stage_of(mod, fn):
    if old:
        m = OLD_FN.get(mod)
        return m.get(fn) if isinstance(m, dict) else m
    return NEW.get(mod.split(".")[0])


def run(fn):
    seq, mods = [], []
    data = OLD_DATA if old else NEW_DATA

    def prof(frame, event, arg):
        if event != "call":
            return
        mod = frame.f_globals.get("__name__", "")
        if not mod.startswith("nbtrain.core."):
            return
        mod = mod[13:]
        code = frame.f_code
        if code.co_filename.startswith("<") or "." in T._qualname(code):
            return
        if mod.split(".")[0] in data and (not mods or mods[-1] != mod.split(".")[0]):
            mods.append(mod.split(".")[0])
        s = stage_of(mod, code.co_name)
        if s is not None and (not seq or seq[-1][0] != s):
            seq.append((s, f"{mod}.{code.co_name}"))

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    seen, re = set(), collections.Counter()
    for m in mods:
        if m in seen:
            re[m] += 1
        seen.add(m)
    return T.backward_steps(seq), re


tot_b, tot_r = 0, collections.Counter()
with tempfile.TemporaryDirectory() as d:
    for name, kw in T._kinds(pathlib.Path(d)).items():
        back, re = run(lambda kw=kw: prepare(name="r", epochs=1, **kw))
        tot_b += len(back)
        tot_r.update(re)
        print(f"{name:18s} backward {len(back):3d}   module re-entries {sum(re.values()):3d} {dict(re)}")
        if back and "-v" in sys.argv:
            print("   ", back)
print("TOTAL backward", tot_b, " re-entries", sum(tot_r.values()), dict(tot_r))
