"""Reads QAPI schema files: a JSON-like syntax with single-quoted strings and '#'
comments. Follows 'include' directives (each file once) and collects pragmas."""

import os

from errors import QAPIError, SourceInfo


class Pragma:
    def __init__(self):
        self.doc_required = False
        self.command_name_exceptions = []
        self.command_returns_exceptions = []
        self.documentation_exceptions = []
        self.member_name_exceptions = []


class Expression:
    def __init__(self, data, info):
        self.data = data  # dict with keys in source order
        self.info = info


class _FileParser:
    def __init__(self, fname, text, info_parent):
        self.fname = fname
        self.src = text
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.parent = info_parent
        self.tok = None
        self.val = None
        self.tok_line = 1
        self.tok_col = 1

    def error(self, msg):
        raise QAPIError(SourceInfo(self.fname, self.tok_line, self.parent), msg,
                        self.tok_col)

    def next_token(self):
        while True:
            if self.pos >= len(self.src):
                self.tok = None
                self.tok_line = self.line
                self.tok_col = self.pos - self.line_start + 1
                return
            ch = self.src[self.pos]
            self.tok_line = self.line
            self.tok_col = self.pos - self.line_start + 1
            self.pos += 1
            if ch == '\n':
                self.line += 1
                self.line_start = self.pos
            elif ch in ' \t\r':
                pass
            elif ch == '#':
                # Comments, including '##' documentation blocks, are skipped.
                end = self.src.find('\n', self.pos)
                self.pos = len(self.src) if end < 0 else end
            elif ch in '{}[]:,':
                self.tok = ch
                return
            elif ch == "'":
                chars = []
                while True:
                    if self.pos >= len(self.src) or self.src[self.pos] == '\n':
                        self.error("missing terminating \"'\"")
                    c = self.src[self.pos]
                    self.pos += 1
                    if c == "'":
                        break
                    if c == '\\':
                        esc = self.src[self.pos] if self.pos < len(self.src) else ''
                        self.pos += 1
                        if esc not in ("\\", "/", "'"):
                            self.error("unknown escape \\%s" % esc)
                        c = esc
                    elif not (' ' <= c <= '~'):
                        self.error("funny character in string")
                    chars.append(c)
                self.tok = "'"
                self.val = ''.join(chars)
                return
            elif self.src.startswith('true', self.pos - 1):
                self.pos += 3
                self.tok = 'b'
                self.val = True
                return
            elif self.src.startswith('false', self.pos - 1):
                self.pos += 4
                self.tok = 'b'
                self.val = False
                return
            else:
                end = self.pos
                while end < len(self.src) and (self.src[end].isalnum() or
                                               self.src[end] in '_-.'):
                    end += 1
                self.error("stray '%s'" % self.src[self.pos - 1:end])

    def get_value(self):
        if self.tok == '{':
            return self.get_members()
        if self.tok == '[':
            return self.get_values()
        if self.tok in ("'", 'b'):
            val = self.val
            self.next_token()
            return val
        self.error("expected '{', '[', string, or boolean")

    def get_members(self):
        result = {}
        self.next_token()
        if self.tok == '}':
            self.next_token()
            return result
        while True:
            if self.tok != "'":
                self.error("expected string or '}'")
            key = self.val
            if key in result:
                self.error("duplicate key '%s'" % key)
            self.next_token()
            if self.tok != ':':
                self.error("expected ':'")
            self.next_token()
            result[key] = self.get_value()
            if self.tok == '}':
                self.next_token()
                return result
            if self.tok != ',':
                self.error("expected ',' or '}'")
            self.next_token()
            if self.tok != "'":
                self.error("expected string")

    def get_values(self):
        result = []
        self.next_token()
        if self.tok == ']':
            self.next_token()
            return result
        while True:
            result.append(self.get_value())
            if self.tok == ']':
                self.next_token()
                return result
            if self.tok != ',':
                self.error("expected ',' or ']'")
            self.next_token()

    def expressions(self):
        """Yields (dict, SourceInfo) for each top-level expression."""
        self.next_token()
        while self.tok is not None:
            if self.tok != '{':
                self.error("expected '{'")
            info = SourceInfo(self.fname, self.tok_line, self.parent)
            data = self.get_members()
            yield data, info


class SchemaParser:
    """Parses a schema and its includes into a flat list of Expressions, in the
    order the definitions appear (an include expands in place)."""

    def __init__(self, fname):
        self.pragma = Pragma()
        self.exprs = []
        self.included = set()
        # Module (file) names in order of first appearance.
        self.modules = []
        self._parse_file(fname, None, [])

    def _parse_file(self, fname, incl_info, stack):
        self.included.add(os.path.abspath(fname))
        self.modules.append(fname)
        try:
            with open(fname, encoding='utf-8') as f:
                text = f.read()
        except OSError as e:
            if incl_info is None:
                raise QAPIError(None, "can't read schema file '%s': %s"
                                % (fname, e.strerror))
            raise QAPIError(incl_info, "can't read include file '%s': %s"
                            % (fname, e.strerror))
        except UnicodeDecodeError:
            raise QAPIError(incl_info, "schema file '%s' is not UTF-8" % fname)
        parser = _FileParser(fname, text, incl_info)
        stack = stack + [os.path.abspath(fname)]
        for data, info in parser.expressions():
            if 'include' in data:
                self._include(data, info, fname, stack)
            elif 'pragma' in data:
                self._pragma(data, info)
            else:
                self.exprs.append(Expression(data, info))

    def _include(self, data, info, fname, stack):
        if len(data) != 1:
            raise QAPIError(info, "invalid 'include' directive")
        incl = data['include']
        if not isinstance(incl, str):
            raise QAPIError(info, "value of 'include' must be a string")
        incl_fname = os.path.join(os.path.dirname(fname), incl)
        full = os.path.abspath(incl_fname)
        if full in stack:
            raise QAPIError(info, "inclusion loop for %s" % incl)
        if full in self.included:
            return
        self._parse_file(incl_fname, info, stack)

    def _pragma(self, data, info):
        if len(data) != 1:
            raise QAPIError(info, "invalid 'pragma' directive")
        body = data['pragma']
        if not isinstance(body, dict):
            raise QAPIError(info, "value of 'pragma' must be an object")
        for name, value in body.items():
            if name == 'doc-required':
                if not isinstance(value, bool):
                    raise QAPIError(info,
                                    "pragma 'doc-required' must be boolean")
                self.pragma.doc_required = value
            elif name in ('command-name-exceptions',
                          'command-returns-exceptions',
                          'documentation-exceptions',
                          'member-name-exceptions'):
                if (not isinstance(value, list)
                        or any(not isinstance(v, str) for v in value)):
                    raise QAPIError(info, "pragma %s must be a list of strings"
                                    % name)
                attr = name.replace('-', '_')
                setattr(self.pragma, attr, getattr(self.pragma, attr) + value)
            else:
                raise QAPIError(info, "unknown pragma '%s'" % name)
