"""One-off studies that use the harness pieces; run as modules, not part of the test suite."""
