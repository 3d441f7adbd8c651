"""Reading the chosen option out of a model's free-text reply, without ever inventing one.

:func:`extract_choice` returns the option letter (``"A"``, ``"B"``, ...) a careful human reads in the
reply, or ``None`` when the reply states no single choice. ``None`` counts as a wrong answer and is
reported as ``unreadable_rate``.

Rules, in order of precedence (the first that decides, decides):

1. Clean-up: Unicode NFKC (full-width ``Ｂ`` -> ``B``), ``<think>...</think>`` blocks dropped (an
   unclosed ``<think>`` drops everything after it), markdown emphasis and code marks removed.
   An empty reply -> ``None``.
2. A bare letter, in any wrapping: ``B``, ``(b)``, ``[B]``, ``**B**``, ``B.``, ``Option B``, or a
   leading ``B) Four`` / ``B. Four``. A letter outside the options -> ``None``.
3. Explicit answer markers, the *last* one wins (reasoning first, answer last): ``answer is``,
   ``Answer:``, ``Final answer``, ``\\boxed{B}``, ``therefore``/``so``/``thus``, ``I choose``,
   ``the correct option is``, ``I'd say``, ``答案是``/``选``/``选项``. What follows the marker is read as a letter
   or as an option text; ``not`` right after the marker, two different choices ("A or B") or an
   out-of-range letter make that marker undecided (``or``/``and``/``/``/``或``/``还是`` all
   count as alternatives).
4. Letter mentions: ``(a)``, ``option B``, ``B is correct``... Mentions negated by a preceding
   ``not``/``n't``/``nor``/``neither``/``rather than``/``instead of`` are discarded; exactly one
   remaining distinct letter decides. Also discarded: a letter rejected by what follows it
   (``A is wrong``, ``B is not correct``), a letter that is described rather than chosen
   (``Option A says two tanks``) and a letter naming a thing (``image A``, ``tank B``). An ``A``
   followed by a word (``A car``, ``A few``) is the English article, never a mention.
5. Ordinals: ``the second option``, ``the first one``, ``option two``, ``option 2`` (``the first
   image`` is not; rejected ordinals are discarded as in 4; with numeric options, ``option 2`` is
   the option text ``2`` and ``None`` when that differs from the second option).
6. Option texts (case, punctuation, hyphen/space insensitive, whole words, longest match first;
   yes/no options also by a leading ``Yes``/``No``, but ``Yes and no`` / ``Yes/No`` is a hedge),
   with the same negation rule, whose scope ends at clause punctuation; exactly one distinct
   option decides.
7. Otherwise ``None``: refusals, "both", "neither", hedges between options, empty replies.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from rsmmvp_tasks.schema import option_letters

__all__ = ["extract_choice", "is_readable"]

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)
_THINK_OPEN = re.compile(r"<think>.*", re.S | re.I)
_MARKDOWN = re.compile(r"\*\*|__|`+|~~")
_NEG_WINDOW = 24  # characters before a mention searched for a negation

# 2. whole reply is a letter, optionally wrapped; or starts with "B) text" / "B. text" / "B: text"
_BARE = re.compile(r"^\W*(?:option|choice|answer)?\s*[\(\[\{]?\s*([A-Za-z])\s*[\)\]\}]?\W*$", re.I)
_LEADING = re.compile(r"^\W*[\(\[]?([A-Za-z])(?:[\)\]]\s*|[.:]\s+)\S")
_LEADING_LINE = re.compile(r"^\W*[\(\[]?([A-Z])[\)\].:]?\s*$", re.M)

# 3. answer markers (what follows is read by _read_after_marker)
_MARKERS = re.compile(
    r"(?:\\boxed\{"
    r"|\b(?:final\s+)?answer\b\s*(?:is\b|would be\b|should be\b|will be\b|[:：])?"
    r"|\bcorrect\s+(?:option|answer|choice)\s*(?:is|would be|[:：])?"
    r"|\bbest\s+(?:option|answer|choice)\s*(?:is|would be|[:：])?"
    r"|\b(?:therefore|thus|hence|so)\b\s*,?\s*(?:the\s+answer\s+is\b\s*)?"
    r"|\bI(?:'d| would| will)?\s+(?:choose|pick|select|go with|say)\b"
    r"|答案\s*(?:是|为|應為|应为)?\s*[:：]?"
    r"|选(?:择|项)?\s*[:：]?"
    r")",
    re.I,
)
_AFTER_LETTER = re.compile(r"^\s*[:：]?\s*(?:option|choice|选项)?\s*[\(\[\{]?\s*([A-Za-z])\s*[\)\]\}]?(?![A-Za-z'])")
_ALTERNATIVE = re.compile(r"\s*(?:or|and|/|&|,|或|和|还是)\s*(?:option\s+)?[\(\[]?[A-Za-z][\)\]]?(?![A-Za-z])", re.I)
_AFTER_NEGATED = re.compile(r"^\s*[:：]?\s*(?:not|n't|neither)\b", re.I)

# 4. letter mentions
_MENTIONS = [
    re.compile(r"[\(\[]([A-Za-z])[\)\]]"),  # (a) [B]
    re.compile(r"\b(?:option|choice)\s+([A-Za-z])\b", re.I),  # option B
    re.compile(r"\b([B-HJ-Z])\b(?!['’])"),  # a capital letter standing alone (not the article A, not the pronoun I)
    re.compile(r"\b(A)\b(?=\s*(?:$|[.,;:!?)]|is\b|was\b|would\b|seems\b|looks\b|appears\b|matches\b|fits\b|and\b|or\b|nor\b))"),
]

# a letter that names a thing ("image A", "tank B") rather than an option
_NAMED_THING = re.compile(
    r"\b(?:image|picture|photo|figure|fig|panel|region|area|zone|tank|building|ship|runway|site)\s*[\(\[]?\s*$", re.I
)

# a letter that is described rather than chosen ("Option A says two tanks")
_DESCRIBED = re.compile(
    r"\s*[\)\]]?\s*(?:says|states|claims|suggests|describes|refers|mentions|would mean|means|implies)\b", re.I
)

# a choice rejected by what follows it ("A is wrong", "the first option is incorrect")
_REJECTED = re.compile(r"[\s\)\]]*(?:is|was|seems|looks)\s+(?:wrong|incorrect|false|not\b|ruled out|excluded)", re.I)

# 5. ordinals
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "former": 0, "latter": 1}
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|former|latter)\s+(?:option|choice|answer|one)\b"
                      r"|\b(?:the\s+)?(former|latter)\b(?!\s+(?:image|picture|photo))"
                      r"|\b(?:option|choice)\s+(one|two|three|four|five|[1-5])\b", re.I)
_NUMBER_WORDS = {"one": 0, "two": 1, "three": 2, "four": 3, "five": 4, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4}

_YES_NO = {"yes", "no"}
_LEADING_YES_NO = re.compile(r"^\W*(?:(?:i think|i believe|well|answer)\W+)?(yes|no)\b", re.I)
_NO_IDIOM = re.compile(r"^\W*no\s+(?:idea|clue|comment|way to (?:tell|know))\b", re.I)  # "no" that answers nothing


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _THINK_BLOCK.sub(" ", text)
    text = _THINK_OPEN.sub(" ", text)
    text = _MARKDOWN.sub("", text)
    return text.strip()


def _norm(text: str, breaks: bool = False) -> str:
    """Lower-case, hyphens/underscores/slashes as spaces, punctuation dropped, spaces collapsed.

    With ``breaks``, clause punctuation is kept as a `` , `` token so that a negation's scope
    still ends at it ("not east-west, it's north-south").
    """
    text = re.sub(r"[-_/]+", " ", text.lower())
    if breaks:
        text = re.sub(r"[.,;!?。，；！？]", " , ", text)
        text = re.sub(r"[^\w\s,]", " ", text)
    else:
        text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _negated(text: str, start: int) -> bool:
    window = text[max(0, start - _NEG_WINDOW) : start]
    window = re.split(r"[.,;!?\n]|\bbut\b", window)[-1]  # a negation does not cross these
    return bool(re.search(r"\b(?:not|nor|neither|never|rather than|instead of|except|other than)\b|n['’ ]t\b", window, re.I))


def _letter(letter: str, letters: list[str]) -> str | None:
    up = letter.upper()
    return up if up in letters else None


def _option_matches(text: str, options: Sequence[str]) -> list[tuple[int, int]]:
    """(option index, position) of each non-negated whole-phrase occurrence, longest options first."""
    hay = " " + _norm(text, breaks=True) + " "
    taken = [False] * len(hay)
    found: list[tuple[int, int]] = []
    order = sorted(range(len(options)), key=lambda i: -len(_norm(options[i])))
    for i in order:
        needle = _norm(options[i], breaks=True)
        if not needle:
            continue
        for m in re.finditer(r"(?<= )" + re.escape(needle) + r"(?= )", hay):
            if any(taken[m.start() : m.end()]):
                continue
            for k in range(m.start(), m.end()):
                taken[k] = True
            if not _negated(hay, m.start()):
                found.append((i, m.start()))
    return found


def _read_after_marker(rest: str, letters: list[str], options: Sequence[str]) -> str | None | bool:
    """A letter, ``None`` (undecided) or ``False`` (nothing readable after the marker)."""
    if _AFTER_NEGATED.match(rest):
        return None
    clause = re.split(r"[.;!?\n]", rest, maxsplit=1)[0]
    m = _AFTER_LETTER.match(rest)
    if m and not (m.group(1) in "Aa" and re.match(r"\s+[a-z]", rest[m.end() :]) and not re.match(r"\s*[\(\[]", rest)):
        if _ALTERNATIVE.match(rest[m.end() :]):  # "A or B", "A/B", "A and B"
            return None
        return _letter(m.group(1), letters)
    matches = _option_matches(clause, options)
    distinct = {i for i, _ in matches}
    if len(distinct) == 1:
        return letters[distinct.pop()]
    if len(distinct) > 1:
        return None
    return False


def _mentions(text: str, letters: list[str]) -> set[str]:
    found: set[str] = set()
    for pattern in _MENTIONS:
        for m in pattern.finditer(text):
            letter = m.group(1).upper()
            if (_negated(text, m.start()) or _NAMED_THING.search(text, 0, m.start())
                    or _DESCRIBED.match(text, m.end()) or _REJECTED.match(text, m.end())):
                continue
            found.add(letter)  # out-of-range letters are kept: they make the reply ambiguous
    return found


def extract_choice(response: str, options: Sequence[str]) -> str | None:
    """The option letter stated in ``response``, or ``None``. See the module docstring for the rules.

    >>> extract_choice("**B**", ["Yes", "No"])
    'B'
    >>> extract_choice("There is a car on the road.", ["Yes", "No"]) is None
    True
    >>> extract_choice("The runway runs east-west.", ["North-south", "East-west"])
    'B'
    """
    letters = option_letters(len(options))
    text = _clean(response or "")
    if not text or not letters:
        return None

    # 2. a bare letter, or a reply that opens with one
    m = _BARE.match(text)
    if m and not re.fullmatch(r"\W*(?:a|i)\W*", text):  # lone "a"/"I" only when wrapped or upper-case
        return _letter(m.group(1), letters)
    if m and text.strip(" .!") in ("A", "a"):
        return _letter("A", letters)
    m = _LEADING.match(text) or _LEADING_LINE.match(text.split("\n", 1)[0])
    if m and (m.group(1).isupper() or text.lstrip().startswith(("(", "["))):
        return _letter(m.group(1), letters)

    # 3. answer markers: the last readable one wins
    decided: str | None | bool = False
    for mk in _MARKERS.finditer(text):
        got = _read_after_marker(text[mk.end() :], letters, options)
        if got is not False:
            decided = got
    if decided is not False:
        return decided  # type: ignore[return-value]

    # 4. letter mentions
    mentioned = _mentions(text, letters)
    if len(mentioned) == 1:
        return _letter(mentioned.pop(), letters)
    if len(mentioned) > 1:
        return None

    # 5. ordinals
    picked = set()
    for om in _ORDINAL.finditer(text):
        word = next(g for g in om.groups() if g).lower()
        if word.isdigit() and any(_norm(o).isdigit() for o in options):
            # numeric options: "option 2" is the option text "2" unless it could also be the second option
            as_text = [i for i, o in enumerate(options) if _norm(o) == word]
            as_rank = _NUMBER_WORDS[word]
            if as_text and as_rank < len(options) and as_text[0] != as_rank:
                return None
            continue
        if not _negated(text, om.start()) and not _REJECTED.match(text, om.end()):
            picked.add(_ORDINALS.get(word, _NUMBER_WORDS.get(word)))
    if len(picked) == 1:
        i = picked.pop()
        return letters[i] if i is not None and i < len(letters) else None
    if len(picked) > 1:
        return None

    # 6. option texts
    normalized = [_norm(o) for o in options]
    if set(normalized) <= _YES_NO | {""}:
        if _NO_IDIOM.match(text):
            return None
        lead = _LEADING_YES_NO.match(text)
        if lead and re.match(r"\s*(?:and|or|/|&)\s*(?:yes|no)\b", text[lead.end() :], re.I):
            return None  # "Yes and no", "Yes/No": a hedge
        if lead:
            return letters[normalized.index(lead.group(1).lower())] if lead.group(1).lower() in normalized else None
    matches = {i for i, _ in _option_matches(text, options)}
    if len(matches) == 1:
        return letters[matches.pop()]
    return None


def is_readable(response: str, options: Sequence[str]) -> bool:
    """Whether :func:`extract_choice` reads a single choice in ``response``."""
    return extract_choice(response, options) is not None
