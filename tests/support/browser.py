"""Headless Chromium for the browser tests (marker ``browser``; scripts/browser.sh installs it),
and the admin of a project served by ``manage.py runserver`` to drive in it.

create_admin(project)                           # manage.py createsuperuser: admin, ADMIN_PASSWORD
with runserver(project, tmp_path / "runserver.log") as server, chromium("my_test") as driver:
    admin = Admin(driver, server)               # browser-failures/my_test/ if the block fails
    admin.log_in()
    admin.open("/admin/blog/post/")
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.private_postgres import free_port
from tests.support.spec_page import run_python, user_environment
from tests.support.subprocess_project import SubprocessProject

SCREENSHOTS = Path(__file__).resolve().parents[2] / "browser-failures"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ADMIN_PASSWORD = "browser-test-password"


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


def create_admin(project: SubprocessProject) -> None:
    """``manage.py createsuperuser --noinput`` as docs/admin.md says: the superuser ``admin``
    with ADMIN_PASSWORD (from DJANGO_SUPERUSER_PASSWORD)."""
    run_python(
        *project.MANAGE,
        *("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.org"),
        cwd=project.cwd,
        env={**project.env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
    )


@pytest.fixture(name="server")
def served_project(project: SubprocessProject, tmp_path: Path) -> Iterator[str]:
    """The fixture ``server``: the address of the test module's ``project`` fixture served by
    ``runserver``. A test module imports it (``from tests.support.browser import
    served_project``) and asks for ``server``."""
    with runserver(project, tmp_path / "runserver.log") as address:
        yield address


@contextmanager
def runserver(project: SubprocessProject, log: Path, seconds: float = 60) -> Iterator[str]:
    """``manage.py runserver --noreload`` of ``project`` on a free port, its output in ``log``:
    its address once it listens (``seconds`` at most); the server stops after the block."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, *project.MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=project.cwd,
            env=user_environment(project.env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + seconds
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            assert process.poll() is None, log.read_text()
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)


class Admin:
    """The admin in the browser: open a page, read it, submit, pick in an autocomplete."""

    def __init__(self, driver: Any, server: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.server = driver, server
        self.wait = WebDriverWait(driver, 15, poll_frequency=0.05)

    def log_in(self) -> None:
        """Log in as ``admin`` (``create_admin``) on the admin's login page."""
        self.open("/admin/login/?next=/admin/")
        self.css("#id_username").send_keys("admin")
        self.css("#id_password").send_keys(ADMIN_PASSWORD)
        self.submit("input[type=submit]")

    def open(self, path: str) -> None:
        self.driver.get(self.server + path)
        self.loaded()

    def loaded(self) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait.until(ec.presence_of_element_located((By.ID, "footer")))

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def select(self, selector: str) -> Any:
        from selenium.webdriver.support.ui import Select

        return Select(self.css(selector))

    def submit(self, selector: str) -> None:
        button = self.css(selector)
        self.driver.execute_script("arguments[0].scrollIntoView();", button)
        button.click()
        self.wait.until(lambda _driver: _detached(button))
        self.loaded()

    def autocomplete(self, field: str, term: str, choice: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.css(f".field-{field} .select2-selection").click()
        search = self.wait.until(
            ec.visibility_of_element_located(
                (By.CSS_SELECTOR, ".select2-container--open .select2-search__field")
            )
        )
        search.send_keys(term)
        option = (
            By.XPATH,
            f"//li[contains(@class, 'select2-results__option') and normalize-space()='{choice}']",
        )
        # Each key typed sends its own search: a later answer may replace the list between
        # finding the option and clicking it (StaleElementReferenceException); find it again.
        self.wait.until(lambda driver: _clicked(driver, option))


def _clicked(driver: Any, locator: tuple[str, str]) -> bool:
    """Whether the element at ``locator`` was found displayed and clicked; False (try again)
    when it is not there yet or was replaced on the way."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        element = driver.find_element(*locator)
        if not (element.is_displayed() and element.is_enabled()):
            return False
        element.click()
    except (NoSuchElementException, StaleElementReferenceException):
        return False
    return True


def _detached(element: Any) -> bool:
    """Whether ``element`` left the document (the form's page was replaced): selenium's
    ``staleness_of``, plus the form in which chromedriver sometimes reports the same thing, a
    plain WebDriverException "Node with given id does not belong to the document"."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error.msg):
            return True
        raise
    return False
