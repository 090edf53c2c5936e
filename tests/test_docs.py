"""The docs site builds offline with every warning as an error, and its generated pages match the code."""

import html
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS_PACKAGES = ("mkdocs", "material", "mkdocs_jupyter", "mkdocstrings", "mkdocstrings_handlers.python")


def _missing_docs_packages():
    missing = []
    for name in DOCS_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def _hook():
    spec = importlib.util.spec_from_file_location(
        "nbtrain_docs_hook", os.path.join(ROOT, "docs", "hooks", "reference.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(path):
    with open(path, encoding="utf-8") as f:
        return html.unescape(re.sub(r"<[^>]+>", "", f.read()))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(f"docs packages not installed ({', '.join(missing)}): pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return out


@pytest.mark.slow
def test_site_has_every_page(site):
    for page in ("index", "getting-started", "magics", "api", "presets", "stop", "benchmarks", "faq"):
        assert (site / f"{page}.html").exists(), page


@pytest.mark.slow
def test_every_notebook_is_rendered(site):
    notebooks = sorted(f for f in os.listdir(os.path.join(ROOT, "notebooks")) if f.endswith(".ipynb"))
    assert notebooks, "notebooks/ holds no notebook"
    for nb in notebooks:
        page = site / "notebooks" / nb.replace(".ipynb", ".html")
        assert page.exists(), f"{nb} is not in the docs site"
        assert "jp-Cell" in page.read_text(encoding="utf-8") or "jp-CodeCell" in page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_magics_reference_lists_every_option_of_every_magic(site):
    text = _text(site / "magics.html")
    entries, _ = _hook().magic_entries()
    names = {part.lstrip("%") for label, _ in entries for part in label.split(" / ")}
    assert {"train", "evaluate", "predict", "runs", "compare"} <= names, names
    for label, func in entries:
        assert label in text, label
        parser = getattr(func, "parser", None)
        if parser is None:
            continue
        for action in parser._actions:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    assert opt in text, f"{label} {opt} missing from the magics reference"
    for opt in ("--epochs", "--batch-size", "--lr", "--device", "--amp", "--patience", "--checkpoint", "--resume"):
        assert opt in text


@pytest.mark.slow
def test_api_and_presets_pages_come_from_the_code(site):
    from nbtrain.core import losses, models, optim

    api = _text(site / "api.html")
    for name in ("train", "load", "Run", "History", "Callback", "NbtrainError", "on_epoch_end", "evaluate"):
        assert name in api, name
    assert "Train a model on declared data" in api  # the docstring of nbtrain.train
    presets = _text(site / "presets.html")
    for name in models.KNOWN + losses.KNOWN + tuple(optim.OPTIMIZERS):
        assert name in presets, name


def test_readme_section_is_extracted_with_links_flattened(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "# nbtrain\n\nintro\n\n## Benchmarks\n\nSee [the script](benchmarks/overhead.py).\n\n"
        "### CPU\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```\n# not a heading\n```\n\n## Next\n\nother\n"
    )
    section = _hook().readme_section(path=str(readme))
    assert "the script (`benchmarks/overhead.py`)" in section
    assert "### CPU" in section and "| 1 | 2 |" in section and "# not a heading" in section
    assert "other" not in section
    assert _hook().readme_section(pattern="nothing-like-this", path=str(readme)) is None
