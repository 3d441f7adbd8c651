"""Reading the chosen option out of a model's free-text reply, without ever inventing one.

:func:`extract_choice` returns the option letter (``"A"``, ``"B"``, ...) a careful human reads in the
reply, or ``None`` when the reply states no single choice. ``None`` counts as a wrong answer and is
reported as ``unreadable_rate``. A wrong letter is worse than ``None``: when the evidence conflicts,
the reader returns ``None``.

Rules, in order of precedence (the first that decides, decides):

1. Clean-up: Unicode NFKC (full-width ``Ｂ`` -> ``B``), ``<think>...</think>`` blocks dropped (an
   unclosed ``<think>`` drops everything after it; a ``</think>`` without an opening tag, whose
   ``<think>`` was in the prompt, drops everything before it), markdown emphasis and code marks
   removed. An empty reply -> ``None``. A degenerate reply (a run of 8 or more identical letters,
   as random or looping generation produces) -> ``None``.
   An echo of the option list states no choice and is removed before reading: a run of two or more
   options, each written after its own letter (``A. Yes`` / ``B. No``, ``(a) Two (b) Four``), with
   nothing but punctuation, line breaks or the word "option" between them. What is left is read by
   the rules below (``"A) Yes\\nB) No\\n\\nB"`` -> ``B``); ``(A) Two, not (B) Four`` is no echo.
2. A bare letter, in any wrapping: ``B``, ``(b)``, ``[B]``, ``**B**``, ``B.``, ``Option B``, or a
   leading ``B) Four`` / ``B. Four``. A letter outside the options -> ``None``. A leading letter is
   not a choice when what follows is a verdict on it (``(B) is incorrect, ...``), a description
   (``A says ...``) or another letter (``A. B.``): then the later rules read the reply. A leading
   letter contradicted by a later answer marker (rule 3) -> ``None``. A bare number is an option's
   value when any option is a number (``4`` -> ``Four``; ``None`` when it could also be another
   option's position, as ``2`` with Two/Four), otherwise a position (``1`` -> ``A``).
3. Explicit answer markers, the *last* one wins (reasoning first, answer last): ``answer is``,
   ``Answer:``, ``Final answer``, ``\\boxed{B}``, ``therefore``/``so``/``thus``, ``I choose``,
   ``the correct option is``, ``I'd say``, ``答案是``/``选``/``选项``, ``respuesta``/``réponse``/
   ``Antwort``/``risposta``/``resposta``/``Ответ``/``答え``. What follows the marker, within its clause
   (at most ~200 characters), is read as a letter or as an option text; ``not`` right after the
   marker, two different choices ("A or B") or an out-of-range letter make that marker undecided
   (``or``/``and``/``/``/``或``/``还是`` all count as alternatives). A number alone after the
   marker (``Answer: 4``) is read as a bare number (rule 2).
4. Letter mentions: ``(a)``, ``option B``, ``B is correct``... Mentions negated by a preceding
   negation (``not``/``n't``/``nor``/``neither``/``never``/``rather than``/``instead of``/``except``
   /``other than``, and ``ni``/``pas``/``nicht``/``weder``/``noch``/``не``/``ни``/``不是``/``不选``/
   ``而非``/``并非``) within the same clause are discarded; exactly one remaining distinct letter
   decides. Also discarded: a letter rejected by what follows it (``A is wrong``, ``B is not
   correct``), a letter that is described rather than chosen (``Option A says two tanks``) and a
   letter naming a thing (``image A``, ``tank B``, ``the area marked B``). An ``A`` followed by a
   word (``A car``, ``A few``) is the English article, never a mention, unless the word joins it to
   another letter (``A or B``, ``A oder B``, ``A ni B``, ``A B``: a listing, so no single choice).
   Letters are delimited by anything that is not a Latin letter or digit, so ``是B`` mentions ``B``.
5. Ordinals: ``the second option``, ``the first one``, ``option two``, ``option 2`` (``the first
   image`` is not; rejected and described ordinals are discarded as in 4; with options written as
   digits, ``option 2`` is the option text ``2`` and ``None`` when that differs from the second
   option).
6. Option texts (case, punctuation, hyphen/space insensitive, whole words, longest match first,
   punctuation inside an option optional so ``Yes partially`` is ``Yes, partially``; a count in
   digits is its number word, ``4 tanks`` = ``four tanks``, while a number standing alone stays a
   number, which matches only an option written as that number or its word), with the same negation rule, whose scope ends at clause
   punctuation (``, ; . — !?``); exactly one distinct option decides, two -> ``None``
   (``Yes and no``, ``Yes/No``). The options ``Yes`` / ``No`` are also read from their synonyms
   standing as an interjection (``yep``, ``sí``, ``oui``, ``ja``, ``nope``, ``nein``, ``non``,
   ``absolutely not``, ``not at all``...). ``no`` is the answer *No* only as an interjection:
   followed by clause punctuation, the end, or a word that starts a clause (``No, ...``, ``No there
   isn't``, ``so no.``), never as a determiner (``There are no cars``, ``No doubt, yes``, ``No
   idea``): those answer nothing without the question, which the reader does not see.
7. Otherwise ``None``: refusals, "both", "neither", hedges between options, empty replies.

Whatever rule decided, a reply that writes a letter with *another* option's text (``A. Four`` or
``Four (A)`` with options Two/Four, ``No (A)`` with Yes/No) contradicts itself -> ``None``.

Every rule runs in time linear in the reply's length (``scripts/bench_answers.py`` measures it).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Sequence

from rsmmvp_tasks.schema import option_letters

__all__ = ["extract_choice", "is_readable"]

# ---------------------------------------------------------------------------------------------- tokens
_LATIN = "0-9A-Za-z\u00c0-\u024f"
_NB = rf"(?<![{_LATIN}])"  # a letter token starts here (not inside a Latin word or a number)
_NA = rf"(?![{_LATIN}])"  # ... and ends here
_CJK = "\u3040-\u30ff\u3400-\u9fff"

_MARKDOWN = re.compile(r"\*\*|__|`+|~~")
_DEGENERATE = re.compile(r"([^\W\d_])\1{7,}")  # 8+ identical letters in a row: random or looping generation
_NEG_WINDOW = 24  # characters before a mention searched for a negation
_NAME_WINDOW = 40  # characters before a letter searched for a noun it names ("image A")
_CLAUSE_MAX = 200  # characters after an answer marker read as its clause (plus the longest option)
_BARE_MAX = 40  # a bare-letter reply is short

# ------------------------------------------------------------------------- 2. bare and leading letters
_BARE = re.compile(r"\W*(?:option|choice|answer)?\s*[\(\[\{]?\s*([A-Za-z])\s*[\)\]\}]?\W*", re.I)
_LEADING = re.compile(r"\W*[\(\[]?([A-Za-z])(?:[\)\]]\s*|[.:]\s+)\S")
_LEADING_LINE = re.compile(r"\W*[\(\[]?([A-Z])[\)\].:]?\s*")
_BARE_NUMBER = re.compile(r"\W*(\d{1,2})\W*")

# ----------------------------------------------------------------------------------- 3. answer markers
_MARKERS = re.compile(
    r"(?:\\boxed\{"
    r"|\b(?:final\s+)?answer\b\s*(?:is\b|would be\b|should be\b|will be\b|[:：])?"
    r"|\bcorrect\s+(?:option|answer|choice)\s*(?:is|would be|[:：])?"
    r"|\bbest\s+(?:option|answer|choice)\s*(?:is|would be|[:：])?"
    r"|\b(?:therefore|thus|hence|so)\b\s*,?\s*(?:the\s+answer\s+is\b\s*)?"
    r"|\bI(?:'d| would| will)?\s+(?:choose|pick|select|go with|say)\b"
    r"|\b(?:respuesta|réponse|reponse|antwort|risposta|resposta|ответ)\b"
    r"(?:\s+(?:correcta|correcte|richtige|corretta|correta|правильный))?\s*(?:es\b|est\b|ist\b|è|é|[:：])?"
    r"|答案\s*(?:是|为|應為|应为)?\s*[:：]?"
    r"|答え\s*(?:は)?\s*[:：]?"
    r"|选(?:择|项)?\s*[:：]?"
    r")",
    re.I,
)
_AFTER_LETTER = re.compile(r"\s*[:：]?\s*(?:option|choice|选项)?\s*[\(\[\{]?\s*([A-Za-z])\s*[\)\]\}]?(?![A-Za-z'])")
_ARTICLE_AFTER = re.compile(r"\s+[a-z]")
_OPEN_PAREN = re.compile(r"\s*[\(\[]")
_ALTERNATIVE = re.compile(r"\s*(?:or|and|/|&|,|或|和|还是)\s*(?:option\s+)?[\(\[]?[A-Za-z][\)\]]?(?![A-Za-z])", re.I)
_AFTER_NEGATED = re.compile(r"\s*[:：]?\s*(?:not|n't|neither)\b", re.I)
_CLAUSE_END = re.compile(r"[.;!?\n。；！？]")
_ECHO_GAP = re.compile(r"(?:[\W_]|option|choice)*", re.I)  # between the entries of an echoed option list

# ---------------------------------------------------------------------------------- 4. letter mentions
_CONNECTOR = r"(?:or|and|nor|vs\.?|versus|ou|et|ni|oder|und|y|o|e|или|и)"
_MENTIONS = [
    re.compile(r"[\(\[]([A-Za-z])[\)\]]"),  # (a) [B]
    re.compile(r"\b(?:option|choice|opción|opcion|opzione|opção|вариант)\s+([A-Za-z])" + _NA, re.I),  # option B
    re.compile(_NB + r"([B-HJ-Z])" + _NA + r"(?!['’])"),  # a capital standing alone (not the article A, not "I")
    re.compile(  # "A" as a letter: before punctuation, a verb of judgement, a connector to another letter, CJK
        _NB + r"(A)" + _NA + r"(?=\s*(?:$|\n|[.,;:!?)/&+]|[" + _CJK + r"]"
        r"|(?:is|was|would|seems|looks|appears|matches|fits|and|or|nor)\b"
        r"|" + _CONNECTOR + r"\s+[\(\[]?[A-Z]" + _NA + r"|[\(\[]?[B-Z]" + _NA + r"))"
    ),
]

# a letter that names a thing ("image A", "tank B", "the area marked B") rather than an option
_NAMED_THING = re.compile(
    r"\b(?:image|picture|photo|figure|fig|panel|region|area|zone|tank|building|ship|runway|site|plot|tile|parcel"
    r"|point|marked|labell?ed|named|called)\s*[\(\[]?\s*$",
    re.I,
)

# a letter that is described rather than chosen ("Option A says two tanks")
_DESCRIBED = re.compile(
    r"\s*[\)\]]?\s*(?:says|states|claims|suggests|describes|refers|mentions|would mean|means|implies)\b", re.I
)

# a choice rejected by what follows it ("A is wrong", "the first option is incorrect")
_REJECTED = re.compile(r"[\s\)\]]*(?:is|was|seems|looks)\s+(?:wrong|incorrect|false|not\b|ruled out|excluded)", re.I)

# a letter written as a label, with an option's text after it ("B. Four", "(b) four") or before it ("Four (B)")
_LABEL_AFTER = re.compile(_NB + r"(?:[\(\[]([A-Za-z])[\)\]]|([A-Z])[\)\].:])[ \t]*")
_LABEL_BEFORE = re.compile(r"[ \t]*[\(\[]([A-Za-z])[\)\]]")

# a leading letter followed by another letter: a listing ("A. B.", "A) B)", "A. or B")
_LISTED = re.compile(
    r"\s*[\)\]]?\s*[.,:;/&+]?\s*(?:" + _CONNECTOR + r"\s+)?[\(\[]?[A-Za-z](?:[\)\].:,;]|\s*$|\s+" + _CONNECTOR + r"\b)"
)

# negations (their scope ends at clause punctuation and "but")
_NEGATION = re.compile(
    r"\b(?:not|nor|neither|never|rather than|instead of|except|other than|ni|pas|nicht|weder|noch|не|ни)\b"
    r"|n['’ ]t\b|不是|不选|而非|并非",
    re.I,
)
_NEG_SCOPE_END = re.compile(r"[.,;!?\n。，；！？—–]|\s-\s|\bbut\b|但", re.I)

# ------------------------------------------------------------------------------------------ 5. ordinals
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "former": 0, "latter": 1}
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|former|latter)\s+(?:option|choice|answer|one)\b"
                      r"|\b(?:the\s+)?(former|latter)\b(?!\s+(?:image|picture|photo))"
                      r"|\b(?:option|choice)\s+(one|two|three|four|five|[1-5])\b", re.I)
_NUMBER_WORDS = {"one": 0, "two": 1, "three": 2, "four": 3, "five": 4, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4}

# ------------------------------------------------------------------------------------- 6. option texts
_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_COUNT = re.compile(r"(?<!\w)(\d{1,2})(?= +[^\W\d_])")  # a digit counting something ("4 tanks"), not "Answer: 2"
_BREAK = " , "  # clause punctuation inside a normalised text
_N_DASH = re.compile(r"\s[-–—]+\s|[—–]")  # a dash between words ends a clause
_N_JOINERS = re.compile(r"[-_/]+")
_N_CLAUSE = re.compile(r"[.,;!?。，；！？:\n]")
_N_OTHER_BREAKS = re.compile(r"[^\w\s,]")
_N_OTHER = re.compile(r"[^\w\s]")
_N_SPACES = re.compile(r"\s+")

# yes/no read from interjections: "yes" anywhere; other words only before clause punctuation or the end;
# "no" also before a word that starts a clause ("No there isn't", "no it is not") but never as a determiner
_END = r"(?= (?:,|$))"
_YES = r"(?<= )(?:yes" + r"|(?:yeah|yep|yup|sí|oui|ja|да|是的|是|对)" + _END + r")(?= )"
_NO_FOLLOWERS = r"(?:there|it|its|i|im|the|this|that|these|those|they|we|you|he|she|not|wait|because|since|but|sorry)"
_NO = (r"(?<= )(?:no(?= (?:,|$|" + _NO_FOLLOWERS + r" ))"
       r"|(?:nope|nah|non|nein|нет|不是|不|否|(?:absolutely|certainly|definitely|of course|surely) not|not at all)"
       + _END + r")(?= )")


def _drop_think(text: str) -> str:
    """Drop ``<think>...</think>`` blocks (and what precedes an orphan ``</think>``), in linear time."""
    low = text.lower()
    first_open, first_close = low.find("<think>"), low.find("</think>")
    pos = first_close + len("</think>") if first_close >= 0 and (first_open < 0 or first_close < first_open) else 0
    out: list[str] = []
    while True:
        i = low.find("<think>", pos)
        if i < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:i])
        j = low.find("</think>", i + len("<think>"))
        if j < 0:  # unclosed: everything after it is reasoning
            break
        out.append(" ")
        pos = j + len("</think>")
    return "".join(out)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _drop_think(text)
    text = _MARKDOWN.sub("", text)
    return text.strip()


def _norm(text: str, breaks: bool = False) -> str:
    """Lower-case, hyphens/underscores/slashes as spaces, punctuation dropped, counts as number words.

    A number that counts something (``4 tanks``) becomes its word (``four tanks``); a number standing
    alone (``Answer: 2``) stays a digit: it could be a position as well as a value. With ``breaks``, clause punctuation (dashes between spaces included) is kept as a `` , ``
    token so that a negation's scope still ends at it ("not east-west, it's north-south").
    """
    text = _COUNT.sub(lambda m: _DIGIT_WORDS[int(m.group(1))] if int(m.group(1)) < len(_DIGIT_WORDS) else m.group(1),
                      text.lower())
    if breaks:
        text = _N_DASH.sub(_BREAK, text)
    text = _N_JOINERS.sub(" ", text)
    if breaks:
        text = _N_CLAUSE.sub(_BREAK, text)
        text = _N_OTHER_BREAKS.sub(" ", text)
    else:
        text = _N_OTHER.sub(" ", text)
    return _N_SPACES.sub(" ", text).strip()


def _negated(text: str, start: int) -> bool:
    window = text[max(0, start - _NEG_WINDOW) : start]
    window = _NEG_SCOPE_END.split(window)[-1]  # a negation does not cross these
    return bool(_NEGATION.search(window))


def _letter(letter: str, letters: list[str]) -> str | None:
    up = letter.upper()
    return up if up in letters else None


@lru_cache(maxsize=4096)
def _option_pattern(option: str) -> re.Pattern[str] | None:
    """The regex that finds ``option`` as whole words in a :func:`_norm` (``breaks``) text."""
    needle = _norm(option)
    if not needle:
        return None
    if needle == "yes":
        return re.compile(_YES)
    if needle == "no":
        return re.compile(_NO)
    # an option written as a number also matches its word ("2" ~ "two"); a word matches counts, mapped by _norm
    words = [f"(?:{w}|{_DIGIT_WORDS[int(w)]})" if w.isdigit() and int(w) < len(_DIGIT_WORDS) else re.escape(w)
             for w in needle.split(" ")]
    return re.compile(r"(?<= )" + "(?: ,)? ".join(words) + r"(?= )")


@lru_cache(maxsize=4096)
def _longest_first(options: tuple[str, ...]) -> list[int]:
    return sorted(range(len(options)), key=lambda i: -len(_norm(options[i])))


def _option_matches(text: str, options: Sequence[str]) -> list[tuple[int, int]]:
    """(option index, position) of each non-negated whole-phrase occurrence, longest options first."""
    hay = " " + _norm(text, breaks=True) + " "
    taken = bytearray(len(hay) + 1)
    found: list[tuple[int, int]] = []
    for i in _longest_first(tuple(options)):
        pattern = _option_pattern(options[i])
        if pattern is None:
            continue
        for m in pattern.finditer(hay):
            if taken.find(1, m.start(), m.end()) >= 0:
                continue  # inside a longer option already found
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            if not _negated(hay, m.start()):
                found.append((i, m.start()))
    return found


def _option_at(text: str, pos: int, options: Sequence[str]) -> int | None:
    """The index of the (longest) option whose text, as a whole clause, starts at ``pos``, if any."""
    head = " " + _norm(text[pos : pos + _CLAUSE_MAX], breaks=True) + " "
    best: tuple[int, int] | None = None
    for i, option in enumerate(options):
        pattern = _option_pattern(option)
        m = pattern.match(head, 1) if pattern is not None else None
        # the option's text as a unit (up to clause punctuation or the end), not a sentence starting with its word
        if m and (head.startswith(" ,", m.end()) or m.end() >= len(head) - 1) and (best is None or m.end() > best[1]):
            best = (i, m.end())
    return best[0] if best else None


def _option_before(text: str, pos: int, options: Sequence[str]) -> int | None:
    """The index of the (longest) option whose text, as a whole clause, ends at ``pos``, if any."""
    tail = " " + _norm(text[max(0, pos - _CLAUSE_MAX) : pos], breaks=True) + " "
    best: tuple[int, int] | None = None
    for i, option in enumerate(options):
        pattern = _option_pattern(option)
        last = None
        for last in pattern.finditer(tail) if pattern is not None else ():
            pass
        if (last and last.end() >= len(tail) - 1 and (last.start() == 1 or tail.endswith(" , ", 0, last.start() + 1))
                and (best is None or last.end() - last.start() > best[1])):
            best = (i, last.end() - last.start())
    return best[0] if best else None


def _mislabelled(text: str, letters: list[str], options: Sequence[str]) -> bool:
    """Whether a letter is written with another option's text: ``A. Four`` / ``Four (A)`` (options Two, Four)."""
    for m in _LABEL_AFTER.finditer(text):
        letter = (m.group(1) or m.group(2)).upper()
        i = _option_at(text, m.end(), options) if letter in letters else None
        if i is not None and letters[i] != letter:
            return True
    for m in _LABEL_BEFORE.finditer(text):
        letter = m.group(1).upper()
        i = _option_before(text, m.start(), options) if letter in letters else None
        if i is not None and letters[i] != letter:
            return True
    return False


