#!/usr/bin/env python3
"""Checks that each layer includes only the layers below it.

The order is util <- qobject <- qapi <- char, block <- monitor <- system, with the
programs in tools/ on top of the block layer. A layer's folder may include its own
headers and those of the layers it is allowed to use; anything else (an upward or a
sideways include) is a cycle in the making and fails the check.

Usage: check-layers.py SOURCE_ROOT
"""

import pathlib
import re
import sys

ALLOWED = {
    'util': {'util'},
    'qobject': {'util', 'qobject'},
    'qapi': {'util', 'qobject', 'qapi'},
    'char': {'util', 'qobject', 'qapi', 'char'},
    'block': {'util', 'qobject', 'qapi', 'block'},
    'monitor': {'util', 'qobject', 'qapi', 'char', 'block', 'monitor'},
    'system': {'util', 'qobject', 'qapi', 'char', 'block', 'monitor', 'system'},
    'tools': {'util', 'qobject', 'qapi', 'block', 'tools'},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]*"', re.MULTILINE)


def main():
    root = pathlib.Path(sys.argv[1])
    failures = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((root / layer).rglob('*')):
            if path.suffix not in ('.cc', '.h'):
                continue
            text = path.read_text(encoding='utf-8')
            for match in INCLUDE.finditer(text):
                used = match.group(1)
                if used in ALLOWED and used not in allowed:
                    line = text.count('\n', 0, match.start()) + 1
                    failures.append('%s:%d: %s/ must not include %s/' %
                                    (path.relative_to(root), line, layer, used))
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
