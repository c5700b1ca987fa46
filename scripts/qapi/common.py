"""Naming and condition helpers shared by the checker and the C++ emitters."""

import re

# C and C++ keywords, plus names the C library or compilers may define as
# macros. A schema name that maps onto one of these gets the 'q_' prefix.
_PROTECTED = set('''
alignas alignof and and_eq asm auto bitand bitor bool break case catch char
char8_t char16_t char32_t class compl concept const consteval constexpr
constinit const_cast continue co_await co_return co_yield decltype default
delete do double dynamic_cast else enum explicit export extern false float for
friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast
requires restrict return short signed sizeof static static_assert static_cast
struct switch template this thread_local throw true try typedef typeid
typename union unsigned using virtual void volatile wchar_t while xor xor_eq
_Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
_Static_assert _Thread_local
unix linux errno assert NULL EOF
'''.split())


def c_name(name, protect=True):
    """The identifier for a schema name: '-', '.' and '+' become '_'; keywords
    and names starting with a digit get the 'q_' prefix."""
    ident = re.sub(r'[^A-Za-z0-9_]', '_', name)
    if protect and (ident in _PROTECTED or ident[0].isdigit()):
        return 'q_' + ident
    return ident


def cond_expr(cond):
    """A preprocessor expression for an 'if' condition (already checked)."""
    if isinstance(cond, str):
        return 'defined(%s)' % cond
    (op, arg), = cond.items()
    if op == 'not':
        return '!' + _paren(arg)
    sep = ' && ' if op == 'all' else ' || '
    return sep.join(_paren(c) for c in arg)


def _paren(cond):
    if isinstance(cond, str):
        return cond_expr(cond)
    (op, arg), = cond.items()
    if op == 'not' or len(arg) == 1:
        return cond_expr(cond)
    return '(' + cond_expr(cond) + ')'


def wrap_if(cond, text):
    """Surrounds generated lines with #if/#endif when there is a condition."""
    if not cond:
        return text
    if not text.endswith('\n'):
        text += '\n'
    return '#if %s\n%s#endif\n' % (cond_expr(cond), text)


def wrap_conds(conds, text):
    for cond in reversed(conds):
        text = wrap_if(cond, text)
    return text


def cpp_string(s):
    """A C++ string literal for an ASCII schema name."""
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'
