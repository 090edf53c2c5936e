"""Backward steps of the data path while prepare runs (one rule for the old and the new tree).

Each module-level function of the data modules is given a stage (by module in the new tree, by
function in the old one, whose data.py mixed stages); vocabulary (type tests, conversions,
declarations) and methods of handed-on objects are no stage.  Also: module re-entries, the
issue's measure (a data module entered again after the path had left it)."""
import sys, os, collections, warnings, tempfile
sys.path.insert(0, "/work/wt/datapath/tests/core")
warnings.simplefilter("ignore")
import numpy as np
import nbtrain
from nbtrain.core.prepare import prepare
import test_data_direction as T

NEW = T.STAGES
OLD_FN = {
    "data": {"adapt": 0, "as_features": 0, "structured_features": 0, "stacked_rows": 0, "_length": 0,
             "infer_task": 2, "split": 3, "_part_size": 3},
    "files": 0, "items": {"probe_items": 0, "read_labels": 0, "_check_item": 0, "_signature": 0, "_show": 0, "_label": 0},
    "hf": 0,
    "datasets": {"known_targets": 0, "known_classes": 0, "base": 0, "is_iterable": None, "check_workers": 5, "start_method": 5, "_move": 5},
    "inputs": {"decide_task": 2, "declared_codec": 2, "_targets": 5, "as_tensor": 5},
    "dataset_inputs": {"split_dataset": 3, "_classes": 2},
    "preprocess": {"apply_row_filters": 1, "_hashable": 1, "build": 4, "features": 4, "_make": 4, "_build_sparse": 4,
                   "_build_frame": 4, "_sparse": 4, "_plain": 4, "_finite": 4},
    "sparse": 5, "tensor_batches": 5,
}
OLD_DATA = {"data", "inputs", "datasets", "dataset_inputs", "items", "sparse", "preprocess", "files", "hf", "placement"}
NEW_DATA = {"sources", "clean", "labels", "splits", "preprocess", "tensor_batches", "sparse", "datasets",
            "inputs", "dataset_inputs", "placement"}
old = "datapath_before" in nbtrain.__file__

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
    import pathlib
    for name, kw in T._kinds(pathlib.Path(d)).items():
        back, re = run(lambda: prepare(name="r", epochs=1, **kw))
        tot_b += len(back); tot_r.update(re)
        print(f"{name:18s} backward {len(back):3d}   module re-entries {sum(re.values()):3d} {dict(re)}")
        if back and "-v" in sys.argv:
            print("   ", back)
print("TOTAL backward", tot_b, " re-entries", sum(tot_r.values()), dict(tot_r))
