"""Reading the chosen option out of a model's free-text reply, without ever inventing one.

:func:`extract_choice` returns the option letter (``"A"``, ``"B"``, ...) a careful human reads in the
reply, or ``None`` when the reply states no single choice. ``None`` counts as a wrong answer and is
reported as ``unreadable_rate``. A wrong letter is worse than ``None``.

The rule
--------
A reply holds *pieces of evidence*: a **letter** (``B``, ``(b)``, ``option B``, ``B is correct``, a
JSON ``{"answer": "B"}``), an **ordinal** (``the second option``) or an **option's text** (``East-west``,
and its paraphrases below). Each piece is *asserted*, *negated* or *not a choice*:

- **Not a choice**: a letter that names a thing (``image A``, ``tank B``), is described or supposed
  (``Option A says ...``, ``A would be correct if ...``), or asked about (``Option B?``); the article
  ``A`` before a word (``A road runs east to west``); two letters joined as a listing (``A or B``,
  ``A and B are both wrong``: no single choice, so ``None``); an echo of the option list (a run of two or more
  ``letter + its own text`` entries: ``A. Yes / B. No``); what a self-correction withdraws (below).
- **Negated**: within its clause (clause punctuation, a dash between spaces, or a conjunction that
  starts a new clause — ``but``, ``so``, ``because``, ``since``, ``which``... — ends the scope),
  (a) a *negator* stands before it: ``not``, ``n't``, ``never``, ``nor``, ``neither``, ``cannot``,
  ``rather than``/``instead of``/``over``/``except``/``other than``, a rejecting verb (``rule out``,
  ``eliminate``, ``exclude``, ``reject``, ``discard``) and their equivalents in other languages; or
  (b) a *verdict against* it follows it before the next choice: a negative adjective (``wrong``,
  ``incorrect``, ``false``, ``impossible``, ``unlikely``...), a negated predicate (``is not``, ``can't be``,
  ``is out``, ``ruled out``...) or a bare ``no`` (``A: no``) -- after ``A.`` (a new sentence) or after
  the option's own words with no list mark (``:``, ``-``, ``=``), only a verdict at once counts (``A.
  Incorrect``, ``Two ✗``; not ``A. Two tanks are not visible``); or (c) a negative adjective stands before it
  with no other choice in between (``✗ A``, ``wrong: A``). A verdict between two choices is the
  earlier one's (``(A) ✗ (B) ✓``, ``A: False / B: True``). Check marks are verdicts: ``✗ ❌`` read as
  ``wrong``, ``✓ ✅`` as ``right``; a yes/no answering a question about a letter is a verdict on it
  (``B? No.`` = ``B is wrong``). Yes/No options are verdicts themselves: they take none after them, and
  with Yes/No options an interjection ``No`` after a letter is that option's text (``A (No)``: a conflict).
- **Asserted**: every other piece. ``Yes``/``No`` are asserted only as an interjection: starting a
  clause (or after ``so``, ``I think``...) and ending it (or followed by a clause-opening word: ``No
  there isn't``), never as a determiner (``There are no cars``), so a garbage string that merely
  starts and ends with ``no`` asserts nothing. Their synonyms (``yep``, ``nope``, ``absolutely not``,
  ``sí``, ``oui``, ``nein``, ``是的``...) count as interjections before clause punctuation or the end.

**Any conflict between two pieces of evidence gives no choice** (``None``). The one precedence:
an explicit answer marker supersedes the reasoning before it (rule 4), and a self-correction what it
corrects (rule 2). The reply is read in this order:

1. Clean-up: Unicode NFKC, ``<think>...</think>`` reasoning and generation tokens (``</s>``) dropped,
   markdown removed; a JSON object with an answer field (``answer``, ``choice``, ``final_answer``...)
   is read as ``Answer: <value>`` (its other fields are dropped). Empty or degenerate replies (8+
   identical letters in a row) -> ``None``. Echoed option lists are removed (above).
2. **Self-correction**: ``Wait, no,`` ``Correction:`` ``I mean(t)`` ``Scratch that`` ``On second thought``
   ``or rather``, and ``Actually`` before a choice (``Actually, B``, ``actually the answer is``; not
   ``Actually, I'm sure``), after clause punctuation, withdraw everything before them: the
   reply is read from the last one on (``B. Correction: A.`` -> ``A``; ``A. Wait, no.`` -> ``None``).
3. A bare letter (``B``, ``(b)``, ``**B**``, ``Option B``) or a reply that opens with one (``B) Four``);
   a letter outside the options -> ``None``.
   A bare number is an option's value when options are numbers (``None`` when it could also be a
   position), otherwise a position.
4. Explicit answer markers (``answer is``, ``Answer:``, ``\\boxed{}``, ``therefore``/``so``, ``I choose``,
   ``答案是``, ``respuesta``...): the *last* one wins over what precedes it (reasoning first, answer
   last). What follows a marker within its clause is read as a letter or an option's text; ``not``
   right after it, or two alternatives (``A or B``), leave it undecided (``None``); a comma right after
   it (``B is the answer, since ...``) leaves nothing to read after it.
5. Asserted letters, then ordinals, then option texts: exactly one distinct asserted option decides.
   Letters are delimited by anything but a Latin letter or digit (``是B`` mentions ``B``). Ordinals:
   ``the second option``, ``option two``, ``the former`` (not ``the first image``); with options
   written as digits ``option 2`` is the text ``2`` (``None`` when that differs from the second option).

Then the conflict checks: after a leading letter or an answer marker, any later asserted letter
that differs gives ``None`` (``A: true / B: true``); and whatever decided, when the option texts
asserted anywhere in the reply name exactly one option and it is another one (``B (North-south)``,
``Answer: A\\nThe runway runs east-west.``, ``A because the runway runs east-west`` with
North-south/East-west), or a letter is written as a label of another option's text (``A. Four``,
``No (A)``, ``**A** East-west``: an article is not followed by a capital), the reply contradicts itself
-> ``None``. Texts naming both options leave the letter
to decide (the reasoning weighed both).

Option texts are matched case-, punctuation- and hyphen-insensitively as whole words, longest first;
an article may stand between their words (``sailing in the open water``), a leading preposition and
article may be left out (``the right side``, ``right side`` = ``On the right side``); a span ``X-Y`` is also
``from X to Y`` / ``Y to X`` (``runs from north to south`` = ``North-south``); a count in digits is its
number word (``4 tanks`` = ``four tanks``); British and American spellings agree (``gray`` = ``grey``).
A number standing alone stays a number.

Every rule runs in time linear in the reply's length (``scripts/bench_answers.py`` measures it).
"""

