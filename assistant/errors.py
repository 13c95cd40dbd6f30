"""Named errors. Each carries what it concerns and says what to do."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for errors a user can act on."""


class ConfigError(AssistantError):
    """A setting is missing or wrong."""


class ModelNotAvailable(ConfigError):
    """A model package or directory is not installed here."""


class DataDirLocked(AssistantError):
    """Another process (usually the server) owns the data directory."""

    def __init__(self, data_dir: str, holder: dict):
        self.data_dir = data_dir
        self.holder = holder
        who = f"process {holder.get('pid')}"
        if holder.get("url"):
            who += f" serving {holder['url']}"
        super().__init__(
            f"data directory {data_dir} is in use by {who}; "
            "talk to that server over its API, or stop it first"
        )


class UnknownKnowledgeBase(AssistantError):
    def __init__(self, kb: str):
        self.kb = kb
        super().__init__(f"knowledge base {kb!r} does not exist; create it or pick one from `assistant kb list`")


class InvalidName(AssistantError):
    pass


class IngestError(AssistantError):
    """A file could not be ingested; the index is left as it was for that file."""

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class RateLimited(AssistantError):
    """Too many requests from one principal or group in the window."""

    def __init__(self, what: str, per_minute: int):
        super().__init__(f"too many questions from {what} (at most {per_minute} a minute); wait a moment")


class UnknownRule(AssistantError):
    def __init__(self, rule_id: int):
        self.rule_id = rule_id
        super().__init__(f"routing rule {rule_id} does not exist; list them with GET /v1/rules or `assistant rules list`")


class RuleConflict(AssistantError):
    """A rule was saved by someone else since it was read."""

    def __init__(self, rule_id: int, expected: int, current: int):
        self.rule_id = rule_id
        super().__init__(f"routing rule {rule_id} is at version {current}, not {expected}: someone saved it "
                         "meanwhile; read it again and repeat the change")


class InvalidRule(AssistantError):
    """A routing rule names something that is not there (a knowledge base, a tool, a backend)."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")
