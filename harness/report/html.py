"""``index.html``: the report as one self-contained page (inline SVG and CSS, nothing loaded).

Rendered from the package's Jinja2 template ``templates/index.html.j2`` with autoescaping on;
only the SVG made by :mod:`harness.report.plots` is inserted as markup.
"""

from __future__ import annotations

import math
from typing import Any

import jinja2
from markupsafe import Markup, escape

from harness.report.data import Value


def _num(value: Any, spec: str, prefix: str = "") -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{prefix}{format(value, spec)}" if math.isfinite(value) else "–"


def status(word: str, predicted: bool = False) -> Markup:
    """A status in words and a mark, so it reads without colour: ``✓ pass``, ``✗ FAIL``."""
    word = str(word)
    tail = " (predicted)" if predicted and "predicted" not in word else ""
    if word.startswith("fail"):
        return Markup('<span class="fail">✗ FAIL{}{}</span>').format(word[4:], tail)
    if word.startswith("pass"):
        return Markup('<span class="pass">✓ pass{}{}</span>').format(word[4:], tail)
    return Markup('<span class="nodata">{}</span>').format(word.replace("-", " "))


def value(v: Value, with_status: bool = False) -> Markup:
    """A measured value in bold; a predicted one in italics, its interval and distance below;
    with ``with_status`` its pass/fail word after the value."""
    word = Markup(" ") + status(v.status) if with_status else Markup("")
    if v.kind == "measured":
        return Markup("<strong>{:.3f}</strong> measured{}").format(v.efficiency, word)
    return Markup('<span class="predicted">{:.3f} predicted</span>{}<br>'
                  '<span class="small">{}</span>').format(v.efficiency, word, v.detail())


def provenance(prov: dict[str, Any]) -> Markup:
    """A definition list of where a group's numbers come from."""
    labels = (("records", "run records"), ("host", "hosts"), ("cpu", "CPU"),
              ("mpi", "MPI library"), ("commit", "commit"), ("python", "Python"),
              ("numba", "Numba"), ("slurm_job", "Slurm job ids"), ("csv", "CSV files"))
    rows = []
    for key, name in labels:
        item = prov.get(key)
        if item in (None, "", [], 0):
            continue
        text = ", ".join(map(str, item)) if isinstance(item, (list, tuple)) else str(item)
        rows.append(Markup("<dt>{}</dt><dd>{}</dd>").format(name, text))
    if prov.get("first"):
        when = prov["first"] if prov["first"] == prov.get("last") else \
            f"{prov['first']} to {prov.get('last')}"
        rows.append(Markup("<dt>dates</dt><dd>{}</dd>").format(when))
    if not rows:
        return Markup('<p class="small">No provenance recorded for these inputs.</p>')
    return Markup('<dl class="prov">') + Markup("").join(rows) + Markup("</dl>")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(num=_num, status=status, value=value, provenance=provenance,
                       escape=escape)
    return env


def render(report: Any) -> str:
    """The page for a :class:`harness.report.build.Report`."""
    return environment().get_template("index.html.j2").render(report=report)
