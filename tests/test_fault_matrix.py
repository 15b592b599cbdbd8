"""The fault matrix: every hostile server, file and terminal input of issue 6, over real HTTP.

Each section is one row of the matrix (what an attacker or a broken proxy does →
what the app must do). The servers are ``tests/hostile.py`` on loopback; nothing
here is mocked below the socket.
"""

from __future__ import annotations

from hostile import HostileServer  # noqa: F401 - the fixture's type, used by every section


# --- 1. escape sequences in the currency field ---------------------------------------


# --- 2. server text in toasts, reasons, hints and stderr -----------------------------


# --- 3. one sanitizer: escapes, bidi, zero-width ------------------------------------


# --- 4. response size: big, endless, gzip bomb -----------------------------------------


# --- 5. timeout is the whole request's deadline --------------------------------------


# --- 6. Voximplant paging that never ends; absurd numbers ------------------------------


# --- 7. 3xx replies are errors; a failed fetch keeps the cache ------------------------


# --- 8. CSV formula injection, raw escapes in exports ----------------------------------


# --- 9. secrets in the crash screen ------------------------------------------------------


# --- 10. secrets readable by others --------------------------------------------------


# --- 11. stale temp files of killed saves -------------------------------------------------


# --- 12. export --output onto special files ------------------------------------------


# --- 13. config reading limits, unknown account keys, BOM ------------------------------


# --- 14. PDF save: planted symlinks, races, never the cwd ---------------------------------


# --- 15. redaction of any form of a secret; weak keys ---------------------------------
