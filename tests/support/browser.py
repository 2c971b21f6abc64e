"""Headless Chromium for the browser tests (marker ``browser``; scripts/browser.sh installs it).

with chromium("my_test") as browser:   # browser-failures/my_test/ if the block fails
    browser.get("http://127.0.0.1:8000/admin/")
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "browser-failures"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@cache
def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            return f"{binary} is missing; run scripts/browser.sh (Debian chromium, chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed; run scripts/bootstrap.sh dev"
    return None


@contextmanager
def chromium(name: str) -> Iterator[Any]:
    """A headless Chromium driven by selenium; on failure, a screenshot and the page source
    are saved in browser-failures/<name>/ (or $DJANGO_CFG_SCREENSHOTS/<name>/) and their path
    is printed."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1600")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    except BaseException:
        folder = Path(os.environ.get("DJANGO_CFG_SCREENSHOTS", SCREENSHOTS)) / name
        folder.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(folder / "failure.png"))
        (folder / "failure.html").write_text(driver.page_source)
        print(f"browser failure at {driver.current_url}: screenshot {folder / 'failure.png'}")
        raise
    finally:
        driver.quit()
