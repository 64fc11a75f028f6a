"""The names of the JSON documents the harness writes besides run records.

``harness analyze --format json`` (and a sweep's ``analysis.json``) writes one document whose
``schema`` is :data:`ANALYSIS_SCHEMA`; its format is in :mod:`harness.render`. The reader of
inputs (:mod:`harness.inputs`) recognises any version of it by :data:`ANALYSIS_FAMILY` and
skips it, since an analysis is not a run; so are a prediction (``harness predict``, the
report's ``phase-prediction.json``), a probe record and a sweep's prepared KPI rows
(``kpi.json``) (:data:`NOT_RUNS`). Run records have
their own module (:mod:`harness.records`, :mod:`harness.record_schema`).
"""

from __future__ import annotations

#: the prefix every version of the analysis document's ``schema`` starts with
ANALYSIS_FAMILY = "harness.analysis/"
#: the version of the analysis document this harness writes
ANALYSIS_SCHEMA = f"{ANALYSIS_FAMILY}1"
#: ``harness predict --format json`` (and the report's ``phase-prediction.json``)
PREDICT_FAMILY = "harness.predict/"
#: ``harness probe``'s record (:mod:`harness.probe.record`)
PROBE_FAMILY = "harness.probe/"
#: a sweep's prepared KPI rows (``kpi.json``, :mod:`harness.store.prepared`)
KPI_FAMILY = "harness.kpi/"
KPI_SCHEMA = f"{KPI_FAMILY}1"
#: the harness's own documents that are not runs: a reader of runs skips them silently
NOT_RUNS = (ANALYSIS_FAMILY, PREDICT_FAMILY, PROBE_FAMILY, KPI_FAMILY)
