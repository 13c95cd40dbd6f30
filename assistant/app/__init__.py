"""The composition root and the front doors: settings, the services container, the HTTP API, the CLI."""
