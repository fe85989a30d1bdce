"""The fast STIX pattern validator against stix2-patterns (the ANTLR reference)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from tansiq.stix.patterns import check_pattern, pattern_info


def oracle(pattern: str, version: str = "2.1") -> bool | None:
    """stix2-patterns' verdict; None when it raises instead of answering."""
    try:
        return not run_validator(pattern, version)
    except Exception:
        return None


H_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
TS = "t'2016-06-01T00:00:00Z'"

VALID = [
    "[file:name = 'a']",
    " [file:name = 'a'] ",
    "([file:name = 'a'])",
    "(([a:b = 1]))",
    "[file:name = 'a'] AND [file:name = 'b']",
    "[file:name = 'a' AND file:size = 1]",
    "[a:b = 1 OR a:b = 2 AND a:c = 3]",
    "[((file:name = 'a') OR file:name = 'b') AND file:size = 1]",
    "[a:b = 1] FOLLOWEDBY [a:b = 2] OR [a:b = 3] AND [a:b = 4]",
    "[a:b = 1] AND ([a:b = 2] OR [a:b=3])",
    "[file:name = true]",
    "[file:name = false]",
    "[file:name NOT = 'a']",
    "[file:name NOT != 'a']",
    "[file:name <> 'a']",
    "[file:name == 'a']",
    "[file:size < 'a']",
    "[file:size < -1]",
    "[file:size <= -1.5]",
    "[file:size > +1.5]",
    "[file:size >= .5]",
    "[file:size < -0]",
    "[a:b = 9007199254740993]",
    "[file:name IN ()]",
    "[file:name IN ('a')]",
    "[file:name IN ('a', 'b', 1, true, h'ff', b'AAAA', t'2016-06-01T00:00:00Z', -2.5)]",
    "[file:name NOT IN ('a')]",
    "[file:name LIKE 'a%']",
    "[file:name NOT LIKE 'a_']",
    "[file:name MATCHES '^a$']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[ipv4-addr:value NOT ISSUPERSET '198.51.100.0/24']",
    "[EXISTS file:name]",
    "[NOT EXISTS windows-registry-key:values]",
    f"[file:hashes.MD5 = '{H_MD5}']",
    f"[file:hashes.'MD5' = '{H_MD5}']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[file:hashes.foo = 'zz']",
    "[file:hashes = 'zz']",
    "[file:hashes[*] = 'zz']",
    "[file:foo[1] = 'zz']",
    "[file:foo[+1] = 'zz']",
    "[file:foo[*].bar = 'zz']",
    "[file:foo.'bar baz' = 'zz']",
    "[file:'foo' = 'zz']",
    "[file-x:foo = 'zz']",
    "[file-:foo = 'zz']",
    "[file--x:foo = 'zz']",
    "[_file:foo = 'zz']",
    "[File:Foo = 'zz']",
    "[file:foo.a123 = 'zz']",
    "[file:foo. a = 'zz']",
    "[file : foo = 'zz']",
    "[file:foo . bar = 'zz']",
    "[file:foo [1] = 'zz']",
    "[file:and = 'zz']",
    "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
    "[file:name = 'a'] WITHIN 5 SECONDS",
    "[file:name = 'a'] WITHIN 5.5 SECONDS",
    "[file:name = 'a'] WITHIN +5 SECONDS",
    "[file:name = 'a'] WITHIN .5 SECONDS",
    "[file:name = 'a'] REPEATS 5 TIMES",
    f"[file:name = 'a'] START {TS} STOP t'2016-07-01T00:00:00Z'",
    f"[file:name = 'a'] START t'2016-07-01T00:00:00Z' STOP {TS}",
    f"[file:name = 'a'] WITHIN 5 SECONDS REPEATS 2 TIMES START {TS} STOP {TS}",
    "([file:name = 'a'] WITHIN 5 SECONDS) WITHIN 6 SECONDS",
    "[a:b = 1] WITHIN 1 SECONDS AND [a:b = 2] WITHIN 2 SECONDS",
    "([a:b = 1] FOLLOWEDBY [a:b = 2]) REPEATS 2 TIMES",
    "[a:b = 1] REPEATS 2 TIMES WITHIN 5 SECONDS",
    "[a:b = t'2016-06-01T00:00:00.123456789Z']",
    "[a:b = t'2016-02-30T00:00:00Z']",
    "[a:b = t'2016-06-01T23:59:60Z']",
    "[a:b = t'0000-01-01T00:00:00Z']",
    "[a:b = h'ab']",
    "[a:b = h'']",
    "[a:b = h'AB']",
    "[a:b = b'AAAA']",
    "[a:b = b'AAA=']",
    "[a:b = b'AA==']",
    "[a:b = 'it\\'s']",
    "[a:b = 'back\\\\slash']",
    "[a:b = '']",
    "[a:b = 'multi\nline']",
    "[a:b = 'uni\u2603code']",
    "[a:b /* comment */ = 1]",
    "[a:b = 1] // trailing comment",
    "[a:b = 1]//x\n AND [a:c = 2]",
    "[a:b\t=\t1]",
    "[a:b = 1]\u00a0",
    "[a:b\u2003= 1]",
    "\u3000[a:b = 1]",
    "[a:b\u0085= 1]",
    "[a:b = 1]\r\n",
    "[a:b = 1]\x0b",
    "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' "
    "OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] REPEATS 5 TIMES",
    "([ipv4-addr:value = '198.51.100.1/32'] FOLLOWEDBY [domain-name:value = 'example.com']) WITHIN 600 SECONDS",
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33']",
    "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
    "[directory:path LIKE 'C:\\\\Windows\\\\%\\\\foo']",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar'] AND [file:size > 10]",
    "[x-usb-device:usbdrive.serial_number = '575833314133343231313937']",
    "[file:size = 123] OR [file:size = 1234] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
]

