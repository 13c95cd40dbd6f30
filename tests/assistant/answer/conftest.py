"""A fake OpenAI-compatible server on 127.0.0.1 and hand-made hits, for the answering tests.

The fake answers /v1/chat/completions the way a model would - well (quoting the sources it was
given, with [n] markers), with made-up citations, with claims its sources do not hold, streamed, or
it stalls, fails with 500, or asks for tool calls. Every request is recorded, and so is the token
usage it reports (in the reply, or in a last stream event when the client asks for it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.domain import Chunk, DocRef, Hit
from assistant.text.tokenize import Tokenizer

API_KEY = "sk-test-5b1e9c"


class FakeLLM:
    def __init__(self):
        self.mode = "good"  # good | made_up | unsupported | decline | fail | status | tools
        self.delay = 0.0  # seconds to wait before answering (a stall when longer than the client's timeout)
        self.status = 500
        self.prefer: list[str] = []  # headings to cite besides the first source
        self.keywords: list[str] = []  # in a source, quote the line holding one of these
        self.tool_calls: list[dict] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.usage: list[dict] = []  # the token counts reported, one per answer
        self.url = ""

    def report(self, body: dict, text: str) -> dict:
        """Token counts as a real server reports them (here: characters, which is close for Chinese)."""
        prompt = sum(len(m.get("content") or "") for m in body["messages"])
        usage = {"prompt_tokens": prompt, "completion_tokens": len(text), "total_tokens": prompt + len(text)}
        self.usage.append(usage)
        return usage

    def reply(self, body: dict) -> str:
        sources = parse_sources(body["messages"][-1]["content"])
        if self.mode == "decline":
            return "NO_ANSWER"
        if self.mode == "unsupported":
            return "本店支持火星配送，全程包邮还送月饼[1]。客服经理会亲自上门道歉[2]。"
        picked = [sources[0]] + [s for p in self.prefer for s in sources[1:] if p in s[1]][:1]
        parts = [f"{self.quote(text)}[{n}]。" for n, _, text in picked]
        if self.mode == "made_up":
            parts.append(f"{self.quote(picked[0][2])}[{len(sources) + 5}]。")
        return "".join(parts)

    def quote(self, text: str) -> str:
        sentences = [s for s in re.split(r"(?<=[。\n])", text) if s.strip()]
        for sentence in sentences:
            if any(k in sentence for k in self.keywords):
                return sentence.strip().rstrip("。；;")
        return re.split(r"[。；\n]", text.strip())[0]


def parse_sources(content: str) -> list[tuple[int, str, str]]:
    """(n, heading, text) of each numbered source in the prompt."""
    block = content.split("【资料 Sources】", 1)[1].split("【问题 Question】", 1)[0]
    out = []
    for part in re.split(r"\n(?=\[\d+\] )", block.strip()):
        head, _, text = part.partition("\n")
        m = re.match(r"\[(\d+)\] (.*)", head)
        if m:
            out.append((int(m.group(1)), m.group(2), text))
    return out


def _handler(fake: FakeLLM):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            fake.requests.append(body)
            fake.headers.append(dict(self.headers))
            if fake.delay:
                time.sleep(fake.delay)
            if fake.mode == "fail":
                return self._send(500, {"error": "model crashed"})
            if fake.mode == "status":  # a careless endpoint that echoes the credentials it got
                return self._send(fake.status, {"error": f"rejected {self.headers.get('authorization', '')}"})
            if body.get("tools") and fake.mode == "tools":
                message = {"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"call_{i}", "type": "function", "function": c} for i, c in enumerate(fake.tool_calls)
                ]}
                return self._send(200, {"choices": [{"index": 0, "message": message}]})
            text = fake.reply(body)
            if body.get("stream"):
                return self._stream(text, body)
            self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
                             "usage": fake.report(body, text)})

        def _send(self, status: int, payload: dict):
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, text: str, body: dict):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for i in range(0, len(text), 6):
                chunk = {"choices": [{"index": 0, "delta": {"content": text[i : i + 6]}}]}
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
            if (body.get("stream_options") or {}).get("include_usage"):  # OpenAI's last event: no choices
                usage = {"choices": [], "usage": fake.report(body, text)}
                self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is what the stall tests are about


def start_fake() -> tuple[FakeLLM, ThreadingHTTPServer]:
    fake = FakeLLM()
    server = QuietServer(("127.0.0.1", 0), _handler(fake))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return fake, server


@pytest.fixture
def fake_llm():
    fake, server = start_fake()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_llm_2():
    """A second model endpoint, for chains."""
    fake, server = start_fake()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_key() -> str:
    return API_KEY


# -- hand-made retrieval results -------------------------------------------------------------------
INVOICE_SOP = (
    "普票在顾客确认收货后24小时内自动开具；顾客未手动确认收货的，系统在发货后第10天自动确认收货，并在此后24小时内开具。"
    "专票在增票资质审核通过且订单确认收货后3个工作日内开具。"
)
DOWNLOAD_SOP = "发票开具后，顾客可在“我的订单—订单详情—查看发票”中下载PDF或OFD格式文件。"


def make_hit(chunk_id: str, doc_id: str, text: str, section: str, similarity: float = 0.8) -> Hit:
    chunk = Chunk(id=chunk_id, doc_id=doc_id, kb="finance", ordinal=0, text=text, section=section, page=1)
    doc = DocRef(title="电子发票开具管理规范", version="V3.2", url="https://help.example.com/sop/e-invoice")
    return Hit(chunk=chunk, score=0.03, scores={"vector": similarity}, doc=doc)


@pytest.fixture
def invoice_hits() -> list[Hit]:
    return [
        make_hit("c-time", "e-invoice", INVOICE_SOP, "二、申请条件与开具时间 > 2.3 开具时间"),
        make_hit("c-download", "e-invoice", DOWNLOAD_SOP, "五、发票下载与查询 > 5.1 下载路径", 0.6),
    ]


@pytest.fixture
def extractive() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(lambda terms: {t: 1.0 for t in terms}, Tokenizer())
