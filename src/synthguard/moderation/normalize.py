"""Match views of a text, each with a map from every view character back to the original.

Keyword filters are evaded by rewriting a word so that it still reads the same to a
person: full-width or circled forms, case, zero-width and bidi controls, traditional
characters, numeral variants, Cyrillic/Greek look-alikes, separators or emoji between
the characters, repeated characters, pinyin. Each evasion is undone by one small step
below; the steps are folded, per code point, into lookup tables once, so a view of a
megabyte of text costs a few numpy gathers instead of a Python loop per character.

Views, from strict to loose (a match reports the view it was found in):
- exact: the text as written.
- normalized: NFKC/width, case folding, marks and format controls removed, traditional →
  simplified, numeral forms → ASCII digits. These only undo encodings of the same word,
  so a match here carries the entry's own action.
- loose: normalized plus homoglyphs, separators (punctuation, symbols, spaces, emoji)
  skipped when a run of them is at most `max_gap` long, and repeated characters collapsed.
  These steps also join things a writer never meant as one word, so matches here are
  routed to review, never blocked outright.
- pinyin: the loose view with each hanzi replaced by its toneless pinyin (first reading),
  for entries that opt in; also routed to review.

Patterns go through the same per-code-point tables (`fold_pattern`), so a pattern and a
text that differ only by these steps meet in the same view.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.uint32]
Index = npt.NDArray[np.int64]

MAX_CODE = 0x110000
# Stands for a separator run longer than the allowed gap: no pattern contains it, so
# nothing matches across it. U+FFFF is a noncharacter and never appears in real text.
BOUNDARY = "\uffff"
DEFAULT_MAX_GAP = 5
# Unicode categories removed in every view but exact: nonspacing/enclosing marks
# (accents, variation selectors) and format controls (zero-width, bidi, tags).
_REMOVED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})

NUMERALS = {
    **dict.fromkeys("〇零", "0"), "一": "1", "壹": "1", "二": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4", "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6", "七": "7", "柒": "7", "八": "8", "捌": "8",
    "九": "9", "玖": "9",
    # Dingbat and double-circled digits have no NFKC decomposition.
    **{chr(0x2776 + i): str(i + 1) for i in range(10)},  # ❶..❿
    **{chr(0x2780 + i): str(i + 1) for i in range(10)},  # ➀..➉
    **{chr(0x278A + i): str(i + 1) for i in range(10)},  # ➊..➓
    **{chr(0x24F5 + i): str(i + 1) for i in range(10)},  # ⓵..⓾
    **{chr(0x24EB + i): str(i + 11) for i in range(10)},  # ⓫..⓴
    "⓿": "0",
}

# Cyrillic and Greek letters that render like Latin ones (a subset of Unicode's
# confusables.txt for the letters used to disguise Latin words).
HOMOGLYPHS = dict(zip(
    "АВЕКМНОРСТХУЅІЈаеорсухіјѕԁһӏԛԝ"
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαοριμκνυτχ",
    "ABEKMHOPCTXYSIJaeopcyxijsdhlqw"
    "ABEZHIKMNOPTYXaopiukvutx", strict=True))


@cache
def _traditional_to_simplified() -> dict[str, str]:
    """Character-level t2s from OpenCC's TSCharacters table (shipped in opencc-purepy,
    Apache-2.0). Phrase tables are not used: a character map keeps one view character per
    original character. A character that OpenCC may also keep as it is (乾 → 干 or 乾)
    is left alone, so simplified text that uses it is not changed."""
    table: dict[str, str] = {}
    text = (resources.files("opencc_purepy") / "dicts" / "TSCharacters.txt").read_text("utf-8")
    for line in text.splitlines():
        trad, _, cands = line.partition("\t")
        options = cands.split()
        if len(trad) == 1 and options and trad not in options and len(options[0]) == 1:
            table[trad] = options[0]
    return table


def _drop_marks(s: str) -> str:
    return "".join(c for c in s if unicodedata.category(c) not in _REMOVED_CATEGORIES)


def fold_char(c: str, *, homoglyphs: bool) -> str:
    """The normalized (homoglyphs=False) or loose (True) form of one code point, before
    separators and repeats are handled; the composition of the evasion steps."""
    s = _drop_marks(unicodedata.normalize("NFKD", c))  # ①→1, ｆ→f, é→e, U+200B→""
    if homoglyphs:
        s = "".join(HOMOGLYPHS.get(ch, ch) for ch in s)
    s = unicodedata.normalize("NFC", _drop_marks(s.casefold()))
    t2s = _traditional_to_simplified()
    s = "".join(t2s.get(ch, ch) for ch in s)
    return "".join(NUMERALS.get(ch, ch) for ch in s)


def is_separator(c: str) -> bool:
    """Punctuation, symbols (emoji among them), spaces and control characters."""
    return unicodedata.category(c)[0] in "PSZ" or unicodedata.category(c) == "Cc"


# Blocks where no step changes a character (apart from t2s/numerals, added separately):
# CJK ideographs, Hangul syllables (NFKD then NFC restores them), surrogates, private use.
_UNCHANGED_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xD800, 0xF8FF),
                     (0x20000, 0x2F7FF), (0x2FA20, 0xDFFFF), (0xE01F0, 0x10FFFF))


def _changes(homoglyphs: bool) -> dict[int, str]:
    """`fold_char` for every code point it changes. A cheap test skips the rest: no
    decomposition, no case folding, not a removed category and not in a table."""
    skip = np.zeros(MAX_CODE, dtype=bool)
    for lo, hi in _UNCHANGED_RANGES:
        skip[lo:hi + 1] = True
    tabled = {*_traditional_to_simplified(), *NUMERALS, *HOMOGLYPHS}
    changes = {}
    for code in np.flatnonzero(~skip).tolist():
        c = chr(code)
        if (c in tabled or unicodedata.decomposition(c) or c.casefold() != c
                or unicodedata.category(c) in _REMOVED_CATEGORIES):
            changes[code] = fold_char(c, homoglyphs=homoglyphs)
    for c in tabled:
        changes[ord(c)] = fold_char(c, homoglyphs=homoglyphs)
    # A lone surrogate is legal in a Python str but not in the UTF-8 the automata use.
    changes.update(dict.fromkeys(range(0xD800, 0xE000), "\ufffd"))
    return changes


class CharMap:
    """A per-code-point rewrite (each code point → 0, 1 or more code points) applied to
    a whole text with numpy; also keeps a `str.translate` table for short strings."""

    def __init__(self, changes: dict[int, str]) -> None:
        self.translate_table: dict[int, str] = {k: v for k, v in changes.items()
                                                if v != chr(k)}
        self._lengths = np.ones(MAX_CODE, dtype=np.uint8)
        self._single = np.arange(MAX_CODE, dtype=np.uint32)
        self._rows = np.full(MAX_CODE, -1, dtype=np.int32)
        multi = {k: v for k, v in self.translate_table.items() if len(v) > 1}
        width = max((len(v) for v in multi.values()), default=1)
        self._data = np.zeros((max(len(multi), 1), width), dtype=np.uint32)
        for k, v in self.translate_table.items():
            self._lengths[k] = len(v)
            if len(v) == 1:
                self._single[k] = ord(v)
        for row, (k, v) in enumerate(multi.items()):
            self._rows[k] = row
            self._data[row, :len(v)] = [ord(ch) for ch in v]
        for arr in (self._lengths, self._single, self._rows, self._data):
            arr.flags.writeable = False  # shared by every thread that reviews

    def apply(self, codes: Codes) -> tuple[Codes, Index]:
        """Rewritten codes and, for each, the index of the input code it came from."""
        lengths = self._lengths[codes]
        if bool((lengths == 1).all()):
            return self._single[codes], np.arange(len(codes), dtype=np.int64)
        source = np.repeat(np.arange(len(codes), dtype=np.int64), lengths)
        src_codes = codes[source]
        out = self._single[src_codes]
        rows = self._rows[src_codes]
        multi = rows >= 0
        if bool(multi.any()):
            group_start = np.cumsum(lengths, dtype=np.int64) - lengths
            k = np.arange(len(source), dtype=np.int64) - group_start[source]
            out[multi] = self._data[rows[multi], k[multi]]
        return out, source


@dataclass(frozen=True)
class Tables:
    normalized: CharMap
    loose: CharMap
    separators: npt.NDArray[np.bool_]
    latin_alnum: npt.NDArray[np.bool_]


@cache
def tables() -> Tables:
    """Built once per process (a fraction of a second) and then only read."""
    seps = np.zeros(MAX_CODE, dtype=bool)
    seps[[c for c in range(0x30000) if is_separator(chr(c))]] = True
    seps[ord(BOUNDARY)] = False
    latin = np.zeros(MAX_CODE, dtype=bool)
    latin[[ord(c) for c in "abcdefghijklmnopqrstuvwxyz0123456789"]] = True
    for arr in (seps, latin):
        arr.flags.writeable = False
    return Tables(CharMap(_changes(False)), CharMap(_changes(True)), seps, latin)


@cache
def pinyin_map() -> CharMap:
    """Hanzi → toneless pinyin of the first reading in pypinyin's dictionary (ü as v,
    as pypinyin writes it); built only when a library has pinyin entries."""
    from pypinyin.pinyin_dict import pinyin_dict

    @cache
    def toneless(reading: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", reading.replace("ü", "v"))
                       if c.isascii() and c.isalpha())

    changes = {}
    for code, readings in pinyin_dict.items():
        plain = toneless(readings.split(",")[0])
        if plain:
            changes[code] = plain
    return CharMap(changes)


def _codes(text: str) -> Codes:
    # surrogatepass: a lone surrogate is legal in a Python str and must not crash review.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _text(codes: Codes) -> str:
    return codes.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


@dataclass(frozen=True)
class View:
    """One view of an original text: `source[i]` is the original index of `text[i]`."""

    name: str
    text: str
    source: Index
    original: str
    # Where a match may start or end (pinyin view only: syllable and word edges).
    edges: npt.NDArray[np.bool_] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that view[start:end] was made from."""
        return int(self.source[start]), int(self.source[end - 1]) + 1

    def separated(self, left: int, right: int) -> bool:
        """Whether the original has a separator between view characters left and right
        (the loose view removes them, but they still end a word)."""
        gap = self.original[int(self.source[left]) + 1:int(self.source[right])]
        return any(is_separator(c) for c in gap)


