"""The admin's "Databases" page in headless Chromium (issue 21, point 9), on the example project
with a streaming replica (the shared 5433 standby of its PostgreSQL ``default``, with a lag
bound so that the monitor measures lag): what the page shows, who may see it, and the screenshot
of docs/admin.md (docs/images/admin-databases.png, written anew with DJANGO_CFG_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Admin, chromium, create_admin, served_project  # noqa: F401 (the fixture server)
from tests.support.example_project import ExampleProject
from tests.support.replica_tools import wait_for_replica
from tests.support.services import POSTGRES_URL, REPLICA_URL

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.replica]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "admin-databases.png"
PAGE = "/admin/django_cfg/database/"
WHO_SEES_IT = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
User = get_user_model()
visitor = User.objects.create_user("visitor", "visitor@example.org")
clerk = User.objects.create_user("clerk", "clerk@example.org", is_staff=True)
viewer = User.objects.create_user("viewer", "viewer@example.org", is_staff=True)
viewer.user_permissions.add(Permission.objects.get(codename="view_database"))
for user in (visitor, clerk, viewer):
    client = Client(SERVER_NAME="localhost")  # a host DEBUG's ALLOWED_HOSTS accepts
    client.force_login(user)
    response = client.get("/admin/django_cfg/database/")
    print(user.username, response.status_code, response.get("Location", ""))
"""


@pytest.fixture
def project(tmp_path: Path, new_postgres_database: Callable[[], str]) -> ExampleProject:
    urls = {alias: new_postgres_database() for alias in ("default", "blog_db", "shop_db")}
    server_of = POSTGRES_URL.split("@")[1].split("/")[0]
    urls["replica"] = urls["default"].replace(server_of, REPLICA_URL.split("@")[1].split("/")[0])
    assert urls["replica"] != urls["default"]
    project = ExampleProject.copy(tmp_path, urls)
    config = project.root / "api" / "config.py"
    text = config.read_text()
    bounded = (
        'DatabaseConfig.from_url(url=env.database.url_replica, replica_of="default", '
        "max_lag_seconds=30)"
    )
    config.write_text(
        text.replace("DatabaseConfig.from_url(url=env.database.url_replica)", bounded)
    )
    assert bounded in config.read_text()
    wait_for_replica()  # the new databases exist on the standby
    project.manage("migrate_all", "--noinput")
    create_admin(project)
    return project


@pytest.fixture
def admin_browser(server: str) -> Iterator[Admin]:
    with chromium("databases_page") as driver:
        admin = Admin(driver, server)
        admin.log_in()
        yield admin


def cells(admin: Admin, alias: str) -> list[str]:
    from selenium.webdriver.common.by import By

    row = admin.css(f'tr.database[data-alias="{alias}"]')
    return [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]


def test_the_databases_page_shows_each_alias_with_its_role_breaker_and_lag(
    admin_browser: Admin,
) -> None:
    admin = admin_browser
    admin.open("/admin/")
    assert "Databases" in admin.text()  # in the admin index, under the package's app
    admin.css(f'a[href="{PAGE}"]').click()
    admin.loaded()
    admin.open("/admin/")  # its recent actions read default's data: the monitor probes the lag
    admin.open(PAGE)
    assert admin.driver.title.startswith("Databases")
    default, replica = cells(admin, "default"), cells(admin, "replica")
    assert default[:2] == ["default", "primary"]
    assert default[3:5] == ["reachable", "closed"]
    assert replica[:2] == ["replica", "replica of default"]
    assert replica[2].startswith("postgresql 127.0.0.1:5433/django_cfg_scratch_")
    assert replica[3:5] == ["reachable", "closed"]
    assert re.fullmatch(r"\d+\.\d\d s, \d+ bytes", replica[5]), replica
    assert cells(admin, "blog_db")[1:2] == ["primary"]
    counters = admin.css("#counters").text
    assert "primary:read_your_writes" in counters
    assert "No tenants configured." in admin.css("#tenants").text
    assert "auth, sessions" in admin.text()
    if os.environ.get("DJANGO_CFG_SCREENSHOTS"):  # =1 writes docs/admin.md's screenshot anew
        admin.driver.set_window_size(1280, 900)
        admin.driver.save_screenshot(str(SCREENSHOT))


def test_an_anonymous_visitor_is_sent_to_the_admin_login(server: str) -> None:
    with chromium("databases_page_anonymous") as driver:
        admin = Admin(driver, server)
        admin.open(PAGE)
        assert driver.current_url == f"{server}/admin/login/?next={PAGE}"


def test_only_staff_with_the_view_permission_see_the_page(project: ExampleProject) -> None:
    seen: dict[str, Any] = {}
    for line in project.manage("shell", "-c", WHO_SEES_IT).splitlines():
        name, *answer = line.split(" ")
        if name in {"visitor", "clerk", "viewer"}:
            seen[name] = answer
    assert seen == {
        "visitor": ["302", f"/admin/login/?next={PAGE}"],  # not staff: the admin's login
        "clerk": ["403", ""],  # staff without django_cfg.view_database
        "viewer": ["200", ""],
    }
