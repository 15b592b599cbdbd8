"""invoice-tui: a keyboard-driven terminal billing explorer."""

__version__ = "0.1.0"
