"""Tampering against the running portal: a hostile browser posts straight to Dash's callback
endpoint and requests the CSV export URLs with another tenant's ids, a peer's lines and foreign
msisdns, logged in as every profile and logged out. None of it may return foreign data.

"Scope is re-derived on the server from the session on every request. Nothing the browser sends
(a cost centre id, an msisdn, a tenant id in a callback or a URL) can widen it: out-of-scope input
gets an empty result or 403, never data."

The callbacks come from the server's own `/_dash-dependencies` and the exports from
`selfcare.web.exports.EXPORTS`, so a page or report added later is tampered with too. What counts as
foreign is computed with pandas from the raw export files (tests/e2e/tamper_support.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import dash
import pytest
import requests
from tamper_support import (
    Detector,
    csv_pairs,
    fence_for,
    field_leaks,
    page_of,
    read_estate,
    server_callbacks,
    walk,
)
from tamper_support import bodies as callback_bodies

from selfcare.services import tokens as token_service

pytestmark = pytest.mark.slow

PROFILES = ["admin", "finance", "manager", "end_user", "analyst", "admin2"]
UPDATE = "/_dash-update-component"
NOT_YOUR_PAGE = "This page is not part of your profile."
TIMEOUT = 60


# --- fixtures -----------------------------------------------------------------------------------


def sign_in(base: str, person) -> requests.Session:
    s = requests.Session()
    resp = s.post(base + "/login", data={"email": person.email, "password": person.password},
                  allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code in (302, 303), (person.email, resp.status_code)
    return s


@pytest.fixture(scope="module")
def raw_estate(raw):
    return read_estate(raw)


@pytest.fixture(scope="module")
def fences(raw_estate, people):
    return {p: fence_for(raw_estate, p, people[p]) for p in PROFILES}


@pytest.fixture(scope="module")
def periods(raw_estate) -> tuple[str, str]:
    return raw_estate.periods[0], raw_estate.periods[-1]


@pytest.fixture(scope="module")
def callbacks(server, people):
    """Every server-side callback, as the server lists it to a signed-in admin."""
    s = sign_in(server, people["admin"])
    resp = s.get(server + "/_dash-dependencies", timeout=TIMEOUT)
    assert resp.status_code == 200
    found = server_callbacks(resp.json())
    assert len(found) >= 10, "the portal lists suspiciously few callbacks"
    return found


@pytest.fixture(scope="module")
def pages(flask_app) -> dict[str, tuple[str, ...]]:
    """Page slug -> roles, from the registry the app builds (the same page modules)."""
    # A page reached by a path template (/lines/<msisdn>) is keyed by its module's name, which
    # its component ids start with ("line-header"); its path is the template with a value.
    for p in dash.page_registry.values():
        if p.get("path_template"):
            slug = p["module"].rsplit(".", 1)[-1].replace("_", "-")
            TEMPLATE_PATHS[slug] = re.sub(r"<[^>]+>", "1", p["path_template"])
    return {
        (p["module"].rsplit(".", 1)[-1].replace("_", "-") if p.get("path_template")
         else p["path"].strip("/") or "index"): tuple(p.get("roles") or ())
        for p in dash.page_registry.values()
    }


@pytest.fixture(scope="module")
def exports(flask_app):
    from selfcare.web.exports import EXPORTS  # filled by the page modules create_app imported

    assert EXPORTS, "no export is registered"
    return dict(EXPORTS)


@pytest.fixture(scope="module")
def victims(portal, people):
    """A live API token of each tenant's admin: the other profiles try to revoke it by id."""
    db = portal["SELFCARE_DB"]
    made = {}
    for owner in ("admin", "admin2"):
        token_id, _secret = token_service.create_token(db, people[owner].email, "tamper victim")
        made[owner] = token_id
    yield made
    for owner, token_id in made.items():
        token_service.revoke_token(db, people[owner].email, token_id)


def victim_for(profile: str) -> str:
    return "admin" if profile == "admin2" else "admin2"


def token_alive(portal, people, owner: str, token_id: int) -> bool:
    rows = token_service.list_tokens(portal["SELFCARE_DB"], people[owner].email)
    return any(r["id"] == token_id and r["revoked_at"] is None for r in rows)


TEMPLATE_PATHS: dict[str, str] = {}


def path_of(slug: str) -> str:
    return TEMPLATE_PATHS.get(slug, "/" + slug)


