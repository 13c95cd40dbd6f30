"""Tools the assistant can call while answering (ERP order lookup...), their registry and routing."""
