"""Reports for capacity planners: one self-contained HTML page, a Markdown summary and CSVs.

:mod:`~harness.report.build` reads and lays out (:mod:`.sources`, :mod:`.data`,
:mod:`.sections`), :mod:`.plots` draws (matplotlib, SVG), :mod:`.html` and :mod:`.markdown`
render, and :func:`~harness.report.build.write` writes the directory atomically.
"""