def _entries(text: str, options: Sequence[str], letters: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, letter) of each ``letter + delimiter + that letter's option text`` (``B. Four``)."""
    found = []
    for letter, option in zip(letters, options):
        words = re.findall(r"\w+", unicodedata.normalize("NFKC", option))
        if words:
            body = r"[\W_]+".join(map(re.escape, words))
            pattern = re.compile(rf"{_NB}[\(\[]?{letter}(?:[\)\]]|[.:])[ \t]*{body}{_NA}", re.I)
            found.extend((m.start(), m.end(), letter) for m in pattern.finditer(text))
    return sorted(found)


def _drop_echoed_options(text: str, options: Sequence[str], letters: list[str]) -> str:
    """Remove each echo of the option list: a run of two or more entries (see :func:`_entries`) of
    distinct letters with nothing but list punctuation (or the word "option") between them."""
    runs: list[list[tuple[int, int, str]]] = []
    for entry in _entries(text, options, letters):
        if runs and entry[0] >= runs[-1][-1][1] and _ECHO_GAP.fullmatch(text, runs[-1][-1][1], entry[0]):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    out, pos = [], 0
    for run in runs:
        if len({letter for _, _, letter in run}) >= 2 and run[0][0] >= pos:
            out.append(text[pos : run[0][0]] + "\n")
            pos = run[-1][1]
    out.append(text[pos:])
    return "".join(out).strip()


