"""The core never imports notebook libraries; importing nbtrain (and training on arrays) stays light:
no Hugging Face library either (core/hf.py is imported only when a datasets object is given)."""

import subprocess
import sys

import pytest

HEAVY = ("IPython", "ipywidgets", "matplotlib", "ipykernel", "transformers", "datasets", "peft")


@pytest.mark.parametrize(
    "stmt",
    [
        "import nbtrain.core",
        "import nbtrain",
        "import nbtrain; nbtrain.train(([[0.],[1.]]*10, [0,1]*10), epochs=1, display='none')",
    ],
)
def test_no_ui_imports(stmt):
    code = f"import sys; {stmt}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{stmt} imported {out.stdout.strip()}"