_SURROGATES = re.compile("[\ud800-\udfff]")


def exact_view(text: str) -> View:
    """The text as written (lone surrogates, which no pattern holds, read as U+FFFD)."""
    shown = text if text.isascii() else _SURROGATES.sub("\ufffd", text)
    return View("exact", shown, np.arange(len(text), dtype=np.int64), text)


def normalized_view(text: str) -> View:
    out, source = tables().normalized.apply(_codes(text))
    return View("normalized", _text(out), source, text)


def _loose_codes(codes: Codes, max_gap: int) -> tuple[Codes, Index]:
    t = tables()
    out, source = t.loose.apply(codes)
    sep = t.separators[out]
    if bool(sep.any()):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], sep.view(np.int8), [0]))))
        starts, ends = edges[0::2], edges[1::2]
        long_starts = starts[(ends - starts) > max_gap]
        keep = ~sep
        keep[long_starts] = True
        out = out.copy()
        out[long_starts] = ord(BOUNDARY)
        out, source = out[keep], source[keep]
    if len(out) > 1:
        keep = np.ones(len(out), dtype=bool)
        keep[1:] = out[1:] != out[:-1]
        out, source = out[keep], source[keep]
    return out, source


def loose_view(text: str, *, max_gap: int = DEFAULT_MAX_GAP) -> View:
    out, source = _loose_codes(_codes(text), max_gap)
    return View("loose", _text(out), source, text)