def _paths(pages) -> list[str]:
    return [path_of(slug) for slug in sorted(pages)]


# --- logged out ---------------------------------------------------------------------------------


def test_logged_out_gets_401_on_every_callback_export_and_dash_route(
    server, callbacks, exports, periods, pages
):
    anon = requests.Session()
    statuses: Counter = Counter()
    wrong = []
    for cb in callbacks:
        for body in callback_bodies(cb, "27000000000", periods, "/overview", 1):
            resp = anon.post(server + UPDATE, json=body, timeout=TIMEOUT)
            statuses[resp.status_code] += 1
            if resp.status_code != 401 or set(resp.json()) != {"error"}:
                wrong.append((cb.label, resp.status_code, resp.text[:200]))
    for name in exports:
        query = urlencode({"from": periods[0], "to": periods[1]})
        resp = anon.get(f"{server}/export/{name}.csv?{query}", timeout=TIMEOUT)
        statuses[resp.status_code] += 1
        if resp.status_code != 401:
            wrong.append((name, resp.status_code, resp.text[:200]))
    for method in ("GET", "POST"):
        for path in ("/_dash-layout", "/_dash-dependencies"):
            resp = anon.request(method, server + path, timeout=TIMEOUT)
            statuses[resp.status_code] += 1
            if resp.status_code != 401:
                wrong.append((f"{method} {path}", resp.status_code, resp.text[:200]))
    assert wrong == []
    assert statuses[401] >= len(callbacks) + len(exports)


# --- signed in: callbacks -----------------------------------------------------------------------


@dataclass
class Outcome:
    """What the posts of one profile with one set of values brought back."""

    statuses: Counter = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)  # foreign data in a response
    refusals: list[str] = field(default_factory=list)  # wrong status for a foreign page
    errors: list[str] = field(default_factory=list)  # 5xx and other unexpected statuses
    rows: int = 0
    own_seen: set[str] = field(default_factory=set)


def _post_all(s, server, fence, callbacks, pages, periods, values, token_id) -> Outcome:
    """Post every callback with every value and judge each response."""
    detect, mine = Detector(fence.markers), Detector(fence.own_markers)
    foreign_paths = {path_of(slug) for slug, roles in pages.items() if fence.role not in roles}
    out = Outcome()
    for cb in callbacks:
        slug = page_of(cb.prefix, pages)
        allowed = slug is None or fence.role in pages[slug]
        # the page router takes a path: try every page, each with ?msisdn=<value>
        router = "_pages_location" in json.dumps(cb.inputs)
        paths = _paths(pages) if router else ["/overview"]
        for _label, v in values:
            for path in paths:
                for body in callback_bodies(cb, v, periods, path, token_id):
                    resp = s.post(server + UPDATE, json=body, timeout=TIMEOUT)
                    out.statuses[resp.status_code] += 1
                    where = f"{fence.profile} {cb.label} {v!r} {path}: {resp.status_code}"
                    if not allowed:
                        if resp.status_code != 403:
                            out.refusals.append(f"{where} (not this profile's page: must be 403)")
                        continue
                    if resp.status_code not in (200, 204, 400, 403):
                        out.errors.append(f"{where} {resp.text[:120]}")
                    if resp.status_code != 200:
                        continue
                    payload = resp.json()
                    text = json.dumps(payload, ensure_ascii=False)
                    hits = detect.hits(text, sent=[v])
                    fields = field_leaks(fence, walk(payload))
                    if hits or fields:
                        out.leaks.append(f"{where} markers={sorted(hits.items())[:4]} "
                                         f"fields={fields[:4]}")
                    renders = "_pages_content" in json.dumps(cb.outputs)
                    if (router and renders and path in foreign_paths
                            and NOT_YOUR_PAGE not in text):
                        out.leaks.append(f"{where} rendered a page outside the profile")
                    out.own_seen |= set(mine.hits(text, sent=[v]))
                    out.rows += sum(len(x) for k, x in walk(payload)
                                    if k == "rowData" and isinstance(x, list))
    return out


@pytest.fixture(scope="module")
def tampered(server, people, fences, callbacks, pages, periods, victims):
    """profile -> Outcome of posting every callback with every foreign value (run once)."""
    done: dict[str, Outcome] = {}

    def run(profile: str) -> Outcome:
        if profile not in done:
            fence = fences[profile]
            s = sign_in(server, people[profile])
            done[profile] = _post_all(s, server, fence, callbacks, pages, periods, fence.tamper,
                                      victims[victim_for(profile)])
        return done[profile]

    return run


