"""The topic query language -> an AST (pure).

    troops                      a word (whole word; inflected forms, see matcher)
    "north korean"              a phrase: the words next to each other, in order
    a b                         both (implicit AND; AND may be written)
    a OR b                      either
    -a   NOT a                  not
    ( ... )                     grouping, nested up to MAX_DEPTH levels (NOT and - count too)
    nucl*   nord-coréen*        prefix of the last word, at least 3 letters (2 Hangul syllables)
    "north korean" NEAR/5 troops  both within 5 words of each other
    title:rutte  feed:reuters   restrict a term to the title or to feeds whose name matches
    {Песков}  {US}  {Rutte*}    a word as written: {Песков} only where the text writes it with a
                                capital (Пескова, ПЕСКОВ; not "песков", of the sands), {US} only in
                                capitals (not "us"), {may} only in small letters

Precedence: NOT binds tighter than NEAR, NEAR tighter than AND, AND tighter than OR.
A query needs at least one term that is not negated. Bounds, so that no query can exhaust the
parser or the matcher: at most MAX_QUERY_LENGTH characters, and at most MAX_DEPTH levels of
parentheses and NOT/- together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import QueryError
from bot.matching.normalize import is_hangul, word_case
from bot.matching.normalize import words as split_words

FIELDS = ("title", "text", "feed")
MAX_QUERY_LENGTH = 4000
MAX_DEPTH = 50


@dataclass(frozen=True)
class Term:
    """Words that must appear in a row (one word, or a phrase)."""

    words: tuple[str, ...]
    prefix: bool = False
    field: str | None = None
    source: str = ""
    case: str = ""  # "", or how the text must write the word: "capital", "upper" or "lower" (`word_case`)


@dataclass(frozen=True)
class And:
    """Every child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The child does not match."""

    child: Node


@dataclass(frozen=True)
class Near:
    """Both terms match within `distance` words of each other."""

    left: Term
    right: Term
    distance: int


Node = Term | And | Or | Not | Near

_LEX = re.compile(
    r'\s*(?:(?P<lpar>\()|(?P<rpar>\))|(?P<near>NEAR/(?P<n>\d+))|(?P<phrase>"[^"]*"?)'
    r'|(?P<word>[^\s()"]+))'
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # lpar rpar near or and not minus term
    text: str
    pos: int
    n: int = 0


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        m = _LEX.match(query, pos)
        if not m or m.end() == pos:
            raise QueryError("unexpected character", query, pos)
        start = m.start(m.lastgroup or 0)
        if m.group("lpar"):
            toks.append(_Tok("lpar", "(", start))
        elif m.group("rpar"):
            toks.append(_Tok("rpar", ")", start))
        elif m.group("near"):
            toks.append(_Tok("near", m.group("near"), start, int(m.group("n"))))
        elif m.group("phrase") is not None:
            text = m.group("phrase")
            if len(text) < 2 or not text.endswith('"'):
                raise QueryError("unclosed quote", query, start)
            toks.append(_Tok("term", text, start))
        else:
            word = m.group("word")
            if word in ("OR", "AND", "NOT"):
                toks.append(_Tok(word.lower(), word, start))
            elif word.startswith("-") and len(word) > 1:
                toks.append(_Tok("minus", "-", start))
                toks.append(_Tok("term", word[1:], start + 1))
            elif word == "-":
                toks.append(_Tok("minus", "-", start))
            else:
                toks.append(_Tok("term", word, start))
        pos = m.end()
    return _merge_field_prefix(toks, query)


def _merge_field_prefix(toks: list[_Tok], query: str) -> list[_Tok]:
    """`title:` followed by a phrase or a parenthesis is lexed apart; keep it with its term."""
    out: list[_Tok] = []
    for t in toks:
        if out and out[-1].kind == "term" and out[-1].text.endswith(":") and t.kind == "term" and t.text.startswith('"'):
            prev = out.pop()
            out.append(_Tok("term", prev.text + t.text, prev.pos))
        else:
            out.append(t)
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError("the query is empty")
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            raise QueryError(f"unexpected {tok.text!r}", self.query, tok.pos)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_near()]
        while (tok := self.peek()) is not None and tok.kind in ("and", "term", "lpar", "minus", "not"):
            if tok.kind == "and":
                self.take()
            children.append(self.parse_near())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_near(self) -> Node:
        left = self.parse_unary()
        tok = self.peek()
        if tok is None or tok.kind != "near":
            return left
        self.take()
        right = self.parse_unary()
        if not isinstance(left, Term) or not isinstance(right, Term):
            raise QueryError("NEAR/n joins two words or phrases", self.query, tok.pos)
        return Near(left, right, tok.n)

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("the query ends where a term was expected", self.query, len(self.query))
        if tok.kind in ("minus", "not", "lpar"):
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"too deeply nested (more than {MAX_DEPTH} levels)", self.query, tok.pos)
            node = Not(self.parse_unary()) if tok.kind != "lpar" else self.parse_group(tok)
            self.depth -= 1
            return node
        if tok.kind == "term":
            self.take()
            return self.make_term(tok)
        raise QueryError(f"unexpected {tok.text!r}", self.query, tok.pos)

    def parse_group(self, opening: _Tok) -> Node:
        node = self.parse_or()
        close = self.peek()
        if close is None or close.kind != "rpar":
            raise QueryError("missing ')'", self.query, opening.pos)
        self.take()
        return node

    def make_term(self, tok: _Tok) -> Term:
        text, field = tok.text, None
        m = re.match(r"^([a-z]+):(.+)$", text)
        if m and m.group(1) in FIELDS:
            field, text = m.group(1), m.group(2)
        elif m and not text.startswith('"'):
            raise QueryError(f"unknown field {m.group(1)!r} (use one of {', '.join(FIELDS)})", self.query, tok.pos)
        case = ""
        if text.startswith("{") or text.endswith("}"):
            inner = text[1:-1] if len(text) > 1 and text.startswith("{") and text.endswith("}") else ""
            if len(split_words(inner)) != 1 or inner.startswith('"'):
                raise QueryError("{...} holds one word, as the text must write it", self.query, tok.pos)
            text, case = inner, word_case(inner.rstrip("*"))
            if not case:
                raise QueryError(f"{tok.text!r}: this script has no capital letters", self.query, tok.pos)
        prefix = text.endswith("*") or text.endswith('*"')
        body = text.strip('"').rstrip("*")
        words = tuple(split_words(body))
        if not words:
            raise QueryError(f"{tok.text!r} has no letters or digits", self.query, tok.pos)
        if prefix and len(words[-1]) < (2 if is_hangul(words[-1]) else 3):
            raise QueryError("a prefix* needs at least 3 letters (2 Hangul syllables)", self.query, tok.pos)
        return Term(words, prefix, field, tok.text, case)


def case_fits(wanted: str, written: str | None) -> bool:
    """Whether a text word written `written` (`word_case`; None when unknown) is one a {word} of case
    `wanted` finds: a capital also in a word all in capitals (a headline in capitals)."""
    if written is None or wanted == written:
        return True
    return wanted == "capital" and written == "upper"


def parse_query(query: str) -> Node:
    """Parse a query; raise QueryError pointing at the problem."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(query)} characters long; the most is {MAX_QUERY_LENGTH}")
    node = _Parser(query).parse()
    if not has_positive_term(node):
        raise QueryError("a query needs at least one term that is not excluded", query, 0)
    return node


def has_positive_term(node: Node) -> bool:
    """True when the node can match on its own (not only negations)."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(has_positive_term(c) for c in node.children)
    return all(has_positive_term(c) for c in node.children)


def iter_terms(node: Node) -> list[Term]:
    """Every term in the query, negated or not."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Near):
        return [node.left, node.right]
    if isinstance(node, Not):
        return iter_terms(node.child)
    return [t for c in node.children for t in iter_terms(c)]
