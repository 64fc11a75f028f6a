"""Suite-wide hooks.

Integration tests (markers ``slurm``, ``postgres``) skip with their reason when the service is
absent on a developer's machine. Where the services must be there — ``.ci/run`` sets
``HARNESS_REQUIRE_SERVICES=1`` after starting them — such a skip is turned into a failure, so a
service that did not come up cannot pass CI silently.
"""

import os

import pytest

SERVICE_MARKERS = ("slurm", "postgres")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and os.environ.get("HARNESS_REQUIRE_SERVICES") == "1"
            and any(item.get_closest_marker(m) for m in SERVICE_MARKERS)):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"service required (HARNESS_REQUIRE_SERVICES=1) but skipped: {reason}"
