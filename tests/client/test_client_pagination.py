"""Both pagination styles: `pagination.cursor` (projects) and `pagination.next` (branches)."""

from __future__ import annotations

import httpx

from . import factories as f


def test_iter_projects_follows_cursor_across_pages(make_client):
    pages = {
        None: (["p-1", "p-2"], "c1"),
        "c1": (["p-3", "p-4"], "c2"),
        "c2": (["p-5"], "c3"),
    }
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        ids, cursor = pages[params.get("cursor")]
        body = {
            "projects": [f.project_item(pid, f"nt-{pid}") for pid in ids],
            "pagination": {"cursor": cursor},
        }
        return httpx.Response(200, json=body)

    client = make_client(handler, projects_page_size=2)
    ids = [p.id for p in client.org("free").iter_projects(search="nt-")]
    assert ids == ["p-1", "p-2", "p-3", "p-4", "p-5"]
    assert [s.get("cursor") for s in seen] == [None, "c1", "c2"]
    assert all(s["limit"] == "2" and s["search"] == "nt-" for s in seen)


def test_iter_projects_stops_on_empty_page(make_client):
    replies = [
        {"projects": [f.project_item("p-1")], "pagination": {"cursor": "c1"}},
        {"projects": [], "pagination": {"cursor": "c1"}},
    ]
    client = make_client(lambda r: httpx.Response(200, json=replies.pop(0)), projects_page_size=1)
    assert [p.id for p in client.org("free").iter_projects()] == ["p-1"]
    assert replies == []


def test_iter_branches_follows_next_cursor(make_client):
    pages = {
        None: (["br-a", "br-b"], "n1"),
        "n1": (["br-c", "br-d"], "n2"),
        "n2": (["br-e", "br-f"], None),
    }
    cursors: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        cursors.append(cursor)
        ids, nxt = pages[cursor]
        pagination = {"sort_by": "name", "sort_order": "asc"}
        if nxt:
            pagination["next"] = nxt
        body = {"branches": [f.branch(b, name=b) for b in ids], "pagination": pagination}
        return httpx.Response(200, json=body)

    client = make_client(handler, branches_page_size=2)
    names = [b.id for b in client.org("free").iter_branches("proj-1", sort_by="name",
                                                             sort_order="asc")]
    assert names == ["br-a", "br-b", "br-c", "br-d", "br-e", "br-f"]
    assert cursors == [None, "n1", "n2"]


def test_find_project_by_name_requires_exact_match(make_client):
    body = {
        "projects": [f.project_item("p-1", "nt-acme-2"), f.project_item("p-2", "nt-acme")],
        "pagination": {"cursor": "p-2"},
    }
    client = make_client(lambda r: httpx.Response(200, json=body))
    found = client.org("free").find_project_by_name("nt-acme")
    assert found is not None and found.id == "p-2"
    client2 = make_client(lambda r: httpx.Response(200, json=body))
    assert client2.org("free").find_project_by_name("nt-acm") is None