INVALID = [
    "   ",
    "(((",
    "[]",
    "[a:b]",
    "[a:b = ]",
    "[a: = 1]",
    "[:b = 1]",
    "[a:b = 1",
    "a:b = 1",
    "([a:b = 1]",
    "[a:b = 1])",
    "[a:b = 1] [a:b = 2]",
    "[a:b = 1]x",
    "[a:b = 1] AND",
    "[a:b = 1] AND AND [a:b = 2]",
    "[a:b = 1] LAST 5 SECONDS",
    "[file:name = 'a'] and [file:name = 'b']",
    "[file:name = 'a' and file:name = 'b']",
    "[a:b = 1] followedby [a:b = 2]",
    "[file:name = TRUE]",
    "[file:name = True]",
    "[file:name NOT NOT = 'a']",
    "[NOT file:name = 'a']",
    "[NOT (file:name = 'a')]",
    "[EXISTS file:name = 'a']",
    "[file:name EXISTS]",
    "[file:size < true]",
    "[file:size < 1.]",
    "[file:size < 01]",
    "[file:size = 1e5]",
    "[file:name IN 'a']",
    "[a:b IN (1,)]",
    "[a:b IN (,1)]",
    "[a:b IN (1 2)]",
    "[a:b IN ((1))]",
    "[file:name LIKE 1]",
    "[file:name MATCHES 1]",
    "[file:hashes.MD5 = 'zz']",
    "[file:hashes.'SHA-256' = 'zz']",
    "[file:hashes.sha256 = 'zz']",
    f"[file:hashes.MD5 = h'{H_MD5}']",
    "[file:hashes.MD5 = 5]",
    "[file:foo[01] = 'zz']",
    "[file:foo.bar-baz = 'zz']",
    "[file:foo-bar = 'zz']",
    "[-file:foo = 'zz']",
    "[1file:foo = 'zz']",
    "['file':foo = 'zz']",
    "[file:foo.123 = 'zz']",
    "[file:foo..a = 'zz']",
    "[file:AND = 'zz']",
    "[file:foo.AND = 'zz']",
    "[file:true = 'zz']",
    "[file:LAST = 'zz']",
    "[AND:foo = 'zz']",
    "[file:name = 'a'] WITHIN -5 SECONDS",
    "[file:name = 'a'] WITHIN 5 seconds",
    "[file:name = 'a'] within 5 SECONDS",
    "[file:name = 'a'] WITHIN 5 MINUTES",
    "[file:name = 'a'] REPEATS 5.0 TIMES",
    "[file:name = 'a'] REPEATS -5 TIMES",
    "[file:name = 'a'] START '2016-06-01T00:00:00Z' STOP '2016-07-01T00:00:00Z'",
    f"[file:name = 'a'] START {TS}",
    "[file:name = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
    "[file:name = 'a'] WITHIN 5 SECONDS REPEATS 2 TIMES WITHIN 6 SECONDS",
    f"[file:name = 'a'] START {TS} STOP {TS} START {TS} STOP {TS}",
    "[a:b = t'2016-06-01T00:00:00.Z']",
    "[a:b = t'2016-13-01T00:00:00Z']",
    "[a:b = t'2016-06-01T24:00:00Z']",
    "[a:b = t'2016-06-01T23:60:00Z']",
    "[a:b = t'2016-06-01T23:59:61Z']",
    "[a:b = t'2016-06-01 23:59:59Z']",
    "[a:b = t'2016-06-01T23:59:59+00:00']",
    "[a:b = t'2016-06-01T23:59:59z']",
    "[a:b = T'2016-06-01T23:59:59Z']",
    "[a:b = t '2016-06-01T23:59:59Z']",
    "[a:b = h'abc']",
    "[a:b = h'zz']",
    "[a:b = H'ab']",
    "[a:b = b'A===']",
    "[a:b = b'']",
    "[a:b = b'AAAAA']",
    "[a:b = b'AA=A']",
    "[a:b = b'AA AA']",
    "[a:b = b'AA\nAA']",
    "[a:b = 'bad\\escape']",
    "[a:b = 'bad\\nescape']",
    "[a:b = 'unterminated]",
    '[a:b = "double"]',
    "/* lead */ [a:b = 1]",
    "[a:b = 1] /* unterminated",
    "[a:b = 1]\u200b",
    "[a:b = 1]\x1c",
    "[a:b ! 1]",
    "[a:b = 1] ^ [a:b = 2]",
]