from __future__ import annotations

import json
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
_SPECIAL_TOKEN = re.compile(r"</?s>|<\|[a-z_]{1,20}\|>|<eos>|<pad>|\[/?INST\]", re.I)  # generation's special tokens
#: check marks are verdicts: written as words, so that one rule reads "(A) ✗ (B) ✓" and "A: wrong B: right"
_VERDICT_SYMBOLS = str.maketrans({c: " wrong " for c in "✗✘❌✖❎"} | {c: " right " for c in "✓✔✅☑"})
#: a yes/no answering a question about a letter is a verdict on it: "B? No." = "B is wrong"
_ASKED_VERDICT = re.compile(
    r"(?<![A-Za-z])([A-Z][\)\]]?)\s*\?\s*(?i:(no|nope|wrong|incorrect)|yes|yeah|yep|right|correct)(?![A-Za-z])"
)
#: a flat JSON object; one with an answer field is read as ``Answer: <value>`` (its other fields are dropped)
_JSON_OBJECT = re.compile(r"\{[^{}]{0,2000}\}")
_JSON_KEYS = frozenset({"answer", "final_answer", "choice", "option", "selected_option", "prediction"})
#: a self-correction withdraws everything before it: the reply is read from what follows it
_CORRECTION = re.compile(
    r"(?:^|(?<=[.,;:!?\n—–-]))\s*(?:(?:hmm+|oh|no)\s*,?\s*){0,3}"
    r"(?:wait|hold on|correction|scratch that|on second thought|i mean|i meant|(?:sorry\s*,?\s*)?i meant"
    r"|or rather|let me correct(?: myself)?"
    r"|actually(?=[\s,]*(?:no\b|it'?s\b|it is\b|the (?:correct )?answer\b|[\(\[]?[A-HJ-Z](?![A-Za-z'’]))))\b"
    r"(?:[\s,.:;!—–-]*(?:no|nope)\b)?[\s,.:;!—–-]*",
    re.I,
)
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
_AFTER_COMMA = re.compile(r"\s*,")
_AFTER_NEGATED = re.compile(r"\s*[:：]?\s*(?:not|n't|neither)\b", re.I)
_CLAUSE_END = re.compile(r"[.;!?\n。；！？]")
_ECHO_GAP = re.compile(r"(?:[\W_]|option|choice)*", re.I)  # between the entries of an echoed option list

