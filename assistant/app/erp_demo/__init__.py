"""The demo ERP: an order API over SQLite that `make run` starts beside the assistant (`assistant erp-demo`)."""