def _read_after_marker(text: str, pos: int, letters: list[str], options: Sequence[str],
                       memo: dict[str, set[int]] | None = None) -> str | None | bool:
    """A letter, ``None`` (undecided) or ``False`` (nothing readable after the marker ending at ``pos``).

    ``memo`` caches the options found per clause text (a looping reply repeats its clauses verbatim).
    """
    if _AFTER_NEGATED.match(text, pos):
        return None
    limit = min(len(text), pos + _CLAUSE_MAX + max(len(o) for o in options))
    end = _CLAUSE_END.search(text, pos, limit)
    clause = text[pos : end.start() if end else limit]
    m = _AFTER_LETTER.match(text, pos)
    if m and not (m.group(1) in "Aa" and _ARTICLE_AFTER.match(text, m.end()) and not _OPEN_PAREN.match(text, pos)):
        if _ALTERNATIVE.match(text, m.end()):  # "A or B", "A/B", "A and B"
            return None
        return _letter(m.group(1), letters)
    number = _BARE_NUMBER.fullmatch(clause)
    if number:  # "Answer: 4": a value or a position, as a bare reply (rule 2)
        return _bare_number(number.group(1), options, letters)
    distinct = memo.get(clause) if memo is not None else None
    if distinct is None:
        distinct = {i for i, _ in _option_matches(clause, options)}
        if memo is not None:
            memo[clause] = distinct
    if len(distinct) == 1:
        return letters[next(iter(distinct))]
    if len(distinct) > 1:
        return None
    return False


