"""The finder's suggestion in a real ipykernel: the output a front end shows ends with the line to use
it, and ``best = _`` then ``%%train --lr $best`` trains at exactly that rate."""

import pytest
from kernel_cells import run_cell as _run

jc_manager = pytest.importorskip("jupyter_client.manager")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

BODY = 'data = load_digits(return_X_y=True)\npreprocess = "standardize"\nmodel = "mlp(32)"\n'


def _result(msgs) -> dict:
    errors = [c for k, c in msgs if k == "error"]
    assert not errors, errors
    return next(c["data"] for k, c in msgs if k == "execute_result")


def test_best_from_the_finder_output_trains_in_a_kernel():
    km, kc = jc_manager.start_new_kernel(kernel_name="python3", startup_timeout=90)
    try:
        _run(kc, "import torch, nbtrain\ntorch.set_num_threads(1)\nfrom sklearn.datasets import load_digits\n"
             "%load_ext nbtrain\n%config NbtrainMagics.display = 'none'")  # fmt: skip
        shown = _result(_run(kc, "%%lr_find --steps 40\n" + BODY))
        _run(kc, "best = _")
        best = "".join(c["text"] for k, c in _run(kc, "print(best)") if k == "stream").strip()
        same = (
            _result(_run(kc, f"%%train --epochs 1 --lr $best --name k\n{BODY}")),
            _result(_run(kc, "nbtrain.runs['k'].config['lr'] == float(best), str(best)")),
        )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    lines = shown["text/plain"].splitlines()
    assert lines[0].startswith("lr_find: suggested lr ") and "image/png" in shown
    assert lines[-1].startswith("to use it: best = _") and "%%train --lr $best" in lines[-1]
    assert float(best) > 0  # the number itself, not the sentence
    assert same[1]["text/plain"] == f"(True, '{best}')"