@pytest.mark.parametrize("profile", PROFILES)
def test_tampered_callbacks_never_return_foreign_data(profile, tampered, people, portal, victims):
    out = tampered(profile)
    print(f"{profile}: callback posts by status {dict(out.statuses)}")  # shown with -s / -rP
    owner = victim_for(profile)
    assert out.leaks == [], "\n".join(out.leaks[:30])
    assert out.refusals == [], "\n".join(out.refusals[:30])
    assert token_alive(portal, people, owner, victims[owner]), "another user's token was revoked"
    assert out.statuses[200] > 0


@pytest.mark.parametrize("profile", PROFILES)
def test_tampered_callbacks_fail_cleanly(profile, tampered):
    """Hostile input gets an answer (200 with an empty or error state, 204, 400, 403), never a
    server error."""
    out = tampered(profile)
    assert out.errors == [], "\n".join(out.errors[:30])


@pytest.mark.parametrize("profile", PROFILES)
def test_honest_callbacks_return_in_scope_data_only(
    profile, server, people, fences, callbacks, pages, periods, victims
):
    """The control: the same bodies with the viewer's own ids answer with the viewer's data,
    which shows the requests are well formed and the detector sees data when there is some."""
    fence = fences[profile]
    s = sign_in(server, people[profile])
    out = _post_all(s, server, fence, callbacks, pages, periods, fence.control or [("none", "")],
                    victims[victim_for(profile)])
    assert out.leaks == [], "\n".join(out.leaks[:30])
    assert out.refusals == [], "\n".join(out.refusals[:30])
    assert out.rows > 0, "no callback returned any rows: the control proves nothing"
    if not fence.aggregate_only:
        assert out.own_seen, "the viewer's own lines and names never showed: the detector is blind"


def test_revoking_another_users_token_by_id_is_refused(
    server, people, callbacks, periods, victims, portal
):
    cb = next(c for c in callbacks if c.output.startswith("..api-tokens-table.children"))
    for profile in PROFILES:
        owner = victim_for(profile)
        s = sign_in(server, people[profile])
        for body in callback_bodies(cb, "x", periods, "/api-tokens", victims[owner]):
            resp = s.post(server + UPDATE, json=body, timeout=TIMEOUT)
            assert resp.status_code in (200, 204, 403), (profile, resp.status_code)
        assert token_alive(portal, people, owner, victims[owner]), profile


# --- signed in: layout --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_layout_and_dependencies_hold_no_foreign_data(profile, server, people, fences):
    fence = fences[profile]
    s = sign_in(server, people[profile])
    detect = Detector(fence.markers)
    for path in ("/_dash-layout", "/_dash-dependencies"):
        resp = s.get(server + path, timeout=TIMEOUT)
        assert resp.status_code == 200, (path, resp.status_code)
        text = json.dumps(resp.json(), ensure_ascii=False)
        assert detect.hits(text) == {}, path


# --- signed in: exports -------------------------------------------------------------------------


def _export_requests(export, fence, periods):
    """(label, value, query, expected status when allowed) for one export and one profile."""
    base = {"from": periods[0], "to": periods[1]} if export.periods else {}
    found = []
    for label, v in fence.tamper:
        applied = {}
        for key, flt in export.filters.items():
            try:
                flt.convert(v)
            except (ValueError, TypeError):
                continue
            applied[key] = v
        if applied:
            found.append((label, v, {**base, **applied}, 200))
    if not found:
        found.append(("no-filter", None, base, 200))
    # an undeclared parameter is refused, never passed through
    other = next(v for label, v in fence.tamper if label == "foreign-tenant")
    found.append(("tenant-param", other, {**base, "tenant_id": other}, 400))
    found.append(("msisdn-param", other, {**base, "scope_msisdns": other}, 400))
    return found


