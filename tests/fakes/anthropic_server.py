"""A local HTTP server on 127.0.0.1 that speaks enough of the Anthropic Messages API for the real `anthropic` client:
POST /v1/messages and the Message Batches endpoints. Responses are scripted: a queue of steps consumed one per
request, then a default responder; every request received is recorded (path, headers, JSON body).

A step is a dict: {"status": 429|529|500|..., "retry_after_ms": 5} for an error, {"delay": seconds} to answer late
(a client timeout), {"tool_input": {...}} for an answer calling the tool the request forces (write_brief,
label_texts), or a callable(body) returning one of these.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
               500: "api_error", 502: "api_error", 503: "api_error", 529: "overloaded_error"}


def tool_message(tool_input: dict, model: str = "claude-test", usage: dict | None = None,
                 tool_name: str = "write_brief") -> dict:
    return {
        "id": f"msg_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": tool_name,
                     "input": tool_input}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": usage or {"input_tokens": 1200, "output_tokens": 400, "cache_creation_input_tokens": 0,
                           "cache_read_input_tokens": 900},
    }


class FakeAnthropic:
    def __init__(self, default: Callable[[dict], dict] | None = None):
        self.steps: list = []
        self.default = default
        self.requests: list[dict] = []
        self.batches: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeAnthropic:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *steps) -> None:
        with self._lock:
            self.steps.extend(steps)

    def message_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/v1/messages"]

    def raw_bodies(self) -> str:
        """Everything the server received in request bodies, as one string."""
        return "\n".join(r["raw"] for r in self.requests)

    def _next(self, body: dict) -> dict:
        with self._lock:
            step = self.steps.pop(0) if self.steps else self.default
        if step is None:
            return {"status": 500}
        return step(body) if callable(step) else step

    def _answer(self, step: dict, body: dict) -> tuple[int, dict, dict]:
        if "status" in step:
            headers = {"retry-after-ms": str(step.get("retry_after_ms", 5))}
            status = step["status"]
            return status, headers, {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"),
                                                                "message": f"scripted {status}"}}
        # The forced tool the request names (write_brief for briefs, label_texts for the voice classifier).
        tool = (body.get("tool_choice") or {}).get("name", "write_brief")
        return 200, {}, tool_message(step["tool_input"], body.get("model", ""), step.get("usage"), tool)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def _send(self, status: int, payload, headers: dict | None = None, jsonl: bool = False) -> None:
                data = ("\n".join(json.dumps(p) for p in payload) if jsonl else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("content-type", "application/binary" if jsonl else "application/json")
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:8]}")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                body = json.loads(raw or "{}")
                with fake._lock:
                    fake.requests.append({"path": self.path.split("?")[0], "headers": dict(self.headers),
                                          "body": body, "raw": raw})
                path = self.path.split("?")[0]
                if path == "/v1/messages":
                    step = fake._next(body)
                    if "delay" in step:
                        time.sleep(step["delay"])
                        step = {k: v for k, v in step.items() if k != "delay"} or {"status": 500}
                    status, headers, payload = fake._answer(step, body)
                    self._send(status, payload, headers)
                elif path == "/v1/messages/batches":
                    batch_id = f"msgbatch_{uuid.uuid4().hex[:10]}"
                    results = []
                    for item in body["requests"]:
                        status, _h, payload = fake._answer(fake._next(item["params"]), item["params"])
                        result = {"type": "succeeded", "message": payload} if status == 200 else \
                            {"type": "errored", "error": payload}
                        results.append({"custom_id": item["custom_id"], "result": result})
                    fake.batches[batch_id] = {"results": results, "polls": 0}
                    self._send(200, fake._batch(batch_id))
                else:
                    self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with fake._lock:
                    fake.requests.append({"path": path, "headers": dict(self.headers), "body": {}, "raw": ""})
                parts = path.strip("/").split("/")
                if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"] and parts[3] in fake.batches:
                    batch_id = parts[3]
                    if parts[4:] == ["results"]:
                        self._send(200, fake.batches[batch_id]["results"], jsonl=True)
                    else:
                        fake.batches[batch_id]["polls"] += 1
                        self._send(200, fake._batch(batch_id))
                else:
                    self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})

        return Handler

    def _batch(self, batch_id: str) -> dict:
        """In progress on creation, ended from the first poll on."""
        batch = self.batches[batch_id]
        ended = batch["polls"] > 0
        counts = {"processing": 0 if ended else len(batch["results"]), "canceled": 0, "expired": 0,
                  "errored": sum(r["result"]["type"] == "errored" for r in batch["results"]) if ended else 0,
                  "succeeded": sum(r["result"]["type"] == "succeeded" for r in batch["results"]) if ended else 0}
        return {"id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
                "ended_at": "2026-01-01T00:01:00Z" if ended else None, "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if ended else None}


# ------------------------------------------------------------------------------ answers built from the request
def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0] if start in text and end in text else ""


def request_facts(body: dict) -> list[dict]:
    """The trusted facts the request carried (inside <fact_sheet>)."""
    user = body["messages"][-1]["content"]
    sheet = _between(user, "<fact_sheet>", "</fact_sheet>")
    return json.loads(sheet)["facts"] if sheet.strip() else []


def request_customer_text(body: dict) -> list[dict]:
    """The quoted customer texts the request carried (inside <customer_text>, after its one-line preamble)."""
    block = _between(body["messages"][-1]["content"], "<customer_text>", "</customer_text>")
    return json.loads(block.strip().split("\n", 1)[1]) if block.strip() else []


def grounded_brief(body: dict) -> dict:
    """A valid brief: one claim per fact with a value, restating it with its unit, citing it."""
    claims = [{"text": f"The sheet records {f['value']} {f.get('unit', '')}.".replace(" .", "."),
               "fact_ids": [f["id"]]}
              for f in request_facts(body) if f["value"] not in (None, "", [], False)
              and not isinstance(f["value"], list)][:6]
    return {"title": "Brief", "sections": [{"heading": "What the data shows", "facts": claims, "hypotheses": []}]}


def with_claim(brief: dict, text: str, fact_ids: list[str]) -> dict:
    out = json.loads(json.dumps(brief))
    out["sections"][0]["hypotheses"].append({"text": text, "fact_ids": fact_ids})
    return out
