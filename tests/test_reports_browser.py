"""The HTML reports opened in headless Chromium (Debian's `chromium`): every chart drew (the DOM after load holds each
chart's SVG with its marks, and the screenshot shows the series' colours), and no request left the machine: Chromium
runs behind a recording proxy on 127.0.0.1 with every other host name unresolvable, and the page still renders."""

from __future__ import annotations

import re
import socket
import subprocess
import tempfile
import threading
from html.parser import HTMLParser

import duckdb
import numpy as np
import pytest
from matplotlib import image

from delivery.reports.html import CHROMIUM_FLAGS, chromium_binary
from delivery.reports.write import write_account, write_portfolio

# Chromium's own services, pinged by the browser even for an empty page (checked below), never by a report.
CHROMIUM_SERVICE_HOSTS = re.compile(r"(^|\.)(google\.com|googleapis\.com|gvt1\.com)(:\d+)?$")


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that answers 502 to everything and records the host each request was for."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.hosts: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                line = conn.recv(8192).split(b"\r\n")[0].decode(errors="replace").split()
                if len(line) >= 2:  # "GET http://host/path HTTP/1.1" or "CONNECT host:443 HTTP/1.1"
                    self.hosts.append(re.sub(r"^\w+://", "", line[1]).split("/")[0])
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def page_hosts(self) -> list[str]:
        return [h for h in self.hosts if not CHROMIUM_SERVICE_HOSTS.search(h)]

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def proxy():
    recording = RecordingProxy()
    yield recording
    recording.close()


def chromium(url: str, proxy: RecordingProxy, *args: str) -> subprocess.CompletedProcess:
    assert chromium_binary(), "chromium is not installed (.ci/run installs Debian's chromium)"
    with tempfile.TemporaryDirectory(prefix="csops-chromium-test-") as profile:
        return subprocess.run(
            [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             f"--proxy-server=http://127.0.0.1:{proxy.port}",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", *args, url],
            capture_output=True, text=True, timeout=120)


class Figures(HTMLParser):
    """Per chart figure of the DOM: its `<svg>` count and the drawn marks (paths with data, rects) inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, int]] = {}
        self.current: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and "data-chart" in attrs:
            self.current = attrs["data-chart"]
            self.figures[self.current] = {"svg": 0, "marks": 0}
        elif self.current and tag == "svg":
            self.figures[self.current]["svg"] += 1
        elif self.current and ((tag == "path" and attrs.get("d")) or tag == "rect"):
            self.figures[self.current]["marks"] += 1

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "figure":
            self.current = None


@pytest.fixture(scope="module")
def html_reports(scored_warehouse, tmp_path_factory):
    db, models = scored_warehouse
    out = tmp_path_factory.mktemp("html")
    with duckdb.connect(str(db), read_only=True) as con:
        aid = con.execute("SELECT l.account_id FROM marts.fct_account_lifecycle l JOIN marts.fct_handoff_audit h "
                          "USING (account_id) WHERE l.days_to_value IS NOT NULL AND h.has_use_cases "
                          "ORDER BY 1 LIMIT 1").fetchone()[0]
        return [write_account(con, aid, out, ("html",)), write_portfolio(con, out, models, ("html",))]


def test_the_proxy_sees_a_page_fetching_from_the_web_and_chromium_alone_fetches_only_its_own_services(
        proxy, tmp_path):
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://example.invalid/a.png"><img src="https://cdn.example.com/b.png">'
                       "</body></html>")
    chromium(control.as_uri(), proxy, "--dump-dom")
    assert {"example.invalid", "cdn.example.com:443"} <= set(proxy.page_hosts())
    proxy.hosts.clear()
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body>nothing to fetch</body></html>")
    chromium(empty.as_uri(), proxy, "--dump-dom")
    assert proxy.page_hosts() == []


def test_html_reports_draw_every_chart_and_fetch_nothing(html_reports, proxy, tmp_path):
    for written in html_reports:
        html_path, charts = written.files["html"], written.report.charts()
        text = html_path.read_text()
        # nothing to fetch: no script, no stylesheet or image link, no URL except SVG namespace names
        assert "<script" not in text and "<link" not in text and "<img" not in text
        urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls

        done = chromium(html_path.as_uri(), proxy, "--dump-dom")
        assert done.returncode == 0, done.stderr[-500:]
        parser = Figures()
        parser.feed(done.stdout)
        assert set(parser.figures) == {c.key for c in charts}
        for key, counts in parser.figures.items():
            points = sum(v is not None for values in next(c for c in charts if c.key == key).series.values()
                         for v in values)
            assert counts["svg"] == 1 and counts["marks"] >= min(points, 3), (key, counts)

        shot = tmp_path / f"{html_path.stem}.png"
        done = chromium(html_path.as_uri(), proxy, f"--screenshot={shot}", "--window-size=1280,6000",
                        "--hide-scrollbars")
        assert shot.exists(), done.stderr[-500:]
        pixels = (image.imread(str(shot))[:, :, :3] * 255).round().astype(int)
        for colour in {c.colour(0, next(iter(c.series))) for c in charts}:  # each chart's first series colour
            rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
            assert (np.abs(pixels - rgb).sum(axis=2) < 12).sum() > 50, (html_path.name, colour)
        assert proxy.page_hosts() == []
