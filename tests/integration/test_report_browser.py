"""The HTML report rendered by a real browser: headless Chromium takes a screenshot of the page.

Needs Debian's ``chromium`` (``.ci/chromium.sh`` installs it); without it the test skips and
says why, except under ``HARNESS_REQUIRE_SERVICES=1`` (CI), where a missing browser fails.
"""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image
from reportcases import write_cases

from harness.cli import main

pytestmark = pytest.mark.slow
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    why = f"no headless browser ({', '.join(BROWSERS)}) on PATH; install one with .ci/chromium.sh"
    if os.environ.get("HARNESS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"browser required (HARNESS_REQUIRE_SERVICES=1): {why}")
    pytest.skip(why)


def test_chromium_renders_the_report(tmp_path):
    browser = _browser()
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as info:
        main(["report", str(write_cases(tmp_path)), "-o", str(out)])
    assert info.value.code == 0
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000",
         f"--screenshot={shot}", (out / "index.html").as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    ink = (pixels.mean(axis=2) < 0.6).mean()  # share of dark pixels: text, lines, markers
    assert 0.01 < ink < 0.5, f"page looks blank or solid: {ink:.3%} dark pixels"
    # the plots are drawn: the Okabe-Ito blue of the measured points shows somewhere
    blue = np.all(np.abs(pixels - np.array([0x00, 0x72, 0xB2]) / 255) < 0.08, axis=2)
    assert blue.sum() > 20, "no measured points (blue markers) visible on the first screen"


def test_chromium_prints_the_report(tmp_path):
    browser = _browser()
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as info:
        main(["report", str(write_cases(tmp_path)), "-o", str(out), "--predict"])
    assert info.value.code == 0
    pdf = tmp_path / "report.pdf"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}",
         (out / "index.html").as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and pdf.is_file(), done.stderr[-2000:]
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF")
    # first screen, then one page per workload section and the predicted phase breakdown
    # (print CSS breaks before each)
    assert len(re.findall(rb"/Type\s*/Page\b", body)) >= 4
