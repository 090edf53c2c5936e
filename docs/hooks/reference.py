"""MkDocs hook: pages generated from the code, so the docs cannot drift from it.

Generated blocks in a page's Markdown are rendered again at build time:

``<!-- nbtrain:magics -->``
    every magic in ``nbtrain.magics`` with every option, read from the magic's own
    ``IPython.core.magic_arguments`` parser (the same parser that ``%%train?`` prints), and the
    ``%config``-able traits of the magics class.
``<!-- nbtrain:presets -->``
    the preset names the core accepts (preprocessing steps, models, losses, optimizers with their
    default learning rates, schedulers, metrics), read from the modules that parse them.
``<!-- nbtrain:benchmarks -->``
    the benchmark section of README.md (the numbers ``make bench`` measured).

A block is the marker, the rendered Markdown and a closing ``<!-- /nbtrain:NAME -->``; the rendered
text is committed too, so the page reads as real Markdown in the repository (GitHub, an editor).
``python docs/hooks/reference.py --write`` renders the blocks of every page again (after changing a
magic's options or a preset); ``tests/test_docs_markdown.py`` fails while a committed block is stale.
A bare marker (no closing comment) is filled at build time only.  A marker that cannot be filled is a
build warning, and the docs build runs with ``--strict``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re

log = logging.getLogger("mkdocs.hooks.nbtrain")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --------------------------------------------------------------------------- helpers
def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|")


def _code(text) -> str:
    return f"`{text}`" if text else ""


# --------------------------------------------------------------------------- magics
def magic_entries():
    """``[(label, func), ...]`` for every magic registered by ``nbtrain.magics``, in source order.

    The label is ``%%name`` (cell), ``%name`` (line) or ``%name / %%name`` (both).
    """
    import inspect

    from IPython.core.magic import Magics

    import nbtrain.magics as module

    found = []
    for obj in vars(module).values():
        if inspect.isclass(obj) and issubclass(obj, Magics) and obj is not Magics and getattr(obj, "magics", None):
            if obj.__module__.startswith(module.__name__) and obj not in found:
                found.append(obj)
    if not found:
        raise RuntimeError("nbtrain.magics defines no IPython Magics class")
    entries = {}
    for cls in found:
        for kind, prefix in (("cell", "%%"), ("line", "%")):
            for name, meth in cls.magics.get(kind, {}).items():
                func = getattr(cls, meth) if isinstance(meth, str) else meth
                label, _ = entries.get(name, (None, None))
                label = f"%{name} / %%{name}" if label and label != prefix + name else prefix + name
                entries[name] = (label, func)

    def line_no(item):
        func = item[1][1]
        try:
            return inspect.getsourcelines(inspect.unwrap(func))[1]
        except (OSError, TypeError):
            return 0

    return [(label, func) for _, (label, func) in sorted(entries.items(), key=line_no)], found


def _action_row(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    if action.option_strings:
        names = ", ".join(action.option_strings)
    else:
        names = action.metavar or action.dest
    takes_value = action.nargs != 0 and bool(action.option_strings)
    if takes_value:
        metavar = formatter._format_args(action, action.dest.upper())
    else:
        metavar = ""
    default = action.default
    if default in (None, False, argparse.SUPPRESS) or not action.option_strings:
        default = ""
    elif isinstance(default, str):
        default = repr(default)
    help_text = formatter._expand_help(action) if action.help else ""
    if action.choices:
        help_text = f"{help_text} (one of: {', '.join(map(str, action.choices))})".strip()
    return f"| {_code(_cell(names))} | {_code(_cell(metavar))} | {_code(_cell(default))} | {_cell(help_text)} |"


def render_magic(label: str, func) -> str:
    import inspect

    parser = getattr(func, "parser", None)
    doc = inspect.getdoc(func) or ""
    out = [f"## `{label}`", ""]
    if parser is None:
        out += [doc or "(no documentation)", ""]
        return "\n".join(out)
    usage = re.sub(r"^usage:\s*", "", parser.format_usage().strip())
    usage = "\n".join(ln.strip() for ln in usage.splitlines() if ln.strip() and ln.strip() != "::")
    if label.startswith("%%"):  # magic_arguments writes every usage with one %
        usage = re.sub(r"^%(?!%)", "%%", usage)
    out += ["```text", usage, "```", ""]
    description = inspect.cleandoc(parser.description or doc or "")
    if description:
        # magic_arguments puts the whole docstring, argument listing included, into the
        # description; the table below lists the arguments, so keep the prose only.
        description = description.split("\npositional arguments:")[0].split("\noptions:")[0]
        description = description.split("\noptional arguments:")[0].strip()
        out += [description, ""]
    rows = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    if rows:
        out += ["| argument | value | default | meaning |", "| --- | --- | --- | --- |"]
        out += [_action_row(parser, a) for a in rows]
        out.append("")
    return "\n".join(out)


def render_traits(classes) -> str:
    out = []
    for cls in classes:
        try:
            traits = cls.class_traits(config=True)
        except Exception:  # pragma: no cover - not a traitlets class
            traits = {}
        traits = {k: v for k, v in traits.items() if k not in ("config", "parent", "log")}
        if not traits:
            continue
        out += [
            f"## Settings (`%config {cls.__name__}.NAME = VALUE`)",
            "",
            "| setting | type | default | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for name, trait in sorted(traits.items()):
            default = trait.default_value_repr() if hasattr(trait, "default_value_repr") else trait.default_value
            out.append(
                f"| {_code(cls.__name__ + '.' + name)} | {_cell(type(trait).__name__)} | "
                f"{_code(_cell(default))} | {_cell(trait.help or '')} |"
            )
        out.append("")
    return "\n".join(out)


def render_magics() -> str:
    entries, classes = magic_entries()
    return "\n".join([render_magic(label, func) for label, func in entries] + [render_traits(classes)])


# --------------------------------------------------------------------------- presets
def render_presets() -> str:
    from nbtrain.core import declared, losses, metrics, models, optim

    rows = [
        ("preprocessing (`preprocess=`, joined with `|`)", declared.KNOWN),
        ("impute strategies (`impute:NAME`)", declared.IMPUTE_STRATEGIES),
        ("models (`model=`)", models.KNOWN),
        ("activations (`mlp(..., activation=NAME)`)", tuple(models.ACTIVATIONS)),
        ("losses for classification (`loss=`)", losses.CLASSIFICATION_LOSSES),
        ("losses for regression (`loss=`)", losses.REGRESSION_LOSSES),
        ("optimizers (`optimizer=`)", tuple(optim.OPTIMIZERS)),
        ("schedulers (`scheduler=`)", optim.SCHEDULERS),
        ("classification metrics (`metrics=`)", metrics.CLASSIFICATION),
        ("regression metrics (`metrics=`)", metrics.REGRESSION),
    ]
    out = ["| kind | names |", "| --- | --- |"]
    out += [f"| {kind} | {', '.join(_code(n) for n in names)} |" for kind, names in rows]
    out += [
        "",
        "Default learning rate of each optimizer preset (used when neither `lr` nor the preset sets one):",
        "",
        "| optimizer | torch class | default lr |",
        "| --- | --- | --- |",
    ]
    out += [
        f"| `{name}` | `torch.optim.{optim.OPTIMIZERS[name].__name__}` | {optim.DEFAULT_LR[name]:g} |"
        for name in optim.OPTIMIZERS
    ]
    out += [
        "",
        "Defaults by task (inferred from the targets):",
        "",
        "| task | metrics while training | metrics of `evaluate` |",
        "| --- | --- | --- |",
    ]
    for task in ("classification", "regression"):
        out.append(
            f"| {task} | {', '.join(map(_code, metrics.DEFAULT_TRAINING[task]))} | "
            f"{', '.join(map(_code, metrics.DEFAULT_EVAL[task]))} |"
        )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- benchmarks
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((?!https?:|#)([^)]+)\)")


def readme_section(pattern: str = r"benchmark|overhead|speed", path: str | None = None) -> str | None:
    """The README section whose heading matches ``pattern``, headings shifted under the page title."""
    path = path or os.path.join(ROOT, "README.md")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    start = level = None
    in_fence = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else re.match(r"^(#{1,6})\s+(.*)", line)
        if m and start is None and re.search(pattern, m.group(2), re.I):
            start, level = i, len(m.group(1))
        elif m and start is not None and len(m.group(1)) <= level:
            end = i
            break
    else:
        end = len(lines)
    if start is None:
        return None
    body = []
    in_fence = False
    for line in lines[start + 1 : end]:
        if line.startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else re.match(r"^(#{1,6})(\s+.*)", line)
        if m:  # the section's subheadings go under the page's "## From the README"
            line = "#" * min(6, len(m.group(1)) - level + 2) + m.group(2)
        elif not in_fence:
            # README-relative links point outside the site: keep their text and show the path
            line = _LINK.sub(lambda k: f"{k.group(1)} (`{k.group(2)}`)", line)
        body.append(line)
    return "\n".join(body).strip() + "\n"


def render_benchmarks() -> str:
    section = readme_section()
    if section is None:
        log.info("README.md has no benchmark section yet")
        return (
            '!!! note "No numbers yet"\n    README.md has no benchmark section yet; '
            "run `make bench` (`benchmarks/overhead.py`) to measure.\n"
        )
    return section


# --------------------------------------------------------------------------- the hook
MARKERS = {
    "<!-- nbtrain:magics -->": render_magics,
    "<!-- nbtrain:presets -->": render_presets,
    "<!-- nbtrain:benchmarks -->": render_benchmarks,
}


def _block(marker: str) -> re.Pattern:
    """The marker, then (optionally) the committed rendering and its closing comment."""
    close = marker.replace("<!-- nbtrain:", "<!-- /nbtrain:")
    return re.compile(re.escape(marker) + r"(?:\n.*?" + re.escape(close) + r")?", re.S)


def fill(markdown: str, where: str = "", committed: bool = False) -> str:
    """Every generated block of ``markdown`` rendered afresh (``committed``: keep the markers around the
    rendering, as the repository's pages hold it; else the bare rendering, as the site shows it)."""
    for marker, render in MARKERS.items():
        if marker not in markdown:
            continue
        try:
            text = render()
        except Exception as exc:  # a warning, which --strict turns into a failed build
            log.warning("%s: could not render %s: %s: %s", where, marker, type(exc).__name__, exc)
            text = f'!!! warning "Not generated"\n    {type(exc).__name__}: {exc}\n'
        if committed:
            close = marker.replace("<!-- nbtrain:", "<!-- /nbtrain:")
            text = f"{marker}\n{text.rstrip()}\n{close}"
        markdown = _block(marker).sub(lambda _m, t=text: t, markdown)
    return markdown


def on_page_markdown(markdown: str, page, config, files, **kwargs):
    return fill(markdown, page.file.src_path)


#: pages whose generated blocks are committed (``--write`` renders them again)
COMMITTED = ("magics.md", "presets.md")


def write_pages(docs_dir: str | None = None) -> list:
    """Render the generated blocks of :data:`COMMITTED` pages into the files; returns those changed."""
    docs_dir = docs_dir or os.path.join(ROOT, "docs")
    changed = []
    for name in COMMITTED:
        path = os.path.join(docs_dir, name)
        with open(path, encoding="utf-8") as f:
            old = f.read()
        new = fill(old, name, committed=True)
        if new != old:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            changed.append(path)
    return changed


# --------------------------------------------------------------------------- navigation
# Pages other parts of the project write; until they exist the nav skips them (with a note in the log).
OPTIONAL_PAGES = ("promises.md", "distributed.md")


def on_config(config, **kwargs):
    """Fill the "Notebooks" section with every ``notebooks/*.ipynb`` and skip optional pages not written yet."""
    docs_dir = config["docs_dir"]
    nb_dir = os.path.join(docs_dir, "notebooks")
    notebooks = sorted(f for f in os.listdir(nb_dir) if f.endswith(".ipynb")) if os.path.isdir(nb_dir) else []
    nav = []
    for item in config["nav"] or []:
        if isinstance(item, dict) and "Notebooks" in item:
            nav.append({"Notebooks": [f"notebooks/{f}" for f in notebooks]})
            continue
        target = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(target, str) and target in OPTIONAL_PAGES and not os.path.exists(os.path.join(docs_dir, target)):
            log.info("nav: %s is not written yet; left out", target)
            continue
        nav.append(item)
    config["nav"] = nav
    return config


if __name__ == "__main__":  # python docs/hooks/reference.py --write
    import sys

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python docs/hooks/reference.py --write")
    for path in write_pages():
        print("rendered", path)
