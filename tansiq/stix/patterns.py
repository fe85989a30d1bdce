"""A fast validator for the STIX Patterning language (STIX 2.1 §9).

The reference implementation (``stix2-patterns``) drives an ANTLR parser and costs
about a millisecond a pattern; this module is a hand-written tokenizer and
recursive-descent parser for the same grammar that answers in a few microseconds,
plus an LRU cache keyed on the pattern text.

Grammar (``[]`` optional, ``*`` repetition)::

    pattern      := obsExprs EOF
    obsExprs     := obsOr ("FOLLOWEDBY" obsOr)*
    obsOr        := obsAnd ("OR" obsAnd)*
    obsAnd       := obsExpr ("AND" obsExpr)*
    obsExpr      := ("[" compExpr "]" | "(" obsExprs ")") qualifier*
    qualifier    := "START" ts "STOP" ts | "WITHIN" (int|float) "SECONDS" | "REPEATS" int "TIMES"
    compExpr     := compAnd ("OR" compAnd)*
    compAnd      := propTest ("AND" propTest)*
    propTest     := "(" compExpr ")" | ["NOT"] "EXISTS" path
                  | path ["NOT"] ("="|"!=") literal | path ["NOT"] ("<"|"<="|">"|">=") orderable
                  | path ["NOT"] "IN" "(" [literal ("," literal)*] ")"
                  | path ["NOT"] ("LIKE"|"MATCHES"|"ISSUBSET"|"ISSUPERSET") string
    path         := type ":" (ident|string) ("." (ident|string) | "[" (int|"*") "]")*

Tokens follow the reference lexer exactly (longest match, keywords case-sensitive,
``t'...'`` timestamps, ``h'...'`` hex, ``b'...'`` padded base64, strings with only
``\\'`` and ``\\\\`` escapes, ``/* */`` and ``//`` comments, the Unicode white space set).

Semantic checks on top of the grammar:

* a qualifier type may appear at most once on one observation expression (§9.5.1);
  the reference only checks simple ``[...]`` expressions, this checks parenthesised
  ones too;
* ``REPEATS x`` and ``WITHIN x`` need ``x > 0`` (§9.5.1 "MUST be a positive ...");
* the reference's hash check: a comparison on ``...hashes.<ALGO>`` for a known
  algorithm must compare with a value of that algorithm's format (for ``IN`` each
  member is checked; ``LIKE``/``MATCHES`` are partial values and are not checked);
* like the reference, the first character that is neither white space nor ``(``
  must be ``[``.

``pattern_version`` "2.0" differs only in having no ``EXISTS``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

__all__ = ["PatternInfo", "check_pattern", "pattern_info"]

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n\x0b\x0c\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+)
    |(?P<cm>/\*.*?\*/|//[^\r\n]*)
    |(?P<str>'(?:[^'\\]|\\['\\])*')
    |(?P<flt>[+-]?[0-9]*\.[0-9]+)
    |(?P<int>[+-]?(?:0|[1-9][0-9]*))
    |(?P<hex>h'(?:[0-9A-Fa-f]{2})*')
    |(?P<bin>b'(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)')
    |(?P<ts>t'[0-9]{4}-(?:0[1-9]|1[012])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?Z')
    |(?P<id>[A-Za-z_][A-Za-z0-9_-]*)
    |(?P<op>==|!=|<>|<=|>=|[=<>:.,()\[\]*])
    |(?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_KEYWORDS = frozenset(
    {
        "AND",
        "OR",
        "NOT",
        "FOLLOWEDBY",
        "LIKE",
        "MATCHES",
        "ISSUPERSET",
        "ISSUBSET",
        "EXISTS",
        "LAST",
        "IN",
        "START",
        "STOP",
        "SECONDS",
        "WITHIN",
        "REPEATS",
        "TIMES",
    }
)
_OPS = {"==": "=", "<>": "!="}

_LITERAL = frozenset({"int", "intn", "flt", "fltn", "str", "bin", "hex", "ts", "bool"})
_ORDERABLE = _LITERAL - {"bool"}
_EQ_OPS = frozenset({"=", "!="})
_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_STRING_OPS = frozenset({"LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"})

_HEX = "[a-fA-F0-9]"
#: Hash algorithm (upper case, without '-') -> value regex, as checked by the reference.
_HASH_FORMATS: dict[str, re.Pattern[str]] = {
    k: re.compile(v)
    for k, v in {
        "MD5": f"{_HEX}{{32}}",
        "MD6": f"{_HEX}{{32}}|{_HEX}{{40}}|{_HEX}{{56}}|{_HEX}{{64}}|{_HEX}{{96}}|{_HEX}{{128}}",
        "RIPEMD160": f"{_HEX}{{40}}",
        "SHA1": f"{_HEX}{{40}}",
        "SHA224": f"{_HEX}{{56}}",
        "SHA256": f"{_HEX}{{64}}",
        "SHA384": f"{_HEX}{{96}}",
        "SHA512": f"{_HEX}{{128}}",
        "SHA3224": f"{_HEX}{{56}}",
        "SHA3256": f"{_HEX}{{64}}",
        "SHA3384": f"{_HEX}{{96}}",
        "SHA3512": f"{_HEX}{{128}}",
        "SSDEEP": "[a-zA-Z0-9/+:.]{1,128}",
        "WHIRLPOOL": f"{_HEX}{{128}}",
    }.items()
}


class PatternInfo(NamedTuple):
    """Result of analysing a pattern."""

    error: str | None
    #: ``(object type, first path component)`` of every comparison, in order.
    paths: tuple[tuple[str, str], ...] = ()


class _Fail(Exception):
    pass


_Token = tuple[str, str]


def _tokenize(s: str) -> list[_Token]:
    toks: list[_Token] = []
    append = toks.append
    for m in _TOKEN_RE.finditer(s):
        kind = m.lastgroup
        text = m.group()
        if kind == "ws" or kind == "cm":
            continue
        if kind == "id":
            if text in _KEYWORDS:
                kind = text
            elif text == "true" or text == "false":
                kind = "bool"
            elif "-" in text:
                kind = "idh"
        elif kind == "op":
            kind = _OPS.get(text, text)
        elif kind == "int":
            if text[0] == "-":
                kind = "intn"
        elif kind == "flt":
            if text[0] == "-":
                kind = "fltn"
        elif kind == "bad":
            raise _Fail(f"unexpected character {text!r} at position {m.start()}")
        append((kind, text))  # type: ignore[arg-type]
    append(("EOF", ""))
    return toks


def _unquote(text: str) -> str:
    return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def _describe(tok: _Token) -> str:
    return "end of pattern" if tok[0] == "EOF" else repr(tok[1])


class _Parser:
    __slots__ = ("toks", "i", "exists", "paths")

    def __init__(self, toks: list[_Token], exists: bool) -> None:
        self.toks = toks
        self.i = 0
        self.exists = exists
        self.paths: list[tuple[str, str]] = []

    def fail(self, expected: str) -> _Fail:
        return _Fail(f"expected {expected}, found {_describe(self.toks[self.i])}")

    def take(self, kind: str, expected: str) -> str:
        tok = self.toks[self.i]
        if tok[0] != kind:
            raise self.fail(expected)
        self.i += 1
        return tok[1]

    def pattern(self) -> None:
        self.obs_exprs()
        if self.toks[self.i][0] != "EOF":
            raise self.fail("an observation operator (AND, OR, FOLLOWEDBY) or a qualifier")

    def obs_exprs(self) -> None:
        self.obs_or()
        while self.toks[self.i][0] == "FOLLOWEDBY":
            self.i += 1
            self.obs_or()

    def obs_or(self) -> None:
        self.obs_and()
        while self.toks[self.i][0] == "OR":
            self.i += 1
            self.obs_and()

    def obs_and(self) -> None:
        self.obs_expr()
        while self.toks[self.i][0] == "AND":
            self.i += 1
            self.obs_expr()

    def obs_expr(self) -> None:
        kind = self.toks[self.i][0]
        if kind == "[":
            self.i += 1
            self.comp_expr()
            self.take("]", "']' or a boolean operator")
        elif kind == "(":
            self.i += 1
            self.obs_exprs()
            self.take(")", "')' or an observation operator")
        else:
            raise self.fail("'[' or '('")
        seen = ""
        toks = self.toks
        while True:
            kind = toks[self.i][0]
            if kind == "START":
                self.i += 1
                self.take("ts", "a t'...' timestamp after START")
                self.take("STOP", "STOP")
                self.take("ts", "a t'...' timestamp after STOP")
                q = "S"
            elif kind == "WITHIN":
                self.i += 1
                tok = toks[self.i]
                if tok[0] != "int" and tok[0] != "flt":
                    raise self.fail("a positive number after WITHIN")
                if float(tok[1]) <= 0:
                    raise _Fail("WITHIN needs a positive number of seconds (§9.5.1)")
                self.i += 1
                self.take("SECONDS", "SECONDS")
                q = "W"
            elif kind == "REPEATS":
                self.i += 1
                text = self.take("int", "a positive integer after REPEATS")
                if int(text) <= 0:
                    raise _Fail("REPEATS needs a positive integer (§9.5.1)")
                self.take("TIMES", "TIMES")
                q = "R"
            else:
                return
            if q in seen:
                name = {"S": "START/STOP", "W": "WITHIN", "R": "REPEATS"}[q]
                raise _Fail(f"duplicate {name} qualifier on one observation expression (§9.5.1)")
            seen += q

    def comp_expr(self) -> None:
        self.comp_and()
        while self.toks[self.i][0] == "OR":
            self.i += 1
            self.comp_and()

    def comp_and(self) -> None:
        self.prop_test()
        while self.toks[self.i][0] == "AND":
            self.i += 1
            self.prop_test()

    def prop_test(self) -> None:
        toks = self.toks
        kind = toks[self.i][0]
        if kind == "(":
            self.i += 1
            self.comp_expr()
            self.take(")", "')' or a boolean operator")
            return
        if kind == "NOT" or kind == "EXISTS":
            if not self.exists:
                raise _Fail("EXISTS is not part of STIX patterning 2.0")
            if kind == "NOT":
                self.i += 1
            self.take("EXISTS", "EXISTS")
            self.object_path()
            return
        path = self.object_path()
        if toks[self.i][0] == "NOT":
            self.i += 1
        op = toks[self.i][0]
        self.i += 1
        if op in _EQ_OPS or op in _ORDER_OPS:
            tok = toks[self.i]
            allowed = _LITERAL if op in _EQ_OPS else _ORDERABLE
            if tok[0] not in allowed:
                raise self.fail("a constant" if op in _EQ_OPS else "an orderable constant")
            self.i += 1
            if path is not None:
                self.check_hash(path, tok[1])
        elif op == "IN":
            self.take("(", "'(' after IN")
            if toks[self.i][0] != ")":
                while True:
                    tok = toks[self.i]
                    if tok[0] not in _LITERAL:
                        raise self.fail("a constant in the set")
                    self.i += 1
                    if path is not None:
                        self.check_hash(path, tok[1])
                    if toks[self.i][0] == ",":
                        self.i += 1
                        continue
                    break
            self.take(")", "',' or ')' in the set")
        elif op in _STRING_OPS:
            text = self.take("str", f"a string constant after {op}")
            if path is not None and (op == "ISSUBSET" or op == "ISSUPERSET"):
                self.check_hash(path, text)
        else:
            self.i -= 1
            raise self.fail("a comparison operator")

    def check_hash(self, path: tuple[str, str], raw: str) -> None:
        fmt = _HASH_FORMATS.get(path[1])
        if fmt is not None and fmt.fullmatch(raw.replace("'", "")) is None:
            raise _Fail(f"{raw} is not a valid {path[0]} hash")

    def object_path(self) -> tuple[str, str] | None:
        """Parse a path; return ``(algo as written, normalised algo)`` for hash paths."""
        toks = self.toks
        tok = toks[self.i]
        if tok[0] != "id" and tok[0] != "idh":
            raise self.fail("an object type")
        self.i += 1
        type_ = tok[1]
        self.take(":", "':' after the object type")
        tok = toks[self.i]
        if tok[0] == "id":
            first = tok[1]
        elif tok[0] == "str":
            first = _unquote(tok[1])
        else:
            raise self.fail("a property name")
        self.i += 1
        self.paths.append((type_, first))
        hashes = first == "hashes"
        last: str | None = first
        while True:
            kind = toks[self.i][0]
            if kind == ".":
                self.i += 1
                tok = toks[self.i]
                if tok[0] == "id":
                    last = tok[1]
                elif tok[0] == "str":
                    last = _unquote(tok[1])
                else:
                    raise self.fail("a property name or quoted key after '.'")
                self.i += 1
                if last == "hashes":
                    hashes = True
            elif kind == "[":
                self.i += 1
                tok = toks[self.i]
                if tok[0] not in ("int", "intn", "*"):
                    raise self.fail("a list index or '*'")
                self.i += 1
                self.take("]", "']' after the list index")
                last = None
            else:
                break
        if hashes and last is not None:
            return last, last.upper().replace("-", "").replace("'", "")
        return None


def _brackets_first(pattern: str) -> bool:
    for c in pattern:
        if c != "(" and not c.isspace():
            return c == "["
    return False


@lru_cache(maxsize=8192)
def pattern_info(pattern: str, version: str = "2.1") -> PatternInfo:
    """Analyse a STIX pattern; ``error`` is None when it is valid.

    ``version`` is the ``pattern_version``; "2.0" disables ``EXISTS``.
    """
    if not isinstance(pattern, str):
        return PatternInfo("the pattern must be a string")
    if not _brackets_first(pattern):
        return PatternInfo("a pattern must start with an observation expression '[ ... ]'")
    try:
        parser = _Parser(_tokenize(pattern), version != "2.0")
        parser.pattern()
    except _Fail as e:
        return PatternInfo(f"invalid STIX pattern: {e}")
    return PatternInfo(None, tuple(parser.paths))


def check_pattern(pattern: str) -> str | None:
    """None when ``pattern`` is a valid STIX 2.1 pattern, else the reason."""
    return pattern_info(pattern).error
