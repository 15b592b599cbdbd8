"""Everything Textual: the app, its screens and widgets (the only package importing textual)."""