#: Patterns on which this validator deliberately differs from stix2-patterns.
PATTERN_ALLOW: dict[str, str] = {
    "[file:name = 'a'] WITHIN 0 SECONDS": "§9.5.1: x MUST be a positive number; the reference accepts 0",
    "[file:name = 'a'] WITHIN 0.0 SECONDS": "§9.5.1: x MUST be a positive number; the reference accepts 0",
    "[file:name = 'a'] REPEATS 0 TIMES": "§9.5.1: x MUST be a positive integer; the reference accepts 0",
    "([file:name = 'a']) WITHIN 5 SECONDS WITHIN 6 SECONDS": (
        "§9.5.1: an observation expression MUST NOT have two qualifiers of one type; the reference "
        "checks only bracketed expressions, not parenthesised ones"
    ),
    f"[file:hashes.MD5 IN ('{H_MD5}')]": (
        "the reference hash check reads the whole set text '(...)' as one hash; each member is a valid MD5"
    ),
    "[file:hashes.MD5 LIKE 'd41d%']": "LIKE/MATCHES take partial values; the reference requires a whole hash",
    "[file:hashes.MD5 MATCHES '^d41d']": "LIKE/MATCHES take partial values; the reference requires a whole hash",
    "[file:hashes[0] = 'zz']": "the reference raises AttributeError (it upper-cases the integer index)",
    "[file:foo[-1] = 'zz']": "the reference raises AttributeError on negative indexes, which its grammar allows",
    "": "the reference raises UnboundLocalError on the empty string; it is not a pattern",
}


@pytest.mark.parametrize("pattern", VALID)
def test_valid_patterns(pattern: str) -> None:
    assert check_pattern(pattern) is None
    assert oracle(pattern) is True


@pytest.mark.parametrize("pattern", INVALID)
def test_invalid_patterns(pattern: str) -> None:
    reason = check_pattern(pattern)
    assert reason, pattern
    assert oracle(pattern) is False


@pytest.mark.parametrize("pattern", list(PATTERN_ALLOW))
def test_documented_deviations(pattern: str) -> None:
    mine = check_pattern(pattern) is None
    assert oracle(pattern) is not mine, f"stale deviation: {PATTERN_ALLOW[pattern]}"


def test_pattern_version_20_has_no_exists() -> None:
    p = "[EXISTS file:name]"
    assert pattern_info(p, "2.1").error is None
    assert pattern_info(p, "2.0").error is not None
    assert oracle(p, "2.0") is False


def test_cache_and_types() -> None:
    p = "[file:name = 'cached']"
    pattern_info.cache_clear()
    check_pattern(p)
    check_pattern(p)
    assert pattern_info.cache_info().hits >= 1
    assert check_pattern(42) is not None  # type: ignore[arg-type]


def test_paths_are_reported() -> None:
    info = pattern_info("[file:hashes.MD5 = '" + H_MD5 + "' OR EXISTS x-foo:'bar'.baz]")
    assert info.error is None
    assert info.paths == (("file", "hashes"), ("x-foo", "bar"))


# -- generated patterns ---------------------------------------------------------------------

