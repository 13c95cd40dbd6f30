"""Customer-service knowledge assistant: cited answers from a company's own SOPs and FAQs."""

__version__ = "0.2.0"
