"""Answering with any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, Ollama, llama.cpp, hosted).

`LLMClient` speaks the protocol (plain or streamed, with or without function calling) and turns
every failure into a named `LLMError`. `LLMAnswerer` prompts with numbered sources and the recent
conversation, then enforces citations on what comes back. It is meant to run inside
`assistant.answer.chain.AnswerChain`, which decides beforehand whether the evidence is worth a
model call at all and falls back when a backend fails.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from assistant.answer.citations import CheckedAnswer, CitationChecker
from assistant.answer.prompt import NO_ANSWER, answer_messages, recent_turns
from assistant.answer.sources import number_sources
from assistant.domain import Answer, AnswerGuidance, Hit, Trace, Turn
from assistant.errors import AssistantError
from assistant.telemetry import LLM_REQUESTS, LLM_SECONDS, LLM_TOKENS, Tally, Telemetry
from assistant.tools.base import ToolResult

_THINKING = re.compile(r"<think>.*?(</think>|$)", re.S)


class LLMError(AssistantError):
    """A model backend failed; the chain counts it against the backend's circuit breaker."""

    def __init__(self, backend: str, message: str):
        self.backend = backend
        super().__init__(f"LLM backend {backend!r}: {message}")


class LLMUnavailable(LLMError):
    """Unreachable, or answering 5xx / 429."""


class LLMTimeout(LLMError):
    """No complete answer within the timeout."""


class LLMBadResponse(LLMError):
    """A 4xx (wrong URL, model or key) or a body that is not a chat completion."""


class UnsupportedAnswer(AssistantError):
    """The model answered, but no sentence of its answer is supported by the source it cites."""

    def __init__(self, checked: CheckedAnswer):
        self.checked = checked
        super().__init__(f"no supported sentence in the generated answer ({len(checked.sentences)} checked)")


class ModelDeclined(AssistantError):
    """The model said the sources do not answer the question."""


@dataclass
class RequestedCall:
    """A function call the model asked for."""

    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass
class Completion:
    text: str
    tool_calls: list[RequestedCall] = field(default_factory=list)
    ms: float = 0.0
    first_token_ms: float | None = None
    usage: dict[str, int] = field(default_factory=dict)  # prompt / completion tokens, when the endpoint says


