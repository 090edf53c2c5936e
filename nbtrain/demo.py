"""Execute a notebook headless and report where the results are (what ``make demo`` runs).

    python -m nbtrain.demo notebooks/01_quickstart.ipynb --out out

writes ``out/01_quickstart.ipynb`` (executed, outputs included) and ``out/01_quickstart.html``, then
prints their paths and the final metric table: the text of the notebook's last ``%evaluate`` output.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .display.format import duration


def final_metric_table(nb) -> str | None:
    """The plain-text metric table shown by the last ``%evaluate`` cell of an executed notebook."""
    for cell in reversed(nb.cells):
        if cell.cell_type != "code" or not cell.source.lstrip().startswith("%evaluate"):
            continue
        for out in cell.get("outputs", []):
            text = (
                out.get("data", {}).get("text/plain")
                if out.get("output_type") in ("display_data", "execute_result")
                else None
            )
            if text and "metric" in text:
                return text
    return None


def execute(path: str, timeout: int = 600, kernel_name: str | None = None):
    """Run every cell of the notebook at ``path`` in a fresh kernel (cwd: the notebook's folder),
    with an empty run store of its own: a second demo shows what the first did, not its runs too."""
    import tempfile
    from unittest import mock

    with tempfile.TemporaryDirectory(prefix="nbtrain-demo-") as store:
        with mock.patch.dict(os.environ, {"NBTRAIN_STORE": store}):
            return _execute(path, timeout, kernel_name)


def _execute(path: str, timeout: int, kernel_name: str | None):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        store_widget_state=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    client.execute()
    return nb


def write(nb, path: str, out_dir: str) -> tuple[str, str]:
    """Save the executed notebook and its HTML rendering under ``out_dir``."""
    import nbformat
    from nbconvert import HTMLExporter

    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    nb_path, html_path = os.path.join(out_dir, stem + ".ipynb"), os.path.join(out_dir, stem + ".html")
    nbformat.write(nb, nb_path)
    body, _ = HTMLExporter().from_notebook_node(nb)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(body)
    return nb_path, html_path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nbtrain.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("notebook", nargs="?", default="notebooks/01_quickstart.ipynb", help="the notebook to run")
    p.add_argument("--out", default="out", help="folder for the executed notebook and its HTML (default: out)")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default: 600)")
    p.add_argument("--kernel", default=None, help="kernel name (default: the notebook's, else python3)")
    args = p.parse_args(argv)
    if not os.path.exists(args.notebook):
        print(f"error: no notebook at {args.notebook!r}", file=sys.stderr)
        return 2
    from nbclient.exceptions import CellExecutionError

    t0 = time.perf_counter()
    print(f"executing {args.notebook} headless ...", flush=True)
    try:
        nb = execute(args.notebook, args.timeout, args.kernel)
    except CellExecutionError as exc:
        print(f"error: a cell of {args.notebook} failed:\n{str(exc).strip()[-2000:]}", file=sys.stderr)
        return 1
    nb_path, html_path = write(nb, args.notebook, args.out)
    print(f"done in {duration(time.perf_counter() - t0)}")
    print(f"executed notebook: {nb_path}")
    print(f"HTML:              {html_path}")
    table = final_metric_table(nb)
    if table:
        print("\nfinal metric table:\n" + table.rstrip("\n") + "\n", flush=True)
    else:
        print("\n(the notebook shows no %evaluate metric table)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
