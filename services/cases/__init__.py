"""The case exchange: diversion cases shared under their provider's control (rules 13-21)."""