def pinyin_view(text: str, *, max_gap: int = DEFAULT_MAX_GAP) -> View:
    t, pinyin = tables(), pinyin_map()
    loose, loose_source = _loose_codes(_codes(text), max_gap)
    out, source = pinyin.apply(loose)
    # A match must start and end on a syllable edge, or at the edge of a run of typed
    # Latin letters: "shamao" must not match inside the typed word "xiashamaozi".
    from_hanzi = (pinyin._lengths[loose] > 1) | (pinyin._single[loose] != loose)
    n = len(out)
    edges = np.ones(n + 1, dtype=bool)
    if n > 1:
        same_char = source[1:] == source[:-1]
        hanzi = from_hanzi[source]
        latin = t.latin_alnum[out]
        typed_run = ~hanzi[1:] & ~hanzi[:-1] & latin[1:] & latin[:-1]
        edges[1:n] = ~same_char & ~typed_run
    return View("pinyin", _text(out), loose_source[source], text, edges)


_REPEATS = re.compile(r"([^\uffff])\1+", re.DOTALL)


def fold_pattern(pattern: str, view: str) -> str:
    """A pattern in the form that matches the given view of a text ("exact",
    "normalized", "loose" or "pinyin"). Fast for many short patterns: no numpy."""
    if view == "exact":
        return pattern
    t = tables()
    if view == "normalized":
        return pattern.translate(t.normalized.translate_table)
    folded = pattern.translate(t.loose.translate_table)
    folded = "".join(c for c in folded if not t.separators[ord(c)])
    folded = _REPEATS.sub(r"\1", folded)
    if view == "loose":
        return folded
    if view == "pinyin":
        return folded.translate(pinyin_map().translate_table)
    raise ValueError(f"unknown view {view!r}")


