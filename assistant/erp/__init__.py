"""The ERP: the HTTP client the tools use, and a demo ERP service that serves the same API."""