_TYPES = st.sampled_from(["file", "ipv4-addr", "x-acme-thing", "network-traffic", "_x", "a"])
_PROPS = st.sampled_from(
    ["name", "value", "size", "src_ref", "extensions", "x_score", "'quoted key'"]
)
_STRINGS = st.text(alphabet=st.sampled_from(list("ab %_'\\.é☃\n")), max_size=6).map(
    lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
)
_LITERALS = st.one_of(
    _STRINGS,
    st.integers(-10_000, 10_000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.sampled_from(
        ["true", "false", "h'00ff'", "h''", "b'AAAA'", "b'AA=='", TS, "t'2020-02-29T12:00:00.5Z'"]
    ),
)


@st.composite
def _path(draw: st.DrawFn) -> str:
    out = f"{draw(_TYPES)}:{draw(_PROPS)}"
    for _ in range(draw(st.integers(0, 2))):
        out += draw(st.sampled_from([".a", ".'k-1'", "[*]", "[1]", ".b_c"]))
    return out


@st.composite
def _comparison(draw: st.DrawFn) -> str:
    path = draw(_path())
    kind = draw(st.integers(0, 5))
    neg = draw(st.sampled_from(["", "NOT "]))
    if kind == 0:
        return f"{path} {neg}{draw(st.sampled_from(['=', '!=', '==', '<>']))} {draw(_LITERALS)}"
    if kind == 1:
        lit = draw(_LITERALS.filter(lambda x: x not in ("true", "false")))
        return f"{path} {neg}{draw(st.sampled_from(['<', '<=', '>', '>=']))} {lit}"
    if kind == 2:
        items = draw(st.lists(_LITERALS, max_size=3))
        return f"{path} {neg}IN ({', '.join(items)})"
    if kind == 3:
        op = draw(st.sampled_from(["LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"]))
        return f"{path} {neg}{op} {draw(_STRINGS)}"
    if kind == 4:
        return f"{neg}EXISTS {path}"
    return f"({draw(_comparison())})"


@st.composite
def _comparison_expr(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_comparison(), min_size=1, max_size=3))
    ops = [draw(st.sampled_from([" AND ", " OR "])) for _ in parts[1:]]
    return parts[0] + "".join(o + p for o, p in zip(ops, parts[1:], strict=True))


_QUALIFIERS = {
    "W": st.sampled_from(["WITHIN 5 SECONDS", "WITHIN 1.5 SECONDS", "WITHIN .2 SECONDS"]),
    "R": st.sampled_from(["REPEATS 2 TIMES", "REPEATS 7 TIMES"]),
    "S": st.just(f"START {TS} STOP t'2017-01-01T00:00:00Z'"),
}


@st.composite
def _observation(draw: st.DrawFn, depth: int = 0) -> str:
    if depth < 2 and draw(st.booleans()):
        inner = draw(_observations(depth + 1))
        base = f"({inner})"
        kinds = draw(st.lists(st.sampled_from("WRS"), unique=True, max_size=2))
    else:
        base = f"[{draw(_comparison_expr())}]"
        kinds = draw(st.lists(st.sampled_from("WRS"), max_size=2))
    return base + "".join(" " + draw(_QUALIFIERS[k]) for k in kinds)


@st.composite
def _observations(draw: st.DrawFn, depth: int = 0) -> str:
    parts = draw(st.lists(_observation(depth), min_size=1, max_size=3))
    ops = [draw(st.sampled_from([" AND ", " OR ", " FOLLOWEDBY "])) for _ in parts[1:]]
    return parts[0] + "".join(o + p for o, p in zip(ops, parts[1:], strict=True))


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    p = draw(_observations())
    for _ in range(draw(st.integers(1, 3))):
        if not p:
            break
        i = draw(st.integers(0, len(p) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            p = p[:i] + p[i + 1 :]
        elif op == 1:
            p = p[:i] + p[i] + p[i:]
        elif op == 2:
            p = p[:i] + draw(st.sampled_from(list("[]()':.,= AbT*/!<>"))) + p[i:]
        elif i + 1 < len(p):
            p = p[:i] + p[i + 1] + p[i] + p[i + 2 :]
    return p


_SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@_SETTINGS
@given(_observations())
def test_generated_patterns_agree(pattern: str) -> None:
    assert (check_pattern(pattern) is None) is oracle(pattern), pattern


@_SETTINGS
@given(_mutated())
def test_mutated_patterns_agree(pattern: str) -> None:
    assert (check_pattern(pattern) is None) is oracle(pattern), pattern