# ---------------------------------------------------------------------------------- 4. letter mentions
_CONNECTOR = r"(?:or|and|nor|vs\.?|versus|ou|et|ni|oder|und|y|o|e|или|и)"
_LETTER_TOKEN = r"(?:[\(\[]([A-Za-z])[\)\]]|(?<![A-Za-z])([A-HJ-Z])(?![A-Za-z'’]))"
#: two letters joined by a connector: a listing, no single choice ("A or B", "(a) and (b)", "A/B")
_LISTING = re.compile(
    _LETTER_TOKEN + r"\s*(?:" + _CONNECTOR + r"\s+|[/&和或]\s*|还是\s*)(?:option\s+)?" + _LETTER_TOKEN
)
_MENTIONS = [
    re.compile(r"[\(\[]([A-Za-z])[\)\]]"),  # (a) [B]
    re.compile(r"\b(?:option|choice|opción|opcion|opzione|opção|вариант)\s+([A-Za-z])" + _NA, re.I),  # option B
    re.compile(_NB + r"([B-HJ-Z])" + _NA + r"(?!['’])"),  # a capital standing alone (not the article A, not "I")
    re.compile(  # "A" as a letter: before punctuation, a verb of judgement, a connector to another letter, CJK
        _NB + r"(A)" + _NA + r"(?=\s*(?:$|\n|[.,;:!?()/&+]|\s[-–—]\s|[" + _CJK + r"]"
        r"|(?:is|was|would|seems|looks|appears|matches|fits|and|or|nor|because|since|as)\b"
        r"|(?:right|wrong|correct|incorrect|true|false)\b(?!\s*[a-z])"  # a verdict list: "A right B wrong"
        r"|" + _CONNECTOR + r"\s+[\(\[]?[A-Z]" + _NA + r"|[\(\[]?[B-Z]" + _NA
        + r"|[a-z]+[A-Z])"  # before a token with an inner capital ("A opBv"): no word, so no article
        r")"
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
    r"\s*[\)\]]?\s*(?:says|states|claims|suggests|describes|refers|mentions|means|implies|would|could|might)\b", re.I
)

# a verdict against what precedes it in its clause ("A is clearly wrong", "B: False", "(A) wrong", "A can't be")
#: words that start a clause after an interjection: "No there isn't", "Yes it is", "yes the bridge is there"
_FOLLOWERS = (r"(?:there|here|it|its|i|im|the|a|an|this|that|these|those|they|we|you|he|she|not|wait|because|since"
              r"|but|and|or|sorry|yes|no|definitely|clearly|indeed)")
_AGAINST_WORDS = (r"wrong|incorrect|false|untrue|invalid|impossible|unlikely|not|never|cannot|out|excluded"
                  r"|eliminated|rejected|discarded")
_AGAINST = re.compile(r"\b(?:" + _AGAINST_WORDS + r"|no)\b|n['’ ]t\b", re.I)
#: with Yes/No options an interjection "no" after a letter is an option's text, not a verdict ("A (No)": a
#: conflict); "no" as a determiner still negates ("A: there is no way to tell")
_AGAINST_YES_NO = re.compile(r"\b(?:" + _AGAINST_WORDS + r"|no(?=\s+[^\W\d_])(?!\s+" + _FOLLOWERS + r"\b))\b"
                             r"|n['’ ]t\b", re.I)
_TRAILING_NEGATION = re.compile(r"(?:\b(?:not|no|never|nor|neither|cannot)|n['’]t)[\W_]*$", re.I)
_VERDICT_MAX = 60  # characters after a choice searched for a verdict on it
_ASKED = re.compile(r"[\s\)\]]*\?")  # a letter asked about ("Option B? No.") is not asserted
_TEXT_VERDICT = re.compile(r" , (?:wrong|incorrect|false|untrue|no) ")  # after a normalised option text
_LIST_MARK = re.compile(r"[:=\-–—]")
#: a verdict right at the start: "Incorrect", "wrong", "is clearly wrong", "is not"
_DIRECT = r"(?:(?:is|was|seems|looks|appears)\s+(?:[\w'’]+\s+){0,2}?)?"
_DIRECT_AGAINST = re.compile(_DIRECT + _AGAINST.pattern, re.I)
_DIRECT_AGAINST_YES_NO = re.compile(_DIRECT + _AGAINST_YES_NO.pattern, re.I)
_VERDICT_LEAD = re.compile(r"[\s\)\]:=\-–—]*(?:\.(?=\s))?\s*")  # "A: false", "A - wrong", "A. Incorrect"
#: where the next letter's clause starts
_NEXT_CHOICE = re.compile(r"[\(\[][A-Za-z][\)\]]|(?<![A-Za-z])[A-Z](?![A-Za-z'’])")

# a letter written as a label, with an option's text after it ("B. Four", "(b) four") or before it ("Four (B)")
_LABEL_AFTER = re.compile(_NB + r"(?:[\(\[]([A-Za-z])[\)\]]|([A-Z])[\)\].:])[ \t]*")
_LABEL_SPACE = re.compile(_NB + r"([A-Z])[ \t]+(?=[A-Z])")
_LABEL_BEFORE = re.compile(r"[ \t]*[\(\[]([A-Za-z])[\)\]]")

# a leading letter followed by another letter: a listing ("A. B.", "A) B)", "A. or B")
_LISTED = re.compile(
    r"\s*[\)\]]?\s*[.,:;/&+]?\s*(?:" + _CONNECTOR + r"\s+)?[\(\[]?[A-Za-z](?:[\)\].:,;]|\s*$|\s+" + _CONNECTOR + r"\b)"
)

# negations (their scope ends at clause punctuation and "but")
_NEGATION = re.compile(
    r"\b(?:not|nor|neither|never|cannot|rather than|instead of|over|except|other than|rul(?:e|es|ed|ing)\s+out"
    r"|eliminat(?:e|es|ed|ing)|exclud(?:e|es|ed|ing)|reject(?:s|ed|ing)?|discard(?:s|ed|ing)?|against"
    r"|ni|pas|nicht|weder|noch|не|ни)\b"
    r"|n['’ ]t\b|不是|不选|而非|并非",
    re.I,
)
#: a verdict adjective before a choice ("wrong: A", "✗ A"); after another letter it is that letter's ("A ✗ B ✓")
_VERDICT_BEFORE = re.compile(r"\b(?:wrong|incorrect|false|untrue)\b", re.I)
#: what ends the scope of a negation or a verdict: clause punctuation and the conjunctions that start a new clause
_NEG_SCOPE_END = re.compile(
    r"[.,;!?\n。，；！？—–]|\s-\s|\b(?:but|so|because|since|therefore|thus|hence|then|while|whereas|although"
    r"|though|which|leaving)\b|但",
    re.I,
)

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
_N_CLAUSE = re.compile(r"[.,;!?。，；！？:\n()\[\]]")
_N_OTHER_BREAKS = re.compile(r"[^\w\s,]")
_N_OTHER = re.compile(r"[^\w\s]")
_N_SPACES = re.compile(r"\s+")
_PREPOSITIONS = frozenset({"on", "in", "at", "to", "from", "near", "by"})  # optional at an option's start
_SPAN = re.compile(r"[^\W\d_]+\s*[-/–]\s*[^\W\d_]+")  # an option naming a span between two ends: "North-south"
#: one spelling per word where British and American English differ on options' words
_SPELLINGS = {"gray": "grey", "color": "colour", "colors": "colours", "colored": "coloured"}
_SPELLING = re.compile(r"\b(?:" + "|".join(_SPELLINGS) + r")\b")

# yes/no read from interjections: "yes" anywhere; other words only before clause punctuation or the end;
# "no" also before a word that starts a clause ("No there isn't", "no it is not") but never as a determiner
_END = r"(?= (?:,|$))"
#: words after which a clause (hence an interjection) may start: "so no", "I think yes", "no, no"
_OPENERS = ("so", "then", "thus", "hence", "therefore", "and", "but", "well", "oh", "say", "think", "guess", "believe",
            "probably", "definitely", "certainly", "surely", "maybe", "perhaps", "likely", "simply", "just",
            "yes", "no", "absolutely", "course", "is", "was", "be", "a")
_CLAUSE_START = "(?:(?<=^ )|(?<= , )|" + "|".join(f"(?<= {w} )" for w in _OPENERS) + ")"
_INTERJECTION_END = r"(?= (?:,|$|" + _FOLLOWERS + r" ))"
_YES = (_CLAUSE_START + r"(?:yes" + _INTERJECTION_END + r"|(?:yeah|yep|yup|sí|oui|ja|да|是的|是|对)" + _END
        + r")(?= )")
_NO = (_CLAUSE_START + r"(?:no" + _INTERJECTION_END
       + r"|(?:nope|nah|non|nein|нет|不是|不|否|(?:absolutely|certainly|definitely|of course|surely) not|not at all)"
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
    text = _SPECIAL_TOKEN.sub(" ", _drop_think(text))
    text = _MARKDOWN.sub("", text).translate(_VERDICT_SYMBOLS)
    text = _ASKED_VERDICT.sub(lambda m: f"{m.group(1)} is {'wrong' if m.group(2) else 'right'}", text)
    return _JSON_OBJECT.sub(_json_as_answer, text).strip()


def _json_as_answer(m: re.Match[str]) -> str:
    """A JSON object with an answer field, rewritten ``Answer: <value>.``; any other object is kept as is."""
    body = m.group(0)
    for candidate in (body, body.replace("'", '"')):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            for key, value in data.items():
                if str(key).strip().lower().replace(" ", "_") in _JSON_KEYS:
                    shown = "" if value is None or isinstance(value, (dict, list)) else str(value)
                    return f"\nAnswer: {shown}.\n"
        break
    return body


def _after_correction(text: str) -> str:
    """What follows the last self-correction (``Wait, no,`` ``Correction:`` ``I meant``...), or ``text``."""
    matches = list(_CORRECTION.finditer(text))
    return text[matches[-1].end() :] if matches else text


def _norm(text: str, breaks: bool = False) -> str:
    """Lower-case, hyphens/underscores/slashes as spaces, punctuation dropped, counts as number words.

    A number that counts something (``4 tanks``) becomes its word (``four tanks``); a number standing
    alone (``Answer: 2``) stays a digit: it could be a position as well as a value. With ``breaks``, clause punctuation (dashes between spaces included) is kept as a `` , ``
    token so that a negation's scope still ends at it ("not east-west, it's north-south").
    """
    text = _COUNT.sub(lambda m: _DIGIT_WORDS[int(m.group(1))] if int(m.group(1)) < len(_DIGIT_WORDS) else m.group(1),
                      text.lower())
    text = _SPELLING.sub(lambda m: _SPELLINGS[m.group(0)], text)
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
    if _NEGATION.search(window):
        return True
    # a verdict adjective after another letter is that letter's ("A ✗ B ✓"), else this one's ("✗ A")
    return not _NEXT_CHOICE.search(window) and bool(_VERDICT_BEFORE.search(window))


def _judged_against(text: str, end: int, own: str | None = None) -> bool:
    """Whether a verdict against the choice ending at ``end`` follows it in its clause.

    The verdict's scope starts after list punctuation (``A: false``, ``A - wrong``, ``A. Incorrect``) and
    the choice's own option text ``own`` (``(A) North-south: no``), and ends at the clause's end
    (:data:`_NEG_SCOPE_END`) or where the next letter starts (``(A) wrong (B) right``).
    """
    yes_no = own is not None and _norm(own) in ("yes", "no")
    direct = _DIRECT_AGAINST_YES_NO if yes_no else _DIRECT_AGAINST
    lead = _VERDICT_LEAD.match(text, end)
    start = lead.end() if lead else end
    if own:
        words = re.findall(r"\w+", own)
        body = re.compile(r"[\W_]*".join(map(re.escape, words)) + _NA, re.I) if words else None
        m = body.match(text, start) if body is not None else None
        if m:
            after = _VERDICT_LEAD.match(text, m.end())
            start = after.end() if after else m.end()
            if not _LIST_MARK.search(text, m.end(), start):  # "A. Two tanks are ...": a sentence, not a verdict
                return bool(direct.match(text, start))  # unless one follows at once: "Two ✗"
            return _judged_scope(text, start, yes_no)
    if "." in text[end:start]:  # "A. ...": a new sentence; only a verdict opening it is one ("A. Incorrect")
        return bool(direct.match(text, start))
    return _judged_scope(text, start, yes_no)


def _judged_scope(text: str, start: int, yes_no: bool = False) -> bool:
    """Whether a verdict against stands in the clause from ``start`` to the clause end or the next letter."""
    scope = text[start : start + _VERDICT_MAX]
    cut = _NEG_SCOPE_END.search(scope)
    scope = scope[: cut.start()] if cut else scope
    nxt = _NEXT_CHOICE.search(scope)
    if nxt:  # a negation right before the next letter is that letter's ("B. There is no A here.")
        scope = _TRAILING_NEGATION.sub("", scope[: nxt.start()])
    return bool((_AGAINST_YES_NO if yes_no else _AGAINST).search(scope))


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
    body = r"(?: ,)? (?:(?:the|a|an) )?".join(words)  # an article may stand inside: "sailing in the open water"
    if len(words) > 2 and words[0] in _PREPOSITIONS:  # "On the right side" = "the right side" = "right side"
        rest = words[2:] if words[1] in ("the", "a", "an") else words[1:]
        body = f"(?:{words[0]} )?(?:(?:the|a|an) )?" + r"(?: ,)? (?:(?:the|a|an) )?".join(rest)
    if len(words) == 2 and _SPAN.fullmatch(option.strip()):  # "North-south" = "from north to south", "south to north"
        x, y = words
        body = rf"(?:{body}|(?:from )?{x} to {y}|(?:from )?{y} to {x})"
    return re.compile(r"(?<= )" + body + r"(?= )")


@lru_cache(maxsize=4096)
def _longest_first(options: tuple[str, ...]) -> list[int]:
    return sorted(range(len(options)), key=lambda i: -len(_norm(options[i])))


def _option_matches(text: str, options: Sequence[str]) -> list[tuple[int, int]]:
    """(option index, position) of each non-negated whole-phrase occurrence, longest options first."""
    hay = " " + _norm(text, breaks=True) + " "
    taken = bytearray(len(hay) + 1)
    spans: list[tuple[int, int, int]] = []
    for i in _longest_first(tuple(options)):
        pattern = _option_pattern(options[i])
        if pattern is None:
            continue
        for m in pattern.finditer(hay):
            if taken.find(1, m.start(), m.end()) >= 0:
                continue  # inside a longer option already found
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            spans.append((m.start(), m.end(), i))
    spans.sort()
    found: list[tuple[int, int]] = []
    for k, (start, end, i) in enumerate(spans):
        before = spans[k - 1][1] if k else 0
        after = spans[k + 1][0] if k + 1 < len(spans) else len(hay)
        if not _text_negated(hay, start, end, before, after, _norm(options[i]) in ("yes", "no")):
            found.append((i, start))
    return found


def _text_negated(hay: str, start: int, end: int, before: int, after: int, is_verdict: bool) -> bool:
    """Whether the option text at ``hay[start:end]`` is negated (rule in the module docstring).

    ``before``/``after``: where the previous option text ends and the next one starts; a verdict
    between two texts is the earlier one's ("two wrong four right"). Yes/No take no verdict after them.
    """
    window = _NEG_SCOPE_END.split(hay[max(0, start - _NEG_WINDOW) : start])[-1]
    if _NEGATION.search(window) or (before <= start - len(window) and _VERDICT_BEFORE.search(window)):
        return True
    if is_verdict:
        return False
    scope = hay[end : min(after, end + _VERDICT_MAX)]
    if _TEXT_VERDICT.match(scope):  # "north-south: wrong", "Two — false"
        return True
    cut = _NEG_SCOPE_END.search(scope)
    return bool(_AGAINST.search(scope[: cut.start()] if cut else scope))


def _option_at(text: str, pos: int, options: Sequence[str]) -> int | None:
    """The index of the (longest) option whose text, as a whole clause, starts at ``pos``, if any."""
    head = " " + _norm(text[pos : pos + _CLAUSE_MAX], breaks=True) + " "
    best: tuple[int, int] | None = None
    for i, option in enumerate(options):
        pattern = _option_pattern(option)
        m = pattern.match(head, 1) if pattern is not None else None
        # the option's text as a unit (up to clause punctuation or the end), not a sentence starting with its word;
        # yes/no match only as interjections, which their pattern checks ("No there isn't")
        whole = m is not None and (head.startswith(" ,", m.end()) or m.end() >= len(head) - 1
                                   or _norm(option) in ("yes", "no"))
        if m and whole and (best is None or m.end() > best[1]):
            best = (i, m.end())
    return best[0] if best else None


def _option_before(text: str, pos: int, options: Sequence[str]) -> int | None:
    """The index of the (longest) option whose text, as a whole clause, ends at ``pos``, if any."""
    tail = " " + _norm(text[max(0, pos - _CLAUSE_MAX) : pos], breaks=True) + " "
    best: tuple[int, int] | None = None
    for i, option in enumerate(options):
        pattern = _option_pattern(option)
        matches = list(pattern.finditer(tail)) if pattern is not None else []
        last = matches[-1] if matches else None
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
    for m in _LABEL_SPACE.finditer(text):  # "A East-west": an article is not followed by a capital
        i = _option_at(text, m.end(), options) if m.group(1) in letters else None
        if i is not None and letters[i] != m.group(1):
            return True
    for m in _LABEL_BEFORE.finditer(text):
        letter = m.group(1).upper()
        i = _option_before(text, m.start(), options) if letter in letters else None
        if i is not None and letters[i] != letter:
            return True
    return False


def _texts_contradict(text: str, choice: str, letters: list[str], options: Sequence[str]) -> bool:
    """Whether the option texts asserted in ``text`` name exactly one option, another than ``choice``."""
    asserted = {i for i, _ in _option_matches(_ORDINAL.sub(" ", text), options)}  # "option two" is no text
    return len(asserted) == 1 and letters[asserted.pop()] != choice


def _entries(text: str, options: Sequence[str], letters: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, letter) of each ``letter + delimiter + that letter's option text`` (``B. Four``)."""
    found = []
    for letter, option in zip(letters, options, strict=False):
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
                       memo: dict[str, set[int]] | None = None) -> tuple[str | None | bool, int]:
    """(reading, end): a letter, ``None`` (undecided) or ``False`` (nothing readable after the marker
    ending at ``pos``), and where what was read ends.

    ``memo`` caches the options found per clause text (a looping reply repeats its clauses verbatim).
    """
    if _AFTER_NEGATED.match(text, pos):
        return None, pos
    if _AFTER_COMMA.match(text, pos):  # "B is the answer, since ...": the marker ends its clause, names nothing
        return False, pos
    limit = min(len(text), pos + _CLAUSE_MAX + max(len(o) for o in options))
    end = _CLAUSE_END.search(text, pos, limit)
    clause_end = end.start() if end else limit
    clause = text[pos:clause_end]
    m = _AFTER_LETTER.match(text, pos)
    if m and not (m.group(1) in "Aa" and _ARTICLE_AFTER.match(text, m.end()) and not _OPEN_PAREN.match(text, pos)):
        if _ALTERNATIVE.match(text, m.end()):  # "A or B", "A/B", "A and B"
            return None, m.end()
        return _letter(m.group(1), letters), m.end()
    number = _BARE_NUMBER.fullmatch(clause)
    if number:  # "Answer: 4": a value or a position, as a bare reply (rule 2)
        return _bare_number(number.group(1), options, letters), clause_end
    distinct = memo.get(clause) if memo is not None else None
    if distinct is None:
        distinct = {i for i, _ in _option_matches(clause, options)}
        if memo is not None:
            memo[clause] = distinct
    # an option's text was read: letters in its own clause count as later evidence ("north to south (B)")
    if len(distinct) == 1:
        return letters[next(iter(distinct))], pos
    if len(distinct) > 1:
        return None, pos
    return False, clause_end


def _marker_choice(text: str, letters: list[str], options: Sequence[str]) -> tuple[str | None | bool, int]:
    """The last readable answer marker's reading and its end (see :func:`_read_after_marker`);
    ``(False, 0)`` if none."""
    memo: dict[str, set[int]] = {}
    for mk in reversed(list(_MARKERS.finditer(text))):
        got, end = _read_after_marker(text, mk.end(), letters, options, memo)
        if got is not False:
            return got, end
    return False, 0


def _asserted_later(text: str, choice: str | None, options: Sequence[str]) -> bool:
    """Whether ``text`` (what follows a decided ``choice``) asserts another letter (a conflict)."""
    return choice is not None and bool(_mentions(text, options) - {choice})


def _discarded(text: str, start: int, end: int, own: str | None = None) -> bool:
    """A mention spanning ``text[start:end]`` that is negated, names a thing, is described or judged against."""
    return bool(_negated(text, start) or _NAMED_THING.search(text[max(0, start - _NAME_WINDOW) : start])
                or _DESCRIBED.match(text, end) or _ASKED.match(text, end) or _judged_against(text, end, own))


def _own_text(letter: str, options: Sequence[str]) -> str | None:
    """The option text of ``letter`` (``None`` for a letter outside the options)."""
    i = ord(letter.upper()) - ord("A")
    return options[i] if 0 <= i < len(options) else None


def _mentions(text: str, options: Sequence[str]) -> set[str]:
    """The distinct letters asserted (rule 4); the scan stops at the second one: the reply is then ambiguous.

    Two letters joined as a listing (``A or B``, ``A and B are both wrong``, ``ni A ni B``) are both
    returned whatever is said of them: a listing asserts no single choice.
    """
    listing = _LISTING.search(text)
    if listing:
        pair = {g.upper() for g in listing.groups() if g}
        if len(pair) > 1:
            return pair
    found: set[str] = set()
    for pattern in _MENTIONS:
        for m in pattern.finditer(text):
            if m.group(1).upper() in found:
                continue  # already asserted: another mention of it changes nothing
            if not _discarded(text, m.start(), m.end(), _own_text(m.group(1), options)):
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
    if (_judged_against(text, after, _own_text(m.group(1), options)) or _DESCRIBED.match(text, after)
            or _LISTED.match(text, after)):
        return False  # "(B) is incorrect, (A) is correct", "A says ...", "A. B.": not a choice, read on
    letter = _letter(m.group(1), letters)
    later, _ = _marker_choice(text[m.end() :], letters, options)
    if (later is not False and later != letter) or _asserted_later(text[m.end() :], letter, options):
        return None  # "B. ... the answer is A", "A: true B: true": conflicting evidence
    return letter


def _decide(text: str, letters: list[str], options: Sequence[str]) -> str | None:
    """Rules 2 to 7 on a cleaned reply without echoed option lists."""
    # 2. a bare letter, or a reply that opens with one
    leading = _leading_letter(text, letters, options)
    if leading is not False:
        return leading  # type: ignore[return-value]

    # 3. answer markers: the last readable one wins
    decided, end = _marker_choice(text, letters, options)
    if decided is not False:
        return None if _asserted_later(text[end:], decided, options) else decided  # type: ignore[return-value]

    # 4. letter mentions
    mentioned = _mentions(text, options)
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
    text = _after_correction(_drop_echoed_options(text, options, letters))
    if not text:
        return None
    choice = _decide(text, letters, options)
    if choice is not None and (_mislabelled(text, letters, options)
                               or _texts_contradict(text, choice, letters, options)):
        return None  # "A. Four", "No (A)", "B (North-south)", "Answer: A\nThe runway runs east-west."
    return choice


def is_readable(response: str, options: Sequence[str]) -> bool:
    """Whether :func:`extract_choice` reads a single choice in ``response``."""
    return extract_choice(response, options) is not None