def fold_patterns(patterns: list[str], view: str) -> list[str]:
    """`fold_pattern` over many patterns with one C-level pass per step; the joiner is a
    noncharacter that no step changes and that is never a separator."""
    if not patterns:
        return []
    joiner = BOUNDARY
    joined = joiner.join(patterns)
    if view in ("exact", "normalized"):
        return fold_pattern(joined, view).split(joiner)
    t = tables()
    folded = joined.translate(t.loose.translate_table)
    folded = folded.translate(_separator_deletions())
    folded = _REPEATS.sub(r"\1", folded)
    if view == "pinyin":
        folded = folded.translate(pinyin_map().translate_table)
    return folded.split(joiner)


@cache
def _separator_deletions() -> dict[int, None]:
    return dict.fromkeys(np.flatnonzero(tables().separators).tolist())


def is_latin_word(folded: str) -> bool:
    """Folded patterns made only of ASCII letters/digits match whole words only."""
    return bool(folded) and folded.isascii() and folded.isalnum()


_CLASS_ORDER = ("zero_width", "combining_mark", "numeral", "width", "case", "traditional",
                "homoglyph")


@cache
def _char_classes(c: str) -> frozenset[str]:
    """The evasion classes one character belongs to (cached: texts repeat characters)."""
    category = unicodedata.category(c)
    numeric = unicodedata.numeric(c, None) is not None
    classes = set()
    if category == "Cf":
        classes.add("zero_width")
    if category in ("Mn", "Me"):
        classes.add("combining_mark")
    if c in NUMERALS or (not c.isascii() and numeric and category != "Lo"):
        classes.add("numeral")
    elif unicodedata.normalize("NFKC", c) != c and not numeric:
        classes.add("width")
    if c.casefold() != c:
        classes.add("case")
    if c in _traditional_to_simplified():
        classes.add("traditional")
    if c in HOMOGLYPHS:
        classes.add("homoglyph")
    if is_separator(c):
        classes.add("emoji" if category == "So" and ord(c) >= 0x2600 else "separator")
    return frozenset(classes)


def evasions(found: str, pattern: str) -> tuple[str, ...]:
    """Names of the evasion classes that turn `pattern` into the original text `found`:
    what a reviewer sees next to a match ("traditional", "separator", ...)."""
    in_found = frozenset().union(*map(_char_classes, found))
    in_pattern = frozenset().union(*map(_char_classes, pattern))
    classes = [name for name in _CLASS_ORDER if name in in_found and name not in in_pattern]
    seps_found = sum(1 for c in found if _separator(c))
    if seps_found > sum(1 for c in pattern if _separator(c)):
        classes.append("emoji" if "emoji" in in_found else "separator")
    if _repeats(fold_pattern(found, "normalized")) > _repeats(fold_pattern(pattern,
                                                                         "normalized")):
        classes.append("repeat")
    return tuple(classes)


_separator = cache(is_separator)  # texts repeat characters; the tables cover 0x110000


def _repeats(s: str) -> int:
    letters = [c for c in s if not _separator(c)]
    return sum(1 for a, b in itertools.pairwise(letters) if a == b)