def _marker_choice(text: str, letters: list[str], options: Sequence[str]) -> str | None | bool:
    """The last readable answer marker's reading (see :func:`_read_after_marker`), ``False`` if none."""
    memo: dict[str, set[int]] = {}
    for mk in reversed(list(_MARKERS.finditer(text))):
        got = _read_after_marker(text, mk.end(), letters, options, memo)
        if got is not False:
            return got
    return False


def _discarded(text: str, start: int, end: int) -> bool:
    """A mention spanning ``text[start:end]`` that is negated, names a thing, is described or rejected."""
    return bool(_negated(text, start) or _NAMED_THING.search(text[max(0, start - _NAME_WINDOW) : start])
                or _DESCRIBED.match(text, end) or _REJECTED.match(text, end))


def _mentions(text: str) -> set[str]:
    """The distinct letters mentioned (rule 4); the scan stops at the second one: the reply is then ambiguous."""
    found: set[str] = set()
    for pattern in _MENTIONS:
        for m in pattern.finditer(text):
            if not _discarded(text, m.start(), m.end()):
                found.add(m.group(1).upper())  # out-of-range letters are kept: they make the reply ambiguous
                if len(found) > 1:
                    return found
    return found


def _bare_number(number: str, options: Sequence[str], letters: list[str]) -> str | None:
    """A reply that is only a number: an option's value when options are numbers, else a position."""
    normalized = [_norm(o) for o in options]
    word = _DIGIT_WORDS[int(number)] if int(number) < len(_DIGIT_WORDS) else number
    value = [i for i, o in enumerate(normalized) if o in (number.lstrip("0") or "0", word)]
    rank = int(number) - 1 if 1 <= int(number) <= len(options) else None
    if any(o in _DIGIT_WORDS or o.isdigit() for o in normalized):
        return letters[value[0]] if len(value) == 1 and rank in (None, value[0]) else None
    return letters[rank] if rank is not None else None


