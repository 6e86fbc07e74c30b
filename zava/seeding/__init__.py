"""The demo dataset: its definition (files under ``seed/``), generator and loader."""
