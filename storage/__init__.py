"""SQLite storage through sqlite-utils: schema, migrations and queries per table family.

sqlite-utils imports numpy and pandas when they are installed (matplotlib brings numpy), only to map
their value types to columns; nothing here stores such values, and numpy alone took about half of a
`once` poll that finds every feed unchanged. So sqlite-utils is imported here, first, with those two
hidden from it; a later `import numpy` (a chart) works as usual.
"""

import sys

_HIDDEN = [name for name in ("numpy", "pandas") if name not in sys.modules]
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]  # `import numpy` raises ImportError
try:
    import sqlite_utils  # noqa: F401
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]
