"""A local HTTP server that answers like Slack's Web API, for tests and the fault lab (`SLACK_API_BASE_URL`).

Methods: auth.test, chat.postMessage (with message metadata), chat.update, chat.postEphemeral, conversations.history (oldest, limit,
cursor, include_all_metadata), conversations.open, users.lookupByEmail, views.open. It keeps every stored message
and every post it received, enforces Slack's one message per second per channel if asked (429 + Retry-After), and
injects faults on chat.postMessage, either queued one by one or drawn at random (and queued HTTP errors on
conversations.history):

  429          rate limited, nothing stored          500         error, nothing stored
  (429_pace: the same, answered because the channel had a message less than a second ago)
  500_after    stored, then a 500                    timeout     stored, then no answer for `hang` seconds
  timeout_before  no answer for `hang` s, nothing stored   drop_after  stored, then the connection is closed
  hold_after   stored, then the answer waits until `release()` (kill the client meanwhile)
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STORING_FAULTS = {"500_after", "timeout", "drop_after", "hold_after"}


class SlackState:
    def __init__(self, token: str, users: dict[str, str] | None = None, enforce_rate_limit: bool = True,
                 retry_after: int = 1, hang: float = 3.0, seed: int = 0):
        self.token = token
        self.users = dict(users or {})  # e-mail -> user ID
        self.enforce_rate_limit, self.retry_after, self.hang = enforce_rate_limit, retry_after, hang
        self.lock = threading.Lock()
        self.messages: dict[str, list[dict]] = defaultdict(list)
        self.stored_posts: list[tuple[str, float, str | None]] = []  # (channel, time, metadata key) of each stored
        self.requests: list[tuple[str, str, float]] = []  # (method, outcome, time)
        self.updates: list[dict] = []
        self.views: list[dict] = []
        self.ephemeral: list[dict] = []
        self.queued_faults: deque[str] = deque()
        self.history_faults: deque[int] = deque()  # HTTP statuses for the next conversations.history calls
        self.fault_rates: dict[str, float] = {}
        self.scheduled: dict[int, str] = {}  # the n-th chat.postMessage request (from 1) -> fault
        self.post_requests = 0
        self.rng = random.Random(seed)
        self.held = threading.Event()  # set when a hold_after post has been stored
        self.release_event = threading.Event()
        self._last_ts = 0.0

    def inject(self, *faults: str) -> None:
        self.queued_faults.extend(faults)

    def release(self) -> None:
        self.release_event.set()

    def next_fault(self) -> str | None:
        self.post_requests += 1
        if self.post_requests in self.scheduled:
            return self.scheduled[self.post_requests]
        if self.queued_faults:
            return self.queued_faults.popleft()
        draw, total = self.rng.random(), 0.0
        for fault, rate in self.fault_rates.items():
            total += rate
            if draw < total:
                return fault
        return None

    def new_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def posts_by_key(self) -> dict[str | None, int]:
        counts: dict[str | None, int] = defaultdict(int)
        for _, _, key in self.stored_posts:
            counts[key] += 1
        return dict(counts)

    def max_posts_per_channel_per_second(self) -> int:
        """The most messages stored in one channel within any one-second window."""
        worst = 0
        by_channel: dict[str, list[float]] = defaultdict(list)
        for channel, at, _ in self.stored_posts:
            by_channel[channel].append(at)
        for times in by_channel.values():
            times.sort()
            start = 0
            for end, at in enumerate(times):
                while at - times[start] >= 1.0:
                    start += 1
                worst = max(worst, end - start + 1)
        return worst


class _Handler(BaseHTTPRequestHandler):
    state: SlackState  # set on the subclass made per server

    def log_message(self, *_args):  # quiet
        pass

    def do_GET(self):
        self.do_POST()

    def do_POST(self):
        url = urlparse(self.path)
        method = url.path.rsplit("/", 1)[-1]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        args = {k: v[0] for k, v in parse_qs(url.query).items()}
        if raw:
            if "json" in (self.headers.get("Content-Type") or ""):
                args.update(json.loads(raw))
            else:
                args.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
        if self.headers.get("Authorization") != f"Bearer {self.state.token}" and args.get("token") != self.state.token:
            return self._send({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return self._send({"ok": False, "error": "unknown_method"}, 404)
        handler(args)

    def _send(self, body: dict, status: int = 200, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout) or died
            pass

    def _log(self, method: str, outcome: str) -> None:
        with self.state.lock:
            self.state.requests.append((method, outcome, time.time()))

    @staticmethod
    def _decode(value):
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value

    def api_auth_test(self, _args):
        self._send({"ok": True, "user_id": "UCSOPSBOT", "team_id": "T0CSOPS", "bot_id": "B0CSOPS"})

    def api_chat_postMessage(self, args):
        state = self.state
        channel = args.get("channel")
        if not channel or not channel.startswith(("C", "D", "G")):
            return self._send({"ok": False, "error": "channel_not_found"})
        with state.lock:
            fault = state.next_fault()
            recent = [at for ch, at, _ in state.stored_posts if ch == channel and time.time() - at < 1.0]
            if fault is None and state.enforce_rate_limit and recent:
                fault = "429_pace"  # Slack's own limit, told apart from injected 429s
            stored = None
            if fault is None or fault in STORING_FAULTS:
                metadata = self._decode(args.get("metadata"))
                stored = {"type": "message", "ts": state.new_ts(), "text": args.get("text", ""), "user": "UCSOPSBOT",
                          "blocks": self._decode(args.get("blocks")) or [], "metadata": metadata}
                state.messages[channel].append(stored)
                key = ((metadata or {}).get("event_payload") or {}).get("key")
                state.stored_posts.append((channel, time.time(), key))
            state.requests.append(("chat.postMessage", fault or "ok", time.time()))
        if fault in ("429", "429_pace"):
            return self._send({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(state.retry_after)})
        if fault in ("500", "500_after"):
            return self._send({"ok": False, "error": "internal_error"}, 500)
        if fault in ("timeout", "timeout_before"):
            time.sleep(state.hang)
        elif fault == "drop_after":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        elif fault == "hold_after":
            state.held.set()
            state.release_event.wait(60)
        if fault == "timeout_before":
            return self._send({"ok": False, "error": "request_timeout"}, 504)
        shown = {k: v for k, v in stored.items() if k != "metadata"}
        self._send({"ok": True, "channel": channel, "ts": stored["ts"], "message": shown})

    def api_chat_update(self, args):
        channel, ts = args.get("channel"), args.get("ts")
        with self.state.lock:
            for message in self.state.messages.get(channel, []):
                if message["ts"] == ts:
                    message["text"] = args.get("text", message["text"])
                    message["blocks"] = self._decode(args.get("blocks")) or message["blocks"]
                    self.state.updates.append({"channel": channel, "ts": ts, **message})
                    break
            else:
                return self._send({"ok": False, "error": "message_not_found"})
        self._log("chat.update", "ok")
        self._send({"ok": True, "channel": channel, "ts": ts})

    def api_chat_postEphemeral(self, args):
        with self.state.lock:
            self.state.ephemeral.append({"channel": args.get("channel"), "user": args.get("user"),
                                         "text": args.get("text")})
        self._send({"ok": True, "message_ts": self.state.new_ts()})

    def api_conversations_history(self, args):
        if self.state.history_faults:
            status = self.state.history_faults.popleft()
            self._log("conversations.history", str(status))
            return self._send({"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}, status,
                              {"Retry-After": str(self.state.retry_after)})
        channel = args.get("channel")
        oldest = float(args.get("oldest") or 0)
        limit = min(int(args.get("limit") or 100), 999)
        start = int(args.get("cursor") or 0)
        with_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
        with self.state.lock:
            if channel not in self.state.messages and not channel.startswith(("C", "D", "G")):
                return self._send({"ok": False, "error": "channel_not_found"})
            found = [m for m in reversed(self.state.messages.get(channel, [])) if float(m["ts"]) > oldest]
        page = found[start:start + limit]
        shown = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(found)
        self._log("conversations.history", "ok")
        self._send({"ok": True, "messages": shown, "has_more": more,
                    "response_metadata": {"next_cursor": str(start + limit) if more else ""}})

    def api_conversations_open(self, args):
        user = (args.get("users") or "").split(",")[0]
        self._send({"ok": True, "channel": {"id": "D" + user.removeprefix("U")}})

    def api_users_lookupByEmail(self, args):
        user = self.state.users.get((args.get("email") or "").lower())
        if user is None:
            return self._send({"ok": False, "error": "users_not_found"})
        self._send({"ok": True, "user": {"id": user, "profile": {"email": args.get("email")}}})

    def api_views_open(self, args):
        view = self._decode(args.get("view"))
        with self.state.lock:
            self.state.views.append({"trigger_id": args.get("trigger_id"), "view": view})
        self._send({"ok": True, "view": {"id": f"V{len(self.state.views)}", **view}})


class SlackServer:
    """`with SlackServer(token) as slack:` -> `slack.base_url`, `slack.state` (messages, posts, fault controls)."""

    def __init__(self, token: str = "xoxb" "-test-token", **options):
        self.state = SlackState(token, **options)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlackServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.state.release()
        self.server.shutdown()
        self.server.server_close()
