"""The map web server: signed, expiring links; refusals; no way out to the filesystem."""

from __future__ import annotations

import http.client
import os
import socket
import stat
from urllib.parse import urlsplit

import pytest

from bot.signing import Signer, load_or_create_secret
from bot.webserver import MapLinks, MapServer

HTML = "<html><body><div id='map'>the map of welcome</div></body></html>"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def site(tmp_path, clock):
    """A running server with one map (source "intro", snapshot 7) and a link minter."""
    (tmp_path / "7.html").write_text(HTML)
    (tmp_path / "secret-neighbour.txt").write_text("do not serve me")

    def lookup(source, snapshot_id):
        return tmp_path / f"{snapshot_id}.html" if source == "intro" else None

    signer = Signer(load_or_create_secret(tmp_path / "data"), clock=clock)
    server = MapServer("127.0.0.1", 0, signer, lookup).start()
    links = MapLinks("serve", signer, lookup, ttl_hours=1, server_url=server.base_url)
    yield server, links
    server.stop()


def get(server, path: str) -> tuple[int, dict, str]:
    """GET a raw path (sent exactly as given) from the server."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, dict(response.getheaders()), body


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_link_serves_the_map_with_strict_headers(site):
    """A freshly minted link answers 200 with the HTML and the security headers."""
    server, links = site
    status, headers, body = get(server, path_of(links.mint_url("intro", 7)))
    assert status == 200 and body == HTML
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "private" in headers["Cache-Control"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_expired_link_is_gone(site, clock):
    """After its time to live the same link answers 410 with a plain message."""
    server, links = site
    path = path_of(links.mint_url("intro", 7))
    clock.now += 3601
    status, headers, body = get(server, path)
    assert status == 410 and "expired" in body
    assert headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("tamper", ["sig", "exp", "snapshot", "source"])
def test_forged_links_are_refused(site, tamper):
    """Changing any part of a signed link gets 403 (or 404 for an unknown map), never the map."""
    server, links = site
    path = path_of(links.mint_url("intro", 7))
    route, query = path.split("?")
    exp, sig = (part.split("=")[1] for part in query.split("&"))
    forged = {
        "sig": f"{route}?exp={exp}&sig={'0' * len(sig)}",
        "exp": f"{route}?exp={int(exp) + 10_000}&sig={sig}",
        "snapshot": f"/map/intro/8?exp={exp}&sig={sig}",
        "source": f"/map/other/7?exp={exp}&sig={sig}",
    }[tamper]
    status, _, body = get(server, forged)
    assert status == 403 and HTML not in body


def test_signed_but_pruned_map_has_expired(site):
    """A valid signature for a map whose file is gone (retention, opt-out) answers
    410 "this map has expired" (issue 9.2)."""
    server, links = site
    status, _, body = get(server, path_of(links.mint_url("intro", 99)))
    assert status == 410 and "This map has expired" in body


@pytest.mark.parametrize("path", [
    "/map/../../etc/passwd",
    "/map/..%2F..%2Fetc%2Fpasswd/1?exp=9999999999&sig=00",
    "/map/%2e%2e/%2e%2e/etc/passwd",
    "/secret-neighbour.txt",
    "/7.html",
    "/",
    "/map/",
])
def test_paths_outside_signed_maps_are_refused(site, path):
    """Traversal attempts, file names and listings never reach the filesystem."""
    server, _ = site
    status, _, body = get(server, path)
    assert status in (403, 404)
    assert "root:" not in body and "do not serve me" not in body and HTML not in body


def test_secret_is_private_and_stable(tmp_path):
    """The signing secret is created once with mode 0600 and read back unchanged."""
    first = load_or_create_secret(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "map-link-secret").st_mode)
    assert mode == 0o600
    assert load_or_create_secret(tmp_path) == first and len(first) >= 32


def test_empty_secret_left_by_a_crash_is_replaced(tmp_path):
    """A crash between creating and writing the secret once left an empty file, and the
    bot never started again; now it is replaced, written whole, 0600 (issue 9.8)."""
    (tmp_path / "map-link-secret").write_bytes(b"")
    secret = load_or_create_secret(tmp_path)
    assert len(secret) >= 32 and Signer(secret)
    assert stat.S_IMODE(os.stat(tmp_path / "map-link-secret").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map-link-secret"]  # no temporary left


def test_off_mode_has_no_links(tmp_path):
    """With web_mode off no link is minted."""
    links = MapLinks("off", None, lambda s, i: tmp_path / "x.html", ttl_hours=1)
    assert links.mint_url("intro", 1) is None


def test_dir_mode_publishes_a_copy(tmp_path):
    """In dir mode the map is copied into map_dir and linked under the public URL."""
    (tmp_path / "3.html").write_text(HTML)
    links = MapLinks("dir", None, lambda s, i: tmp_path / f"{i}.html", ttl_hours=1,
                     public_url="https://maps.example.org/", map_dir=tmp_path / "site")
    assert links.mint_url("intro", 3) == "https://maps.example.org/intro-3.html"
    assert (tmp_path / "site" / "intro-3.html").read_text() == HTML


def test_dir_mode_without_public_url_links_the_file(tmp_path):
    """In dir mode an unset public_url gives the copied file's path, never a server URL."""
    (tmp_path / "3.html").write_text(HTML)
    links = MapLinks("dir", None, lambda s, i: tmp_path / f"{i}.html", ttl_hours=1,
                     map_dir=tmp_path / "site", server_url="http://127.0.0.1:8765")
    assert links.mint_url("intro", 3) == str(tmp_path / "site" / "intro-3.html")


