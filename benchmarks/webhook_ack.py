"""Acknowledgements per second and p99 ack latency of signed and encrypted IM callbacks, on loopback.

A real uvicorn server (its own process) serves the connector routes for three bots: DingTalk
(signed headers), Feishu (AES body + SHA-256 signature) and WeCom (WXBizMsgCrypt XML). httpx
clients send a bounded load (``--concurrency`` requests in flight) of distinct, validly sealed
messages; every one is verified, decrypted, parsed, deduplicated, rate-checked and queued before
its 200 goes back. The gateway answers in the background with an instant responder and replies
are not sent anywhere (the tests cover replies): what is measured is the acknowledgement path.

    .venv/bin/python benchmarks/webhook_ack.py [--requests 3000] [--concurrency 16] [--rounds 3]

Goal: >= 2,500 acks/s and p99 <= 25 ms on 2 cores. Figures are medians over rounds; the last line
is the slowest platform's: ``acks_per_s=N p99_ms=N``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.crypto import FeishuCipher, WXBizMsgCrypt, dingtalk_robot_sign  # noqa: E402
from connectors.settings import (  # noqa: E402
    ConnectorSettings,
    DingTalkBot,
    FeishuBot,
    GatewaySettings,
    WeComAppBot,
)

DING_SECRET = "bench-ding-secret"
FEISHU_KEY, FEISHU_TOKEN = "bench-feishu-key", "bench-feishu-token"
WECOM_TOKEN, WECOM_KEY, WECOM_CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"

Request = tuple[str, dict[str, str], dict[str, str], bytes]  # path, query, headers, body


def bench_settings() -> ConnectorSettings:
    return ConnectorSettings(
        dingtalk=[DingTalkBot(name="bench", app_key="k", app_secret=DING_SECRET)],
        feishu=[FeishuBot(name="bench", app_id="cli_bench", app_secret="s", encrypt_key=FEISHU_KEY,
                          verification_token=FEISHU_TOKEN)],
        wecom_app=[WeComAppBot(name="bench", corp_id=WECOM_CORP, corp_secret="s", agent_id=1, token=WECOM_TOKEN,
                               encoding_aes_key=WECOM_KEY)],
        gateway=GatewaySettings(workers=2, queue_size=1_000_000, user_rate=1_000_000, group_rate=1_000_000),
    )


# ---------------------------------------------------------------- the server process


def serve(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from assistant.domain import Answer, Trace
    from connectors.app import add_routes, build_connectors

    class InstantResponder:
        def respond(self, message):
            return Answer(question=message.text, answer="ok", refused=False, trace=Trace(question=message.text))

    connectors = build_connectors(bench_settings(), InstantResponder())
    for channel in connectors.registry:
        channel.send = lambda message: None  # replies are not what is measured
    app = FastAPI()
    add_routes(app, connectors)
    connectors.start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------- sealed requests, made before timing


def dingtalk_requests(n: int, tag: str) -> list[Request]:
    ts = str(int(time.time() * 1000))
    headers = {"timestamp": ts, "sign": dingtalk_robot_sign(ts, DING_SECRET), "content-type": "application/json"}
    out = []
    for i in range(n):
        body = {"msgtype": "text", "text": {"content": " 退款多久到账？"}, "msgId": f"{tag}-{i}", "conversationType": "1",
                "conversationId": f"cid{i}", "senderId": f"s{i}", "senderStaffId": f"u{i}", "sessionWebhook": "",
                "sessionWebhookExpiredTime": 0}
        out.append(("/callbacks/dingtalk/bench", {}, headers, json.dumps(body, ensure_ascii=False).encode()))
    return out


def feishu_requests(n: int, tag: str) -> list[Request]:
    cipher, ts = FeishuCipher(FEISHU_KEY), str(int(time.time()))
    out = []
    for i in range(n):
        event = {"schema": "2.0",
                 "header": {"event_id": f"{tag}-{i}", "event_type": "im.message.receive_v1", "token": FEISHU_TOKEN,
                            "app_id": "cli_bench"},
                 "event": {"sender": {"sender_id": {"open_id": f"ou_{i}"}},
                           "message": {"message_id": f"om_{tag}_{i}", "chat_id": f"oc_{i}", "chat_type": "p2p",
                                       "message_type": "text", "content": json.dumps({"text": "退款多久到账？"})}}}
        body = json.dumps({"encrypt": cipher.encrypt(json.dumps(event, ensure_ascii=False))}).encode()
        nonce = f"n{i}"
        headers = {"x-lark-request-timestamp": ts, "x-lark-request-nonce": nonce,
                   "x-lark-signature": cipher.signature(ts, nonce, body), "content-type": "application/json"}
        out.append(("/callbacks/feishu/bench", {}, headers, body))
    return out


def wecom_requests(n: int, tag: str) -> list[Request]:
    crypt, ts = WXBizMsgCrypt(WECOM_TOKEN, WECOM_KEY, WECOM_CORP), str(int(time.time()))
    out = []
    for i in range(n):
        xml = (f"<xml><ToUserName>{WECOM_CORP}</ToUserName><FromUserName>u{i}</FromUserName><CreateTime>{ts}</CreateTime>"
               f"<MsgType>text</MsgType><Content>退款多久到账？</Content><MsgId>{tag}{i}</MsgId><AgentID>1</AgentID></xml>")
        nonce = f"n{i}"
        encrypt, signature = crypt.seal(xml, ts, nonce)
        body = f"<xml><ToUserName>{WECOM_CORP}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>1</AgentID></xml>"
        query = {"msg_signature": signature, "timestamp": ts, "nonce": nonce}
        out.append(("/callbacks/wecom/bench", query, {"content-type": "text/xml"}, body.encode()))
    return out


SCENARIOS: dict[str, tuple[str, Callable[[int, str], list[Request]]]] = {
    "dingtalk": ("signed headers (HMAC-SHA256)", dingtalk_requests),
    "feishu": ("AES-256-CBC body + SHA-256 signature", feishu_requests),
    "wecom": ("WXBizMsgCrypt XML (SHA-1 + AES)", wecom_requests),
}


# ---------------------------------------------------------------- load


class LoopbackTransport(httpx.AsyncBaseTransport):
    """A minimal keep-alive HTTP/1.1 transport for httpx on loopback (Content-Length bodies only).

    httpx's default pool (httpcore + h11, pure Python) spends ~2-3 ms of client CPU per request
    here: with server and clients on the same 2 cores, the benchmark would measure the client.
    Pass ``--transport httpcore`` to see that.
    """

    def __init__(self) -> None:
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(request.url.host, request.url.port)
        lines = [f"{request.method} {request.url.raw_path.decode()} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in request.headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.content)
        status = int((await reader.readuntil(b"\r\n")).split()[1])
        head = await reader.readuntil(b"\r\n\r\n")
        headers = [tuple(part.strip() for part in line.split(b":", 1)) for line in head.split(b"\r\n") if line]
        length = next((int(v) for k, v in headers if k.lower() == b"content-length"), 0)
        content = await reader.readexactly(length) if length else b""
        self._idle.append((reader, writer))
        return httpx.Response(status, headers=headers, content=content)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle = []


async def run_load(base: str, requests: list[Request], concurrency: int, transport: str = "loopback",
                   ) -> tuple[float, list[float], int]:
    """(acks per second, latencies in ms, non-200 count) for ``requests`` with ``concurrency`` in flight."""
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    lean = LoopbackTransport() if transport == "loopback" else None
    async with httpx.AsyncClient(base_url=base, limits=limits, trust_env=False, timeout=30, transport=lean) as client:

        async def worker() -> None:
            nonlocal errors
            for path, query, headers, body in queue:
                t0 = time.perf_counter()
                response = await client.post(path, params=query, headers=headers, content=body)
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(requests) / elapsed, latencies, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per round and platform")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transport", choices=["loopback", "httpcore"], default="loopback",
                        help="httpx transport of the load clients (see LoopbackTransport)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "NO_PROXY": "127.0.0.1"}
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/connectors", trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the benchmark server did not start")
            time.sleep(0.2)

        rows = []
        for name, (scheme, make) in SCENARIOS.items():
            asyncio.run(run_load(base, make(300, f"warm-{name}"), args.concurrency, args.transport))  # warm up
            rates, p50s, p99s, cpus, errors = [], [], [], [], 0
            for r in range(args.rounds):
                requests = make(args.requests, f"{name}-{r}")
                cpu0 = cpu_seconds(server.pid)
                rate, latencies, errs = asyncio.run(run_load(base, requests, args.concurrency, args.transport))
                time.sleep(0.2)  # let the background answers finish: their CPU belongs to this round
                cpus.append((cpu_seconds(server.pid) - cpu0) / len(requests) * 1e6)
                rates.append(rate)
                p50s.append(p(latencies, 0.50))
                p99s.append(p(latencies, 0.99))
                errors += errs
            rows.append((name, scheme, statistics.median(rates), statistics.median(p50s), statistics.median(p99s),
                         statistics.median(cpus), errors))
    finally:
        server.terminate()
        server.wait(10)

    print(f"\n{args.rounds} rounds x {args.requests} callbacks per platform, {args.concurrency} in flight, httpx clients "
          f"({args.transport} transport), {os.cpu_count()} cores shared by server and clients; medians over rounds\n")
    print("| platform | callback | acks/s | p50 ms | p99 ms | server CPU µs/ack | non-200 |")
    print("|---|---|---|---|---|---|---|")
    for name, scheme, rate, p50, p99, cpu, errors in rows:
        print(f"| {name} | {scheme} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {cpu:.0f} | {errors} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"\nserver CPU per ack includes answering it in the background; 1-minute load average {load:.1f}")
    worst_rate = min(r[2] for r in rows)
    worst_p99 = max(r[4] for r in rows)
    verdict = "meets" if worst_rate >= 2500 and worst_p99 <= 25 else "misses"
    print(f"\nslowest platform {verdict} the goal (>= 2,500 acks/s, p99 <= 25 ms)")
    print(f"acks_per_s={worst_rate:.0f} p99_ms={worst_p99:.1f}")


if __name__ == "__main__":
    main()