def _leading_letter(text: str, letters: list[str], options: Sequence[str]) -> str | None | bool:
    """Rule 2: a letter the reply is or opens with; ``False`` when the rule does not apply."""
    if len(text) <= _BARE_MAX:
        m = _BARE.fullmatch(text)
        if m and not re.fullmatch(r"\W*(?:a|i)\W*", text):  # lone "a"/"I" only when wrapped or upper-case
            return _letter(m.group(1), letters)
        if m and text.strip(" .!") in ("A", "a"):
            return _letter("A", letters)
        m = _BARE_NUMBER.fullmatch(text)
        if m:
            return _bare_number(m.group(1), options, letters)
    first_line = text.split("\n", 1)[0] if "\n" in text[:_CLAUSE_MAX] else ""
    m = _LEADING.match(text) or (_LEADING_LINE.fullmatch(first_line) if first_line else None)
    if not m or not (m.group(1).isupper() or text.lstrip().startswith(("(", "["))):
        return False
    after = m.end(1)
    if _REJECTED.match(text, after) or _DESCRIBED.match(text, after) or _LISTED.match(text, after):
        return False  # "(B) is incorrect, (A) is correct", "A says ...", "A. B.": not a choice, read on
    letter = _letter(m.group(1), letters)
    later = _marker_choice(text[m.end() :], letters, options)
    if later is not False and later != letter:
        return None  # "B. ... the answer is A": conflicting evidence
    return letter


