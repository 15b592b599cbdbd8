"""Widgets of the invoice-tui app."""