class LLMClient:
    """One OpenAI-compatible endpoint. `base_url` includes the ``/v1`` (as ``OPENAI_BASE_URL`` does)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | str | None = None,
        *,
        timeout: float = 30.0,
        name: str = "llm",
        temperature: float = 0.1,
        max_tokens: int = 512,
        transport: httpx.BaseTransport | None = None,
        telemetry: Telemetry | None = None,
    ):
        self.name = name
        self.telemetry = telemetry or Tally()  # latency, outcome and tokens of every request
        self.base_url = base_url.rstrip("/")
        self.shown_url = shown_url(self.base_url)  # what messages call it: no user:pass@, no query
        self.model = model
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        parts = urlsplit(self.base_url)
        secrets = sorted({s for s in (key, parts.password, parts.query) if s}, key=len, reverse=True)

        def scrub(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "***")
            return text

        self._scrub = scrub
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._http = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), transport=transport
        )

    def __repr__(self) -> str:
        return f"LLMClient(name={self.name!r}, base_url={self.shown_url!r}, model={self.model!r})"

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        stream: bool = False,
        on_delta: Callable[[str], None] | None = None,
    ) -> Completion:
        """One chat completion; with `stream`, text arrives through `on_delta` as it is generated."""
        body = self._body(messages, tools, stream)
        started = time.perf_counter()
        outcome = "bad_response"
        try:
            completion = self._complete(body, stream, on_delta, started)
            outcome = "ok"
            return completion
        except LLMError as exc:
            outcome = _OUTCOMES.get(type(exc), "bad_response")
            raise
        finally:
            self.telemetry.count(LLM_REQUESTS, backend=self.name, outcome=outcome)
            self.telemetry.observe(LLM_SECONDS, time.perf_counter() - started, backend=self.name)

    def _complete(self, body: dict[str, Any], stream: bool, on_delta: Callable[[str], None] | None,
                  started: float) -> Completion:
        usage: dict[str, int] = {}
        with self._errors():
            if stream:
                text: list[str] = []
                calls: dict[int, dict[str, str]] = {}
                first: float | None = None
                for kind, index, value in self._events(body, started):
                    if kind == "usage":
                        usage = _usage(json.loads(value))
                    elif kind == "text":
                        first = first or time.perf_counter()
                        text.append(value)
                        if on_delta:
                            on_delta(value)
                    else:
                        slot = calls.setdefault(index, {"name": "", "arguments": ""})
                        slot[kind] += value
                requested = [RequestedCall(c["name"], c["arguments"]) for _, c in sorted(calls.items())]
                completion = Completion("".join(text), requested)
                if first is not None:
                    completion.first_token_ms = round((first - started) * 1000, 1)
            else:
                response = self._http.post(f"{self.base_url}/chat/completions", json=body)
                self._raise_for_status(response)
                completion = _parse_completion(self.name, response)
                usage = completion.usage
        completion.ms = round((time.perf_counter() - started) * 1000, 1)
        completion.usage = usage
        for kind, tokens in usage.items():
            self.telemetry.count(LLM_TOKENS, tokens, backend=self.name, kind=kind)
        return completion

    def stream(self, messages: list[dict[str, Any]]) -> Iterator[str]:
        """Yield the answer's text piece by piece as the endpoint generates it."""
        started = time.perf_counter()
        with self._errors():
            for kind, _, value in self._events(self._body(messages, None, True), started):
                if kind == "text":
                    yield value

    def close(self) -> None:
        self._http.close()

    def _body(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": stream,
        }
        if stream:  # the last event then reports the tokens used (OpenAI, vLLM, Ollama, llama.cpp)
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        return body

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Transport failures become named errors that never carry the key."""
        try:
            yield
        except httpx.TimeoutException:
            raise LLMTimeout(self.name, f"no answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise LLMUnavailable(self.name, f"cannot reach {self.shown_url} ({exc.__class__.__name__})") from None

    def _events(self, body: dict[str, Any], started: float) -> Iterator[tuple[str, int, str]]:
        """Server-sent events of a streamed completion as ("text", 0, piece) or ("name"/"arguments", index, piece)."""
        with self._http.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
            if response.status_code >= 400:
                response.read()
                self._raise_for_status(response)
            for line in response.iter_lines():
                if time.perf_counter() - started > self.timeout:
                    raise LLMTimeout(self.name, f"stream still running after {self.timeout:g} s")
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                    if isinstance(event.get("usage"), dict):
                        yield "usage", 0, json.dumps(event["usage"])
                    if not event["choices"]:  # the usage event has no choices
                        continue
                    delta = event["choices"][0].get("delta") or {}
                except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                    raise LLMBadResponse(self.name, "a stream event is not a chat completion chunk") from None
                if delta.get("content"):
                    yield "text", 0, delta["content"]
                for call in delta.get("tool_calls") or []:
                    fn = call.get("function") or {}
                    for part in ("name", "arguments"):
                        if fn.get(part):
                            yield part, call.get("index", 0), fn[part]

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = self._scrub(response.text[:200].replace("\n", " "))  # some endpoints echo the key
        if status >= 500 or status == 429:
            raise LLMUnavailable(self.name, f"{self.shown_url} answered {status}: {detail}")
        hint = "check the base_url, model and api_key of this backend in ASSISTANT_LLM__BACKENDS"
        raise LLMBadResponse(self.name, f"{self.shown_url} answered {status}: {detail}; {hint}")


_OUTCOMES: dict[type[LLMError], str] = {LLMTimeout: "timeout", LLMUnavailable: "unavailable",
                                         LLMBadResponse: "bad_response"}


def _usage(reported: Any) -> dict[str, int]:
    """``{"prompt": n, "completion": n}`` from an OpenAI ``usage`` object; what is missing is left out."""
    if not isinstance(reported, dict):
        return {}
    found = {kind: reported.get(f"{kind}_tokens") for kind in ("prompt", "completion")}
    return {kind: n for kind, n in found.items() if isinstance(n, int) and n >= 0}


def _parse_completion(name: str, response: httpx.Response) -> Completion:
    try:
        reply = response.json()
        message = reply["choices"][0]["message"]
        calls = [
            RequestedCall(c["function"]["name"], c["function"].get("arguments") or "{}")
            for c in message.get("tool_calls") or []
        ]
        return Completion(message.get("content") or "", calls, usage=_usage(reply.get("usage")))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LLMBadResponse(name, "the answer is not a chat completion") from None


class LLMAnswerer:
    """Generates an answer from numbered sources with one model, and enforces its citations."""

    def __init__(
        self,
        client: LLMClient,
        checker: CitationChecker,
        *,
        stream: bool = True,
        history_turns: int = 6,
        max_hits: int = 5,
    ):
        self.client = client
        self.checker = checker
        self.stream = stream
        self.history_turns = history_turns
        self.max_hits = max_hits

    @property
    def name(self) -> str:
        return self.client.name

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        tool_results: Sequence[ToolResult] = (),
        history: Sequence[Turn] = (),
        guidance: AnswerGuidance | None = None,
    ) -> Answer:
        """A cited answer; raises `LLMError` (backend failed), `ModelDeclined` or `UnsupportedAnswer`.
        ``guidance`` (a routing rule's style and instruction) goes into the system prompt."""
        sources = number_sources(hits[: self.max_hits], tool_results)
        messages = answer_messages(question, sources, recent_turns(history, self.history_turns), guidance)
        completion = self.client.complete(messages, stream=self.stream)
        trace = Trace(question=question)
        timing = f"{completion.ms:.0f} ms" + (
            f", first token {completion.first_token_ms:.0f} ms" if completion.first_token_ms is not None else ""
        )
        trace.notes.append(f"answered by LLM backend {self.name!r} ({self.client.model}, {timing})")
        text = _THINKING.sub("", completion.text).strip()  # reasoning models (DeepSeek-R1, Qwen3) think aloud first
        if not text or (NO_ANSWER in text.upper() and len(text) <= len(NO_ANSWER) + 20):
            raise ModelDeclined(f"LLM backend {self.name!r} found no answer in the sources")
        checked = self.checker.check(text, sources, question=question)
        if checked.supported == 0:
            raise UnsupportedAnswer(checked)
        trace.notes.extend(checked.notes())
        return Answer(question=question, answer=checked.text, refused=False, citations=checked.citations, trace=trace)


def shown_url(url: str) -> str:
    """``url`` as messages may show it: without credentials (``user:pass@``) or a query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