def _decide(text: str, letters: list[str], options: Sequence[str]) -> str | None:
    """Rules 2 to 7 on a cleaned reply without echoed option lists."""
    # 2. a bare letter, or a reply that opens with one
    leading = _leading_letter(text, letters, options)
    if leading is not False:
        return leading  # type: ignore[return-value]

    # 3. answer markers: the last readable one wins
    decided = _marker_choice(text, letters, options)
    if decided is not False:
        return decided  # type: ignore[return-value]

    # 4. letter mentions
    mentioned = _mentions(text)
    if len(mentioned) == 1:
        return _letter(mentioned.pop(), letters)
    if len(mentioned) > 1:
        return None

    # 5. ordinals
    picked = set()
    for om in _ORDINAL.finditer(text):
        word = next(g for g in om.groups() if g).lower()
        if word.isdigit() and any(o.strip().isdigit() for o in options):
            # options written as digits: "option 2" is the option text "2" unless it could also be the second option
            as_text = [i for i, o in enumerate(options) if o.strip() == word]
            as_rank = _NUMBER_WORDS[word]
            if as_text and as_rank < len(options) and as_text[0] != as_rank:
                return None
            continue
        if not _discarded(text, om.start(), om.end()):
            picked.add(_ORDINALS.get(word, _NUMBER_WORDS.get(word)))
    if len(picked) == 1:
        i = picked.pop()
        return letters[i] if i is not None and i < len(letters) else None
    if len(picked) > 1:
        return None

    # 6. option texts
    matches = {i for i, _ in _option_matches(text, options)}
    if len(matches) == 1:
        return letters[matches.pop()]
    return None


def extract_choice(response: str, options: Sequence[str]) -> str | None:
    """The option letter stated in ``response``, or ``None``. See the module docstring for the rules.

    >>> extract_choice("**B**", ["Yes", "No"])
    'B'
    >>> extract_choice("There is a car on the road.", ["Yes", "No"]) is None
    True
    >>> extract_choice("The runway runs east-west.", ["North-south", "East-west"])
    'B'
    >>> extract_choice("A. Yes\\nB. No", ["Yes", "No"]) is None
    True
    """
    letters = option_letters(len(options))
    text = _clean(response or "")
    if not text or not letters or _DEGENERATE.search(text):
        return None
    text = _drop_echoed_options(text, options, letters)
    if not text:
        return None
    choice = _decide(text, letters, options)
    if choice is not None and _mislabelled(text, letters, options):
        return None  # "A. Four" / "No (A)": a letter written with another option's text
    return choice


def is_readable(response: str, options: Sequence[str]) -> bool:
    """Whether :func:`extract_choice` reads a single choice in ``response``."""
    return extract_choice(response, options) is not None
