"""The control tower's sign-in, sessions, CSRF and roles, through the app ``legato serve`` runs,
on both databases; the password hashing and cookie signing as properties."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import TEST_SECRET
from typer.testing import CliRunner
from web_helpers import PASSWORD, add_user, csrf_of, page_token, post_sign_in, sign_in, web_client

from legato.bootstrap import Runtime
from legato.cli import app as cli_app
from legato.cli.asgi import app_factory
from legato.config import get_settings
from legato.domain.errors import DuplicateKey, ValidationFailed
from legato.store import users as user_store
from legato.web.passwords import hash_password, verify_password
from legato.web.permissions import PERMISSIONS, ROLES, can
from legato.web.sessions import SESSION_COOKIE, Signer, SignInThrottle
from legato.web.users import (
    authenticate,
    change_password,
    change_role,
    create_user,
    ensure_demo_admin,
    set_active,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "control-tower.md"


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as c:
        yield c


def _set_cookie(r: object, name: str) -> str:
    headers = r.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{name}=")]
    assert found, headers
    return found[0]


# --- signing in -----------------------------------------------------------------------------


def test_a_visitor_is_sent_to_sign_in_and_comes_back_to_the_page_they_asked_for(
    web: TestClient, runtime: Runtime
) -> None:
    r = web.get("/orders?status=on_hold")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Forders%3Fstatus%3Don_hold"
    form = web.get(r.headers["location"])
    assert form.status_code == 200
    for control in ('<label for="username">', '<label for="password">', 'autocomplete="current-password"'):
        assert control in form.text
    assert 'name="next" value="/orders?status=on_hold"' in form.text

    add_user(runtime, "sales", "sam")
    r = post_sign_in(web, "Sam", PASSWORD, next_url="/orders?status=on_hold")  # names are case-insensitive
    assert (r.status_code, r.headers["location"]) == (303, "/orders?status=on_hold")
    cookie = _set_cookie(r, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie and "path=/" in cookie
    page = web.get("/orders?status=on_hold")
    assert page.status_code == 200
    assert 'sam <span class="muted">· Sales</span>' in page.text
    assert user_store.credentials(runtime.engine, "sam")[0].last_sign_in_at is not None  # type: ignore[index]


def test_an_htmx_request_or_a_form_without_a_session_comes_back_to_its_page(web: TestClient) -> None:
    r = web.get(
        "/orders", headers={"HX-Request": "true", "HX-Current-URL": "https://testserver/orders?q=abc"}
    )
    assert r.status_code == 401
    assert r.headers["HX-Redirect"] == "/login?next=%2Forders%3Fq%3Dabc"
    posted = web.post(
        "/orders/SO-000001/actions/hold", headers={"Referer": "https://testserver/orders/SO-000001"}
    )
    assert posted.headers["location"] == "/login?next=%2Forders%2FSO-000001"  # the page, not the POST


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "orders"])
def test_sign_in_never_sends_the_user_to_another_site(web: TestClient, runtime: Runtime, target: str) -> None:
    add_user(runtime, "viewer", "vera")
    r = post_sign_in(web, "vera", PASSWORD, next_url=target)
    assert (r.status_code, r.headers["location"]) == (303, "/")


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer_and_no_session(
    web: TestClient, runtime: Runtime
) -> None:
    add_user(runtime, "admin", "ada")
    wrong = post_sign_in(web, "ada", "not the password")
    unknown = post_sign_in(web, "nobody", "not the password")
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert "The username or password is not right." in r.text
        assert not any(h.startswith(SESSION_COOKIE) for h in r.headers.get_list("set-cookie"))
    assert 'value="ada"' in wrong.text  # what was typed stays in the form (the password does not)
    assert "not the password" not in wrong.text
    assert web.get("/orders").status_code == 303


def test_the_sign_in_form_refuses_a_post_without_its_own_csrf_token(
    web: TestClient, runtime: Runtime
) -> None:
    add_user(runtime, "admin", "ada")
    web.get("/login")
    r = web.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403
    assert "expired" in r.text
    assert web.get("/orders").status_code == 303


def test_failed_sign_ins_are_throttled_per_name_and_address(web: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "admin", "ada")
    add_user(runtime, "viewer", "vic")
    for _ in range(5):
        assert post_sign_in(web, "ada", "guess guess guess").status_code == 401
    blocked = post_sign_in(web, "ada", PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text
    assert post_sign_in(web, "vic", PASSWORD).status_code == 303  # another name is not held up


def test_the_throttle_forgets_failures_after_its_window() -> None:
    throttle = SignInThrottle(limit=2, window=60)
    for at in (0.0, 1.0):
        throttle.failed("ada", "10.0.0.1", now=at)
    assert throttle.wait("ada", "10.0.0.1", now=2.0) == pytest.approx(58.0)
    assert throttle.wait("ada", "10.0.0.2", now=2.0) == 0.0
    assert throttle.wait("ada", "10.0.0.1", now=60.5) == 0.0


# --- sessions ---------------------------------------------------------------------------------


def test_signing_out_ends_the_session_on_the_server_not_just_in_the_browser(
    web: TestClient, runtime: Runtime
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    stolen = web.cookies.get(SESSION_COOKIE)
    token = page_token(web)
    r = web.post("/logout", data={"csrf_token": token})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    web.cookies.set(SESSION_COOKIE, stolen or "", domain="testserver.local")  # a copy kept elsewhere
    assert web.get("/orders").status_code == 303


@pytest.mark.parametrize("change", ["password", "role", "disable"])
def test_a_new_password_role_or_a_disabled_account_ends_open_sessions(
    web: TestClient, runtime: Runtime, change: str
) -> None:
    sign_in(web, runtime, "sales", "sam")
    assert web.get("/orders").status_code == 200
    if change == "password":
        change_password(runtime.engine, "sam", "a brand new passphrase")
    elif change == "role":
        change_role(runtime.engine, "sam", "viewer")
    else:
        set_active(runtime.engine, "sam", False)
    assert web.get("/orders").status_code == 303
    again = post_sign_in(web, "sam", PASSWORD)
    assert again.status_code == (303 if change == "role" else 401)


def test_a_tampered_or_expired_cookie_is_refused(web: TestClient, runtime: Runtime) -> None:
    user = add_user(runtime, "admin", "ada")
    signer = Signer(runtime.settings.secret_key)
    expired, _ = signer.issue(user.id, user.session_version, now=1_000_000)
    other_key, _ = Signer("another secret key, long enough to be real").issue(user.id, user.session_version)
    good, _ = signer.issue(user.id, user.session_version)
    for cookie, status in ((expired, 303), (other_key, 303), (good[:-2] + "xx", 303), (good, 200)):
        web.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")
        assert web.get("/orders").status_code == status


@settings(max_examples=60, deadline=None)
@given(user_id=st.integers(1, 2**62), version=st.integers(1, 10_000), flip=st.integers(0, 10_000))
def test_any_change_to_a_signed_session_breaks_it(user_id: int, version: int, flip: int) -> None:
    signer = Signer("x" * 40)
    cookie, session = signer.issue(user_id, version)
    assert signer.session(cookie) == session
    i = flip % len(cookie)
    changed = cookie[:i] + ("A" if cookie[i] != "A" else "B") + cookie[i + 1 :]
    assert signer.session(changed) is None


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_password_hash_is_salted_and_matches_only_its_password(password: str, other: str) -> None:
    stored = hash_password(password)
    assert stored.startswith("scrypt$16384$8$1$")
    assert hash_password(password) != stored  # a fresh salt each time
    assert verify_password(password, stored)
    assert verify_password(other, stored) == (other == password)
    assert not verify_password(password, "scrypt$broken")


# --- CSRF and roles ----------------------------------------------------------------------------


def test_a_post_without_the_session_csrf_token_is_refused(web: TestClient, runtime: Runtime) -> None:
    user = sign_in(web, runtime, "viewer", "vera")
    token = page_token(web)
    for data, headers in (({}, {}), ({"csrf_token": "forged"}, {}), ({}, {"X-CSRF-Token": "forged"})):
        r = web.post(
            "/orders/views", data={"name": "mine", "query": "status=on_hold", **data}, headers=headers
        )
        assert r.status_code == 403, data
        assert "Form expired" in r.text
    assert user_store.list_views(runtime.engine, user.id) == []
    # htmx sends the token as a header; a form sends it as a field
    assert web.post(
        "/orders/views", data={"name": "a", "query": ""}, headers={"X-CSRF-Token": token}
    ).is_redirect
    assert web.post("/orders/views", data={"name": "b", "query": "", "csrf_token": token}).is_redirect


def test_every_page_carries_the_token_for_htmx_and_the_security_headers(
    web: TestClient, runtime: Runtime
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    r = web.get("/orders")
    token = csrf_of(r.text)
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert '<a class="skip-link" href="#main">' in r.text and '<main id="main"' in r.text
    assert not re.search(r"<script>(?!\s*</script>)", r.text), "no inline script (the CSP forbids it)"


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_and_may_do_exactly_what_the_permission_map_says(
    web: TestClient, runtime: Runtime, role: str
) -> None:
    sign_in(web, runtime, role, f"u-{role}")
    page = web.get("/orders")
    assert page.status_code == 200
    assert ('id="export-csv"' in page.text) == can(role, "orders:export")
    export = web.get("/orders/export.csv")
    assert export.status_code == (200 if can(role, "orders:export") else 403)
    if export.status_code == 403:
        assert "needs the orders:export permission" in export.text


def test_the_permission_map_names_only_known_permissions_and_admin_has_them_all() -> None:
    assert ROLES["admin"] == frozenset(PERMISSIONS)
    for granted in ROLES.values():
        assert granted <= set(PERMISSIONS) and {"dashboard:view", "orders:view"} <= granted
    assert not any(p.endswith((":approve", ":hold", ":cancel", ":void", ":create")) for p in ROLES["viewer"])
    with pytest.raises(KeyError):
        can("admin", "orders:teleport")


# --- users ------------------------------------------------------------------------------------


def test_users_are_checked_when_created(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as bad:
        create_user(runtime.engine, "Not OK!", "wizard", PASSWORD)
    assert [(i.path, i.code) for i in bad.value.issues] == [("username", "invalid"), ("role", "invalid_role")]
    with pytest.raises(ValidationFailed) as weak:
        create_user(runtime.engine, "ok", "viewer", "short")
    assert weak.value.issues[0].path == "password"
    create_user(runtime.engine, "Ok", "viewer", PASSWORD)
    with pytest.raises(DuplicateKey):
        create_user(runtime.engine, "ok", "admin", PASSWORD)
    assert authenticate(runtime.engine, "OK", PASSWORD) is not None


def test_the_demo_admin_gets_a_fresh_password_each_time(runtime: Runtime) -> None:
    name, first = ensure_demo_admin(runtime.engine)
    assert authenticate(runtime.engine, name, first) is not None
    change_role(runtime.engine, name, "viewer")
    _, second = ensure_demo_admin(runtime.engine)
    assert first != second
    assert authenticate(runtime.engine, name, first) is None
    found = authenticate(runtime.engine, name, second)
    assert found is not None and found.role == "admin"


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`legato` in-process on the test database (settings are read once, so read them again)."""
    monkeypatch.setenv("LEGATO_DATABASE_URL", db_url)
    monkeypatch.setenv("LEGATO_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _documented(prefix: str) -> str:
    """The command line of the docs' example that starts with ``prefix``."""
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if prefix in line:
            return line[line.index(prefix) :]
    raise AssertionError(f"no {prefix!r} in {DOCS}")


def test_the_documented_legato_user_create_makes_the_first_admin_who_can_sign_in(
    cli_env: None, runtime: Runtime, web: TestClient
) -> None:
    runner = CliRunner()
    args = shlex.split(_documented("legato user create"))[1:]  # the docs' own command line
    made = runner.invoke(cli_app, args, input=f"{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    assert "user alice is admin" in made.output
    assert post_sign_in(web, "alice", PASSWORD).status_code == 303
    again = runner.invoke(cli_app, ["user", "create", "Alice", "--password-stdin"], input=f"{PASSWORD}\n")
    assert again.exit_code == 1 and "already a user 'alice'" in again.output
    bad = runner.invoke(
        cli_app, ["user", "create", "x y", "--role", "boss", "--password-stdin"], input="pw\n"
    )
    assert bad.exit_code == 2
    assert "username:" in bad.output and "role: choose one of admin, sales" in bad.output
    listed = runner.invoke(cli_app, ["user", "list"])
    assert "alice" in listed.output and "admin" in listed.output
    short = runner.invoke(cli_app, ["user", "password", "alice", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "use at least 10 characters" in short.output


@pytest.mark.slow  # loads the whole demo data set
def test_legato_demo_prints_the_demo_admins_sign_in_which_works(
    cli_env: None, runtime: Runtime, web: TestClient
) -> None:
    loaded = CliRunner().invoke(cli_app, ["demo"])
    assert loaded.exit_code == 0, loaded.output
    found = re.search(r"control tower: http://\S+/ user (\S+) password (\S+) \(admin\)", loaded.output)
    assert found, loaded.output
    assert post_sign_in(web, found.group(1), found.group(2)).status_code == 303
    assert "SO-000500" in web.get("/orders").text


def test_the_documented_permission_table_is_the_permission_map() -> None:
    columns: list[str] = []
    documented: dict[str, set[str]] = {role: set() for role in ROLES}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "permission":
            columns = cells[1:]
        elif columns and cells[0] in PERMISSIONS:
            for role, cell in zip(columns, cells[1:], strict=True):
                if cell == "yes":
                    documented[role].add(cells[0])
    assert columns == list(ROLES)
    assert {role: frozenset(p) for role, p in documented.items()} == ROLES


# --- the frame ------------------------------------------------------------------------------


def test_unknown_pages_get_an_html_404_while_the_api_keeps_problem_json(
    web: TestClient, runtime: Runtime
) -> None:
    sign_in(web, runtime, "viewer", "vera")
    page = web.get("/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text and "vera" in page.text
    api = web.get("/api/v1/no-such", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_legato_serve_runs_the_api_and_the_control_tower_on_one_app(cli_env: None, runtime: Runtime) -> None:
    root = logging.getLogger()
    kept = (root.handlers[:], root.level, logging.getLogger("uvicorn.access").disabled)
    try:
        app = app_factory()  # what `legato serve` hands to uvicorn
    finally:  # it configures logging for the process: give the test run its own back
        root.handlers[:], root.level = kept[0], kept[1]
        logging.getLogger("uvicorn.access").disabled = kept[2]
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)  # not `with`: no workers start
    assert c.get("/login").status_code == 200
    assert c.get("/api/v1/orders").status_code == 401
    assert c.get("/orders").headers["location"] == "/login?next=%2Forders"
    app.state.runtime.close()


def test_the_static_files_and_the_home_page_are_served(web: TestClient) -> None:
    for path in ("/static/legato.css", "/static/legato.js", "/static/vendor/htmx.min.js"):
        assert web.get(path).status_code == 200, path
    assert web.get("/").status_code == 303
