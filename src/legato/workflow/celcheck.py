"""A CEL expression checked against the documented context, before it is ever evaluated.

cel-rust parses and evaluates but does not type-check, and does not expose its syntax tree,
so this module reads the expression once more with a small recursive-descent parser of the
CEL grammar (https://github.com/google/cel-spec/blob/master/doc/langdef.md#syntax) and
follows each name through the context schema: an unknown name, field or function, a field of
something that has none, a condition that is not true/false and int mixed with double in
arithmetic are reported with their position. It only runs on text cel-rust has parsed, and
it never evaluates anything.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

Node = Mapping[str, Any]

_TOKEN = re.compile(
    r"""(?P<ws>\s+|//[^\n]*)
    |(?P<string>(?:[rR][bB]?|[bB][rR])(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"[^"\n]*"|'[^'\n]*')
       |[bB]?(?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    |(?P<double>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<uint>(?:0[xX][0-9a-fA-F]+|\d+)[uU])
    |(?P<int>0[xX][0-9a-fA-F]+|\d+)
    |(?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
    |(?P<op>\|\||&&|==|!=|<=|>=|[<>!?:.,()\[\]{}+\-*/%])""",
    re.X,
)
_NUMERIC = frozenset({"int", "uint", "double"})
_ORDERED = frozenset({"string", "bytes", "bool", "timestamp", "duration"})
#: functions cel-rust has natively: global form -> result type
_GLOBALS = {
    **{n: n for n in ("int", "uint", "double", "string", "bytes", "timestamp", "duration", "dyn", "type")},
    "size": "int",
}
_TIME_PARTS = ("getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfYear", "getDayOfWeek",
               "getHours", "getMinutes", "getSeconds", "getMilliseconds")  # fmt: skip
#: receiver-style functions: name -> (receiver types, result type)
_METHODS: dict[str, tuple[frozenset[str], str]] = {
    **{n: (frozenset({"string"}), "bool") for n in ("contains", "startsWith", "endsWith", "matches")},
    "size": (frozenset({"string", "bytes", "list", "map"}), "int"),
    **{n: (frozenset({"timestamp", "duration"}), "int") for n in _TIME_PARTS},
}
_MACROS = {"all": "bool", "exists": "bool", "exists_one": "bool", "filter": "list", "map": "list"}
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type"}
)
FUNCTIONS = tuple(sorted({*_GLOBALS, *_METHODS, *_MACROS, "has"}))


class CheckError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message, self.pos = message, pos


@dataclass(frozen=True)
class _T:
    """What an expression is known to be: a CEL type, its schema node and its path."""

    kind: str  # int uint double string bytes bool null timestamp duration list map type dyn
    node: Node | None = None
    path: str = ""
    literal: str | None = None  # a plain string literal's text (for m["key"])

    def says(self) -> str:
        kind = f"{'an' if self.kind == 'int' else 'a'} {self.kind}"
        return f"{self.path} ({kind})" if self.path else kind


_DYN = _T("dyn")


def _of(node: Node, path: str) -> _T:
    return _T(node.get("type", "dyn"), node, path)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(expr: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise CheckError(f"unexpected character {expr[pos]!r}", pos)
        kind = m.lastgroup or "op"
        if kind != "ws":
            text = m.group()
            out.append(_Tok("kw" if text in ("true", "false", "null", "in") else kind, text, pos))
        pos = m.end()
    out.append(_Tok("end", "", len(expr)))
    return out


def check(expr: str, schema: Mapping[str, Node], trigger: str = "") -> tuple[str, ...]:
    """Check ``expr`` against ``schema`` (name -> node); the context fields it reads.
    Raises CheckError(message, character offset)."""
    c = _Checker(expr, schema, trigger)
    result = c.expr()
    if c.tok.kind != "end":
        c.fail(c.tok.pos, f"unexpected {c.tok.text!r}")
    if result.kind not in ("bool", "dyn"):
        c.fail(0, f"a condition must be true or false, but this expression is {result.says()}")
    seen = sorted(c.read)
    return tuple(p for p in seen if not any(q.startswith(p + ".") or q.startswith(p + "[") for q in seen))


class _Checker:
    MAX_DEPTH = 60

    def __init__(self, expr: str, schema: Mapping[str, Node], trigger: str) -> None:
        self.toks, self.i, self.depth = _tokens(expr), 0, 0
        self.schema, self.trigger = schema, trigger
        self.scopes: list[dict[str, _T]] = []
        self.read: set[str] = set()

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "kw") and self.tok.text in texts

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        if not self.at(text):
            self.fail(self.tok.pos, f"expected {text!r}")
        return self.take()

    def fail(self, pos: int, message: str) -> NoReturn:
        raise CheckError(message, pos)

    def want_bool(self, t: _T, pos: int, what: str) -> None:
        if t.kind not in ("bool", "dyn"):
            self.fail(pos, f"{what} needs true or false, but {t.says()} is not")

    # --- the grammar, loosest first ---

    def expr(self) -> _T:
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            self.fail(self.tok.pos, f"the expression is nested more than {self.MAX_DEPTH} deep")
        cond = self.binary(0)
        if self.at("?"):
            self.want_bool(cond, self.take().pos, "?:")
            a = self.binary(0)
            self.expect(":")
            b = self.expr()
            cond = a if (a.kind == b.kind and a.kind not in ("list", "map")) else _DYN
        self.depth -= 1
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> _T:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.at(*self._LEVELS[level]):
            op = self.take()
            right = self.binary(level + 1)
            left = self.combine(op, left, right)
        return left

    def combine(self, op: _Tok, a: _T, b: _T) -> _T:
        o, known = op.text, a.kind != "dyn" and b.kind != "dyn"
        if o in ("||", "&&"):
            self.want_bool(a, op.pos, o)
            self.want_bool(b, op.pos, o)
            return _T("bool")
        if o == "in":
            if b.kind not in ("list", "map", "dyn"):
                self.fail(op.pos, f"'in' needs a list or a map on its right, not {b.says()}")
            return _T("bool")
        if o in ("==", "!="):
            if (
                known
                and "null" not in (a.kind, b.kind)
                and a.kind != b.kind
                and not {a.kind, b.kind} <= _NUMERIC
            ):
                self.fail(op.pos, f"{a.says()} is never equal to {b.says()}")
            return _T("bool")
        if o in ("<", "<=", ">", ">="):
            if known and not ({a.kind, b.kind} <= _NUMERIC or (a.kind == b.kind and a.kind in _ORDERED)):
                self.fail(op.pos, f"cannot compare {a.says()} with {b.says()}")
            return _T("bool")
        if not known:
            return _DYN
        if a.kind == b.kind and (
            a.kind in _NUMERIC - ({"double"} if o == "%" else set())
            or (o == "+" and a.kind in ("string", "bytes", "list", "duration"))
            or (o == "-" and a.kind == "duration")
        ):
            return _T(a.kind, a.node if a.kind == "list" else None)
        if o in ("+", "-") and (a.kind, b.kind) == ("timestamp", "duration"):
            return _T("timestamp")
        if o == "+" and (a.kind, b.kind) == ("duration", "timestamp"):
            return _T("timestamp")
        if o == "-" and (a.kind, b.kind) == ("timestamp", "timestamp"):
            return _T("duration")
        if {a.kind, b.kind} <= _NUMERIC:
            mixed = f"CEL does not mix {a.kind} and {b.kind} in arithmetic ({a.says()} {o} {b.says()})"
            self.fail(op.pos, f"{mixed}: write whole numbers with a decimal point (10.0), or use double()")
        self.fail(op.pos, f"cannot apply {o} to {a.says()} and {b.says()}")

    def unary(self) -> _T:
        ops = []
        while self.at("!", "-"):
            ops.append(self.take())
        t = self.member(self.primary())
        for op in reversed(ops):
            if op.text == "!":
                self.want_bool(t, op.pos, "!")
                t = _T("bool")
            elif t.kind not in (*_NUMERIC, "duration", "dyn"):
                self.fail(op.pos, f"cannot negate {t.says()}")
        return t

    def member(self, t: _T) -> _T:
        while True:
            if self.at("."):
                self.take()
                name = self.take()
                if name.kind != "ident":
                    self.fail(name.pos, "a field or function name after '.'")
                t = self.method(t, name) if self.at("(") else self.select(t, name.text, name.pos)
            elif self.at("["):
                pos = self.take().pos
                key = self.expr()
                self.expect("]")
                t = self.index(t, key, pos)
            elif self.at("{"):
                self.fail(self.tok.pos, "message construction (Type{...}) is not available in conditions")
            else:
                return t

    def primary(self) -> _T:
        tok = self.take()
        if tok.kind == "op" and tok.text == "." and self.tok.kind == "ident":
            tok = self.take()  # a leading dot: the root scope
        if tok.kind == "ident":
            return self.call(tok) if self.at("(") else self.name(tok)
        if tok.text == "(":
            t = self.expr()
            self.expect(")")
            return t
        if tok.text == "[":
            items = self.items("]")
            kinds = {i.kind for i in items}
            elem = (items[0].node or {"type": items[0].kind}) if len(kinds) == 1 else {"type": "dyn"}
            return _T("list", {"type": "list", "items": elem})
        if tok.text == "{":
            while not self.at("}"):
                self.expr()
                self.expect(":")
                self.expr()
                if not self.at(","):
                    break
                self.take()
            self.expect("}")
            return _T("map", {"type": "map"})
        if tok.kind == "string":
            prefix = tok.text[: len(tok.text) - len(tok.text.lstrip("rRbB"))].lower()
            if "b" in prefix:
                return _T("bytes")
            plain = not prefix and "\\" not in tok.text and not tok.text.startswith(('"""', "'''"))
            return _T("string", literal=tok.text[1:-1] if plain else None)
        if tok.kind in ("int", "uint", "double"):
            return _T(tok.kind)
        if tok.kind == "kw" and tok.text in ("true", "false", "null"):
            return _T("null" if tok.text == "null" else "bool")
        self.fail(tok.pos, f"unexpected {tok.text or 'end of the expression'!r}")

    def items(self, close: str) -> list[_T]:
        out = []
        while not self.at(close):
            out.append(self.expr())
            if not self.at(","):
                break
            self.take()
        self.expect(close)
        return out

    def name(self, tok: _Tok) -> _T:
        for scope in reversed(self.scopes):
            if tok.text in scope:
                return scope[tok.text]
        node = self.schema.get(tok.text)
        if node is not None:
            self.read.add(tok.text)
            return _of(node, tok.text)
        if tok.text in _TYPE_NAMES:
            return _T("type")
        on = f" on {self.trigger}" if self.trigger else ""
        self.fail(tok.pos, f"unknown name {tok.text!r}{self.hint(tok.text, self.schema)}; a condition{on} "
                           f"sees {', '.join(sorted(self.schema))}")  # fmt: skip

    def hint(self, name: str, known: Mapping[str, Any]) -> str:
        close = difflib.get_close_matches(name, list(known), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def select(self, t: _T, name: str, pos: int) -> _T:
        if t.kind == "dyn":
            return _DYN
        if t.kind != "map":
            self.fail(pos, f"{t.says()} has no field {name!r}")
        fields, values = (t.node or {}).get("fields"), (t.node or {}).get("values")
        path = f"{t.path}.{name}" if t.path else name
        if fields is not None and name in fields:
            self.read.add(path)
            return _of(fields[name], path)
        if values is not None:
            return _of(values, path)
        if fields is None:
            return _DYN
        self.fail(pos, f"unknown field {name!r} of {t.path or 'this map'}{self.hint(name, fields)}; "
                       f"it has {', '.join(sorted(fields))}")  # fmt: skip

    def index(self, t: _T, key: _T, pos: int) -> _T:
        if t.kind == "list":
            if key.kind not in ("int", "uint", "dyn"):
                self.fail(pos, f"a list is indexed by a whole number, not {key.says()}")
            return _of((t.node or {}).get("items", {}), f"{t.path}[]" if t.path else "")
        if t.kind == "map":
            if key.literal is not None and (t.node or {}).get("fields") is not None:
                return self.select(t, key.literal, pos)
            values = (t.node or {}).get("values")
            return _of(values, f"{t.path}[]") if values is not None else _DYN
        if t.kind == "dyn":
            return _DYN
        self.fail(pos, f"cannot index {t.says()}")

    def call(self, tok: _Tok) -> _T:
        self.expect("(")
        if tok.text == "has":
            start = self.i
            self.expr()
            before, last = self.toks[self.i - 2], self.toks[self.i - 1]
            if self.i - start < 3 or before.text != "." or last.kind != "ident":
                self.fail(tok.pos, "has() takes a field, as in has(account.tier)")
            self.expect(")")
            return _T("bool")
        if tok.text not in _GLOBALS:
            self.unknown_function(tok)
        args = self.items(")")
        if tok.text == "size" and args and args[0].kind not in ("string", "bytes", "list", "map", "dyn"):
            self.fail(tok.pos, f"size() of {args[0].says()}")
        return _T(_GLOBALS[tok.text])

    def method(self, t: _T, tok: _Tok) -> _T:
        self.expect("(")
        if tok.text in _MACROS and self.tok.kind == "ident" and self.toks[self.i + 1].text == ",":
            return self.macro(t, tok)
        if tok.text not in _METHODS:
            self.unknown_function(tok)
        receivers, result = _METHODS[tok.text]
        if t.kind not in receivers and t.kind != "dyn":
            self.fail(tok.pos, f"{tok.text}() does not apply to {t.says()}")
        self.items(")")
        return _T(result)

    def macro(self, t: _T, tok: _Tok) -> _T:
        var = self.take()
        self.expect(",")
        if t.kind == "list":
            elem = _of((t.node or {}).get("items", {}), f"{t.path}[]" if t.path else "")
        elif t.kind == "map":
            elem = _T("string")
        elif t.kind == "dyn":
            elem = _DYN
        else:
            self.fail(tok.pos, f"{tok.text}() needs a list or a map, not {t.says()}")
        self.scopes.append({var.text: elem})
        pos = self.tok.pos
        body = self.expr()
        if tok.text == "map" and self.at(","):  # map(x, filter, value)
            self.want_bool(body, pos, "map()'s filter")
            self.take()
            body = self.expr()
        elif tok.text != "map":
            self.want_bool(body, pos, f"{tok.text}()")
        self.scopes.pop()
        self.expect(")")
        if tok.text == "filter":
            return t if t.kind == "list" else _T("list", {"type": "list", "items": {"type": elem.kind}})
        if tok.text == "map":
            return _T("list", {"type": "list", "items": body.node or {"type": body.kind}})
        return _T("bool")

    def unknown_function(self, tok: _Tok) -> NoReturn:
        known = dict.fromkeys(FUNCTIONS)
        self.fail(tok.pos, f"unknown function {tok.text!r}{self.hint(tok.text, known)}; "
                           f"functions: {', '.join(FUNCTIONS)}")  # fmt: skip


__all__ = ["FUNCTIONS", "CheckError", "check"]