def _export_all(s, server, fence, exports, periods) -> Outcome:
    """Request every export with every foreign filter value and judge each answer."""
    detect = Detector(fence.markers)
    namespace = "analyst" if fence.aggregate_only else "reports"
    out = Outcome()
    for name, export in sorted(exports.items()):
        allowed = fence.role in export.roles and namespace in export.queries
        for label, _v, query, expected in _export_requests(export, fence, periods):
            resp, text, broken = fetch(s, f"{server}/export/{name}.csv?{urlencode(query)}")
            where = f"{fence.profile} {name} {label} {query}: {resp.status_code}"
            out.statuses[resp.status_code] += 1
            if broken:
                out.errors.append(f"{where} stream ended prematurely after {len(text)} chars")
            if not allowed:
                if resp.status_code != 403:
                    out.refusals.append(f"{where} (not this profile's report: must be 403)")
                continue
            if resp.status_code != expected:
                out.errors.append(f"{where} expected {expected}: {text[:120]}")
            if resp.status_code != 200:
                continue
            # the CSV never echoes the query, so every marker counts
            hits = detect.hits(text)
            fields = field_leaks(fence, csv_pairs(text))
            if hits or fields:
                out.leaks.append(f"{where} markers={sorted(hits.items())[:4]} fields={fields[:4]}")
            out.rows += max(text.count("\n") - 1, 0)
    return out


TOKEN_PROFILES = ("manager", "admin2")


@pytest.fixture(scope="module")
def exported(server, people, fences, exports, periods, portal):
    """(profile, via) -> Outcome of every export with every foreign value (run once). `via` is
    "session" (signed in) or "token" (a personal API token, no cookie)."""
    done: dict[tuple[str, str], Outcome] = {}
    tokens: dict[str, int] = {}

    def run(profile: str, via: str) -> Outcome:
        if (profile, via) not in done:
            if via == "token":
                token_id, secret = token_service.create_token(portal["SELFCARE_DB"],
                                                      people[profile].email, "tamper test")
                tokens[profile] = token_id
                s = requests.Session()
                s.headers["Authorization"] = f"Bearer {secret}"
            else:
                s = sign_in(server, people[profile])
            done[(profile, via)] = _export_all(s, server, fences[profile], exports, periods)
        return done[(profile, via)]

    yield run
    for profile, token_id in tokens.items():
        token_service.revoke_token(portal["SELFCARE_DB"], people[profile].email, token_id)


CASES = [pytest.param(p, "session", id=p) for p in PROFILES] + [
    pytest.param(p, "token", id=f"{p}-token") for p in TOKEN_PROFILES
]


@pytest.mark.parametrize(("profile", "via"), CASES)
def test_tampered_exports_never_return_foreign_rows(profile, via, exported):
    out = exported(profile, via)
    print(f"{profile} via {via}: export requests by status {dict(out.statuses)}, rows {out.rows}")
    assert out.leaks == [], "\n".join(out.leaks[:30])
    assert out.refusals == [], "\n".join(out.refusals[:30])
    assert out.statuses[200] > 0
    assert out.rows > 0, "no export returned a row: nothing was really checked"


@pytest.mark.parametrize(("profile", "via"), CASES)
def test_tampered_exports_fail_cleanly(profile, via, exported):
    """Foreign filter values get a complete (empty) CSV or 400/403, never a broken stream."""
    out = exported(profile, via)
    assert out.errors == [], "\n".join(out.errors[:30])


def test_api_token_cannot_reach_callbacks(server, people, portal, callbacks, periods):
    token_id, secret = token_service.create_token(
        portal["SELFCARE_DB"], people["admin2"].email, "cb"
    )
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {secret}"
        for cb in callbacks[:5]:
            for body in callback_bodies(cb, "T01", periods, "/overview", 1):
                assert s.post(server + UPDATE, json=body, timeout=TIMEOUT).status_code == 401
        assert s.get(server + "/_dash-layout", timeout=TIMEOUT).status_code == 401
    finally:
        token_service.revoke_token(portal["SELFCARE_DB"], people["admin2"].email, token_id)


def fetch(s, url: str) -> tuple[requests.Response, str, bool]:
    """GET an export, keeping what arrived even if the stream breaks off (partial rows are
    checked for leaks like whole ones)."""
    resp = s.get(url, timeout=TIMEOUT, stream=True)
    chunks: list[bytes] = []
    try:
        for chunk in resp.iter_content(1 << 16):
            chunks.append(chunk)
    except requests.exceptions.RequestException:
        return resp, b"".join(chunks).decode("utf-8", "replace"), True
    return resp, b"".join(chunks).decode("utf-8", "replace"), False
