"""Colours that read on any page: JupyterLab and Notebook 7 in their light and dark themes, and front
ends whose theme cannot be known (VS Code, Colab, an HTML export).

Two rules keep every text at 4.5 : 1 or more against what is behind it:

- text in HTML outputs takes the page's own colour (nothing sets a text colour on the page's
  background); a status colour is a *badge*, white text on a dark colour of its own
  (:func:`badge`: 5.1 : 1 to 6.1 : 1, whatever the page behind);
- a chart is an image with its own opaque white background (the SVG live chart, the PNG figures),
  so its dark text reads the same in every theme.

tests/browser/test_themes.py measures the rendered colours in JupyterLab's and Notebook 7's light and
dark themes.
"""

from __future__ import annotations

import html

#: white text on these: completed 5.1 : 1, stopped / hint 6.1 : 1, failed 5.6 : 1
BADGES = {"completed": "#2e7d32", "stopped": "#8a5300", "failed": "#c62828", "hint": "#8a5300"}
#: the text colour of every badge
ON_BADGE = "#ffffff"


def badge(text: str, kind: str, escape: bool = True) -> str:
    """``text`` as a small label, white on the ``kind``'s colour (see :data:`BADGES`)."""
    body = html.escape(text) if escape else text
    return (
        f'<span class="nbtrain-badge" style="background-color:{BADGES.get(kind, BADGES["failed"])};color:{ON_BADGE};'
        f'padding:0 4px;border-radius:3px">{body}</span>'
    )