def test_serve_mode_prefers_the_public_url(tmp_path):
    """A set public_url is the base of served links; unset, the server's own address is."""
    signer = Signer(load_or_create_secret(tmp_path))
    lookup = lambda s, i: None  # noqa: E731
    public = MapLinks("serve", signer, lookup, 1, public_url="https://maps.example.org/",
                      server_url="http://127.0.0.1:9")
    unset = MapLinks("serve", signer, lookup, 1, server_url="http://127.0.0.1:9")
    assert public.mint_url("intro", 3).startswith("https://maps.example.org/map/intro/3?exp=")
    assert unset.mint_url("intro", 3).startswith("http://127.0.0.1:9/map/intro/3?exp=")


def raw_exchange(server, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_head_and_http_server_errors_carry_the_security_headers(site):
    """HEAD is answered (no body), and http.server's own errors (501, 400) carry the same
    headers as every other answer (issue 9.11)."""
    server, links = site
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("HEAD", path_of(links.mint_url("intro", 7)))
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b""
    assert int(response.getheader("Content-Length")) == len(HTML)
    assert response.getheader("Content-Security-Policy").startswith("default-src 'none'")
    for request in (b"BREW /map HTTP/1.0\r\n\r\n", b"GET /\x00 \x01 HTTP/9\r\n\r\n"):
        answer = raw_exchange(server, request).decode("latin-1")
        assert answer.split(" ")[1] in ("400", "501") and "Content-Security-Policy: default-src 'none'" in answer
        assert "X-Frame-Options: DENY" in answer


def test_200_slow_connections_do_not_starve_a_normal_request(tmp_path, clock):
    """Slowloris: 200 connections that never finish their request are held open; a
    normal request is still served, and the server drops the slow ones when their read
    times out (issue 9.11)."""
    (tmp_path / "7.html").write_text(HTML)
    signer = Signer(load_or_create_secret(tmp_path / "data"), clock=clock)
    server = MapServer("127.0.0.1", 0, signer, lambda s, i: tmp_path / f"{i}.html",
                       timeout_seconds=1.0).start()
    slow = []
    try:
        for _ in range(200):
            sock = socket.create_connection(server.server_address[:2], timeout=15)
            sock.sendall(b"GET /map/intro/7?exp=")  # and never the rest
            slow.append(sock)
        links = MapLinks("serve", signer, server.lookup, ttl_hours=1, server_url=server.base_url)
        status, headers, body = get(server, path_of(links.mint_url("intro", 7)))
        assert status == 200 and body == HTML
        assert all(sock.recv(1) == b"" for sock in slow)  # closed by the server, not by us
    finally:
        for sock in slow:
            sock.close()
        server.stop()


def test_connections_beyond_the_cap_get_a_busy_answer(tmp_path, clock):
    """With every connection slot taken, one more gets 503 with the headers, at once."""
    signer = Signer(load_or_create_secret(tmp_path / "data"), clock=clock)
    server = MapServer("127.0.0.1", 0, signer, lambda s, i: None, timeout_seconds=30,
                       max_connections=3).start()
    held = [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(b"GET /")
        answer = ""
        while not answer:  # the 3 held ones are being accepted; the next gets the 503
            answer = raw_exchange(server, b"GET / HTTP/1.0\r\n\r\n").decode()
            if " 503 " not in answer.split("\r\n")[0]:
                answer = ""
        assert "Content-Security-Policy" in answer and "busy" in answer
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_two_publishes_of_one_map_at_once_do_not_race(tmp_path, monkeypatch):
    """Dir mode: two `map` commands copy the same map at once; each uses a temporary file
    of its own, so neither moves the other's away (issue 21.11)."""
    import shutil
    import threading

    import bot.webserver as webserver

    (tmp_path / "3.html").write_text(HTML)
    first_copied, second_done = threading.Event(), threading.Event()
    real_copy = shutil.copyfile

    def copy_then_wait(source, target):  # the first copy finishes only after the second publish
        real_copy(source, target)
        if not first_copied.is_set():
            first_copied.set()
            assert second_done.wait(10), "the second publish never finished"

    monkeypatch.setattr(webserver.shutil, "copyfile", copy_then_wait)
    links = MapLinks("dir", None, lambda s, i: tmp_path / f"{i}.html", ttl_hours=1, map_dir=tmp_path / "site")
    urls, errors = [], []

    def publish() -> None:
        try:
            urls.append(links.mint_url("intro", 3))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    first = threading.Thread(target=publish)
    first.start()
    assert first_copied.wait(10), "the first publish never copied"
    publish()
    second_done.set()
    first.join(10)
    assert not errors and len(urls) == 2
    assert (tmp_path / "site" / "intro-3.html").read_text() == HTML
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["intro-3.html"]


def test_trickled_requests_are_cut_at_the_whole_request_deadline(tmp_path, clock):
    """Slowloris, scaled: 8 connections fill every slot and trickle a header byte every
    0.2 s, so no read ever waits the 1 s timeout. The 2 s whole-request deadline closes
    them, and 4 real requests are then served (issue 21.8)."""
    import threading

    from zulip_server import wait_until

    (tmp_path / "7.html").write_text(HTML)
    signer = Signer(load_or_create_secret(tmp_path / "data"), clock=clock)
    server = MapServer("127.0.0.1", 0, signer, lambda s, i: tmp_path / f"{i}.html", timeout_seconds=1,
                       max_connections=8, request_deadline=2).start()
    path = path_of(MapLinks("serve", signer, server.lookup, 1, server_url=server.base_url).mint_url("intro", 7))
    stop, cut = threading.Event(), []

    def trickle() -> None:
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nX-Slow: ")
            while not stop.wait(0.2):
                try:
                    sock.sendall(b"x")
                except OSError:  # closed by the server
                    cut.append(sock)
                    return

    tricklers = [threading.Thread(target=trickle) for _ in range(8)]
    for thread in tricklers:
        thread.start()
    try:
        def served() -> bool:
            try:
                return get(server, path)[0] == 200
            except OSError:
                return False

        assert all(wait_until(served, 20, interval=0.1) for _ in range(4)), "real requests not served"
        assert wait_until(lambda: len(cut) == 8, 10), "the trickling connections were not closed"
    finally:
        stop.set()
        for thread in tricklers:
            thread.join(10)
        server.stop()


def test_an_oversized_header_is_refused_with_the_security_headers(site):
    """Headers are capped (16 KiB): a longer one gets 431 with our headers (issue 21.8)."""
    server, _ = site
    start = b"GET /map HTTP/1.1\r\nX-Big: "
    # exactly the cap and no more: bytes the server never read would make its close a reset
    answer = raw_exchange(server, start + b"a" * (16 * 1024 - len(start))).decode("latin-1")
    assert answer.split(" ")[1] == "431" and "Content-Security-Policy: default-src 'none'" in answer
