"""Error types of the QAPI generator: every error names the schema file and line."""


class SourceInfo:
    """Where an expression starts, plus what pragmas were in force for its file."""

    def __init__(self, fname, line, parent=None):
        self.fname = fname
        self.line = line
        self.parent = parent  # SourceInfo of the include directive, if any

    def loc(self):
        return '%s:%d' % (self.fname, self.line)

    def include_chain(self):
        lines = []
        parent = self.parent
        while parent:
            lines.append('In file included from %s:' % parent.loc())
            parent = parent.parent
        return lines


class QAPIError(Exception):
    def __init__(self, info, msg, col=None):
        super().__init__(msg)
        self.info = info
        self.msg = msg
        self.col = col

    def __str__(self):
        if self.info is None:
            return self.msg
        prefix = self.info.include_chain()
        loc = self.info.loc()
        if self.col is not None:
            loc += ':%d' % self.col
        return '\n'.join(prefix + ['%s: %s' % (loc, self.msg)])
