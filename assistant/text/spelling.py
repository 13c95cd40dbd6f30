"""Homophone typos in a question, corrected toward the knowledge base's own words.

Customers type Chinese with a pinyin input method, so their typos are characters of the same sound:
发漂 for 发票, 退宽 for 退款, 积粉 for 积分, 快地 for 快递. Such a pair of characters occurs in no chunk,
so keyword search finds nothing for it. ``HomophoneCorrector`` replaces a character when the knowledge
base says so: a pair of the question that no chunk holds becomes a pair of the same pinyin (tones
ignored, every reading in use of a polyphonic character) that enough chunks hold as a word.

Conservative by construction, because it runs on every question and a wrong rewrite is worse than none:

- only runs of Chinese characters are read; digits, Latin text and Chinese numerals never change;
- a character is changed only if no pair it forms in the question is known to the knowledge base: with
  character pairs indexed every pair of a known word is known, so a word the knowledge base knows never
  changes; a pair it does not talk about (延保) stays unless a same-pinyin word is there;
- ordinary Chinese stays even where the knowledge base lacks it: no character of a frequent word of
  jieba's dictionary changes (失效 stays though the knowledge base says 时效), none is taken from such a
  word into a new pair, and no such word is broken (尽快地 stays: 尽快递 would break 尽快); grammatical
  characters standing alone (的, 或, 在) never change;
- readings in use only: a character's main reading and those pypinyin's phrase data uses twice or more
  (不 is never its archaic fou); a character standing alone as a word is read its main way only (的 is de);
- one slip per pair: both characters change only if the question was segmented with the pair as one word
  (推宽 -> 退款, but not 5000块的 -> 快递);
- the new pair must be a word (机号 in 手机号 is none) of at least ``min_doc_freq`` chunks, a word of the
  corrected question, and hold its kept character more often than that character's other neighbour does
  (欠花呗 stays: the knowledge base says 花呗 far more than 钱花).

pypinyin's data ships in its package (nothing is downloaded); it is reversed on first use, once per
process (about a quarter of a second), into pinyin -> the common characters (GB 2312), and kept as
JSON in a cache folder when one is given (the next process reads it in a hundredth of that); jieba's
dictionary is loaded beside it (about 0.1 s, 25 MB).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

from assistant.text.cjk import CJK_PAIR_RUN

log = logging.getLogger(__name__)

DocFreq = Callable[[Sequence[str]], Mapping[str, int]]
Cut = Callable[[str], list[str]]

PAIR_MARK = "#"  # how the keyword index marks a character pair (see ``tokenize.cjk_bigrams``)
NUMERALS = frozenset("〇零一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟")
BOTH_CHARACTERS_BUDGET = 400  # index lookups allowed for a pair whose two characters may both be wrong
ORDINARY_WORD_FREQ = 10  # jieba's count from which a word is ordinary Chinese (退换 16, 失效 245; 包修 5, 订金 8)
# Grammatical characters, standing alone as a word, are what the customer meant: an input method offers
# the whole word for two syllables, so 发或 is not how 发货 gets mistyped.
FUNCTION_CHARACTERS = frozenset(
    "的了吗呢吧啊呀哦嘛么是在和与及或就都也还又把被让给对从向我你他她它这那哪谁请能会要想有您个之其着过为以不没很才已再先"
)
LIVE_READING_PHRASES = 2  # pypinyin phrases using a secondary reading for it to count (地 de 2; 不 fou 1)
TABLE_FORMAT = 1  # of the cached pinyin table: change it when _PinyinTable's state changes


@dataclass(frozen=True)
class Correction:
    """One rewritten character pair, with the evidence for it."""

    original: str  # the pair as typed, e.g. "发漂"
    corrected: str  # the pair the knowledge base holds, e.g. "发票"
    start: int  # offset of the pair in the question
    pinyin: str  # the reading both share, tones dropped, e.g. "fa piao"
    doc_freq: int  # chunks holding the corrected pair as a word (no chunk holds the original pair)


@dataclass(frozen=True)
class SpellingResult:
    """The question to search with, and what was changed to get it."""

    original: str
    text: str  # the question with the misspelt characters replaced; equal to ``original`` if none
    corrections: tuple[Correction, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.corrections)


class _Edit(NamedTuple):  # a tuple: hundreds are made per question
    pair: int  # index in the run of the pair the evidence is about
    chars: tuple[tuple[int, str], ...]  # (index in the run, new character)
    corrected: str  # the new pair
    doc_freq: int = 0


class HomophoneCorrector:
    """Corrects pinyin homophone typos in questions against one keyword index.

    Build it once per process and call ``run`` with each question::

        corrector = HomophoneCorrector(keyword_index.doc_freq, tokenizer.cut)
        result = corrector.run("发漂开错了怎么办")
        result.text         # "发票开错了怎么办": search with this
        result.corrections  # (Correction("发漂", "发票", start=0, pinyin="fa piao", doc_freq=33),)

    ``doc_freq`` maps terms to how many chunks hold them (``KeywordIndex.doc_freq``); it is asked about
    words and ``#`` + character-pair terms, twice per question, so the index must hold character pairs
    (``retrieval.keyword_bigrams``; without them no pair is known and nothing is ever corrected).
    ``cut`` segments text into words in reading order (``Tokenizer.cut``, which knows the knowledge
    base's terms; by default jieba's dictionary alone). Nothing is cached between questions, so the
    corrections follow the knowledge base as it changes. Thread-safe. A typical question takes about a
    tenth of a millisecond (the demo questions: median 0.1 ms, at most about 1 ms).
    """

    def __init__(self, doc_freq: DocFreq, cut: Cut | None = None, *, min_doc_freq: int = 2,
                 cache_dir: Path | None = None):
        self._doc_freq = doc_freq
        self._cut = cut or (lambda text: _lexicon().cut(text))
        self.min_doc_freq = min_doc_freq
        self._cache_dir = cache_dir  # where the pinyin table is kept between processes

    def run(self, query: str) -> SpellingResult:
        runs = [(m.start(), m.group()) for m in CJK_PAIR_RUN.finditer(query)]
        runs = [(start, run) for start, run in runs if unicodedata.normalize("NFKC", run) == run]
        if not runs:
            return SpellingResult(query, query)
        known = self._doc_freq([PAIR_MARK + run[i : i + 2] for _, run in runs for i in range(len(run) - 1)])
        table = _pinyin_table(self._cache_dir)
        found = [(start, run, _candidates(run, known, table, self._typed_words(run))) for start, run in runs]
        # evidence: chunks holding the new pair as a pair, then as a word; both must be enough (机号 is a
        # pair of 手机号, no word; an index without pairs, where nothing anchors a character, corrects nothing)
        pairs = self._ask({PAIR_MARK + e.corrected for *_, edits in found for e in edits})
        enough = {pair[1:] for pair, count in pairs.items() if count >= self.min_doc_freq}
        words = self._ask({e.corrected for *_, edits in found for e in edits if e.corrected in enough})
        chars = list(query)
        corrections: list[Correction] = []
        for start, run, edits in found:
            scored = [e._replace(doc_freq=words.get(e.corrected, 0)) for e in edits if e.corrected in enough]
            for edit in self._choose(run, scored, known):
                typed = run[edit.pair : edit.pair + 2]
                for i, c in edit.chars:
                    chars[start + i] = c
                pinyin = " ".join(table.shared_reading(a, b) for a, b in zip(typed, edit.corrected))
                corrections.append(Correction(typed, edit.corrected, start + edit.pair, pinyin, edit.doc_freq))
        return SpellingResult(query, "".join(chars), tuple(sorted(corrections, key=lambda c: c.start)))

    def _ask(self, terms: set[str]) -> Mapping[str, int]:
        return self._doc_freq(sorted(terms)) if terms else {}

    def _typed_words(self, run: str) -> set[int]:
        """Indexes of the pairs of ``run`` that the segmenter reads as one word (推宽, not 块的)."""
        return {s for s, e in _spans(run, self._cut(run)) or [] if e - s == 2}

    def _choose(self, run: str, edits: list[_Edit], known: Mapping[str, int]) -> list[_Edit]:
        """The best-supported edits that fit the question, most chunks first, each character once."""
        current, changed, chosen = run, set[int](), []
        for edit in sorted(edits, key=lambda e: (-e.doc_freq, e.pair, e.corrected)):
            if edit.doc_freq < self.min_doc_freq or changed & {edit.pair, edit.pair + 1}:
                continue
            after = list(current)
            for i, c in edit.chars:
                after[i] = c
            candidate = "".join(after)
            if self._fits(current, candidate, edit, known):
                current, chosen = candidate, [*chosen, edit]
                changed |= {i for i, _ in edit.chars}
        return chosen

    def _fits(self, before: str, after: str, edit: _Edit, known: Mapping[str, int]) -> bool:
        """The new pair is inside one word of the corrected run; the character it keeps is not held more
        often, in the knowledge base, with its other neighbour; and every ordinary word of the run that
        held no changed character stays whole (尽快地 stays: 尽快递 would break 尽快)."""
        words_after, words_before = _spans(after, self._cut(after)), _spans(before, self._cut(before))
        if words_after is None or words_before is None:
            return False
        if not any(s <= edit.pair and edit.pair + 2 <= e for s, e in words_after):
            return False
        moved = {i for i, _ in edit.chars}
        kept = {edit.pair, edit.pair + 1} - moved
        for k in kept:  # a character two words share goes to the stronger one (欠花呗: 花呗, not 钱花)
            other = k - 1 if k == edit.pair else k  # where its pair with the other neighbour starts
            if 0 <= other < len(before) - 1 and known.get(PAIR_MARK + before[other : other + 2], 0) > edit.doc_freq:
                return False
        for s, e in words_before:
            word = before[s:e]
            if len(word) < 2 or moved & set(range(s, e)) or any(s2 <= s and e <= e2 for s2, e2 in words_after):
                continue
            if _lexicon().is_ordinary(word):
                return False
        return True


def _candidates(run: str, known: Mapping[str, int], table: _PinyinTable, typed_words: set[int]) -> list[_Edit]:
    """Same-pinyin rewrites of the unknown pairs of a run that change only free characters: those no
    known pair and no ordinary word holds. Both characters of a pair change only if it was typed as one
    word (``typed_words``: pair indexes)."""

    def is_known(i: int) -> bool:
        return 0 <= i < len(run) - 1 and known.get(PAIR_MARK + run[i : i + 2], 0) > 0

    ordinary, alone = _lexicon().read(run)
    free = [
        c not in NUMERALS
        and i not in ordinary
        and not (i in alone and c in FUNCTION_CHARACTERS)
        and not is_known(i - 1)
        and not is_known(i)
        for i, c in enumerate(run)
    ]
    out: list[_Edit] = []
    for i in range(len(run) - 1):
        if is_known(i):
            continue
        a, b = run[i], run[i + 1]
        # the character kept must not belong to an ordinary word (之日起 stays: 日期 would take 日 from 之日)
        left = table.homophones(a, main_only=i in alone) if free[i] and i + 1 not in ordinary else ()
        right = table.homophones(b, main_only=i + 1 in alone) if free[i + 1] and i not in ordinary else ()
        out += [_Edit(i, ((i, c),), c + b) for c in left]
        out += [_Edit(i, ((i + 1, c),), a + c) for c in right]
        if left and right and i in typed_words:
            left, right = (tuple(c for c in side if c in table.common) for side in (left, right))
            if len(left) * len(right) <= BOTH_CHARACTERS_BUDGET:
                out += [_Edit(i, ((i, x), (i + 1, y)), x + y) for x in left for y in right]
    return out


def _spans(text: str, words: list[str]) -> list[tuple[int, int]] | None:
    """(start, end) of each word; None if the words do not spell the text (then trust none of them)."""
    spans, at = [], 0
    for word in words:
        spans.append((at, at + len(word)))
        at += len(word)
    return spans if at == len(text) and "".join(words) == text else None


_TONE_MARKS = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")
_NOT_LETTER = re.compile(r"[^a-z]")


@functools.lru_cache(maxsize=None)  # a few thousand readings, met some 200,000 times building the table
def _toneless(reading: str) -> str:
    return _NOT_LETTER.sub("", reading.translate(_TONE_MARKS))


class _PinyinTable:
    """Readings in use of every character, main one first, and reversed: the characters of each reading."""

    def __init__(self, readings: dict[str, tuple[str, ...]], by_sound: dict[str, tuple[str, ...]], common: set[str]):
        self._readings = readings
        self._by_sound = by_sound
        self.common = common  # the 3,755 most common characters (GB 2312 level 1)

    @classmethod
    def build(cls, readings: Mapping[int, str], phrases: Mapping[str, list[list[str]]]) -> "_PinyinTable":
        """From pypinyin's data: readings by code point, and phrases with their readings."""
        in_phrases: dict[tuple[str, str], int] = {}
        for phrase, spoken in phrases.items():
            for char, options in zip(phrase, spoken):
                key = (char, _toneless(options[0]))
                in_phrases[key] = in_phrases.get(key, 0) + 1
        in_use: dict[str, tuple[str, ...]] = {}
        by_sound: dict[str, list[str]] = {}
        common: set[str] = set()
        for code, marked in readings.items():
            char = chr(code)
            sounds = [s for s in map(_toneless, marked.split(",")) if s]
            if not sounds:
                continue
            live = [s for s in sounds if s == sounds[0] or in_phrases.get((char, s), 0) >= LIVE_READING_PHRASES]
            in_use[char] = tuple(dict.fromkeys(live))
            level = _gb2312_level(char)
            if level == 1:
                common.add(char)
            if level:  # candidates are common characters; any character may be a typo
                for sound in in_use[char]:
                    by_sound.setdefault(sound, []).append(char)
        return cls(in_use, {s: tuple(cs) for s, cs in by_sound.items()}, common)

    def state(self) -> dict:
        """What ``from_state`` takes back (JSON)."""
        return {"readings": {c: "/".join(r) for c, r in self._readings.items()},
                "by_sound": {s: "".join(cs) for s, cs in self._by_sound.items()}, "common": "".join(sorted(self.common))}

    @classmethod
    def from_state(cls, state: dict) -> "_PinyinTable":
        return cls({c: tuple(r.split("/")) for c, r in state["readings"].items()},
                   {s: tuple(cs) for s, cs in state["by_sound"].items()}, set(state["common"]))

    def readings(self, char: str) -> tuple[str, ...]:
        return self._readings.get(char, ())

    @functools.lru_cache(maxsize=16384)  # noqa: B019 - one table per process, never freed
    def homophones(self, char: str, main_only: bool = False) -> tuple[str, ...]:
        """The other common characters with a reading of ``char`` (its main one only if ``main_only``)."""
        sounds = self.readings(char)[:1] if main_only else self.readings(char)
        found = dict.fromkeys(c for sound in sounds for c in self._by_sound.get(sound, ()))
        found.pop(char, None)
        return tuple(c for c in found if c not in NUMERALS)

    def shared_reading(self, typed: str, meant: str) -> str:
        ours = self.readings(meant)
        return next((r for r in self.readings(typed) if r in ours), ours[0] if ours else "?")


def _gb2312_level(char: str) -> int:
    """1 for the 3,755 most common characters, 2 for the next 3,008, 0 for the rest."""
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return 0
    if len(code) != 2:
        return 0
    return 1 if 0xB0 <= code[0] <= 0xD7 else 2 if 0xD8 <= code[0] <= 0xF7 else 0


@functools.cache
def _pinyin_table(cache_dir: Path | None = None) -> _PinyinTable:
    """Built on first use, once per process: the data never changes. With ``cache_dir``, read from
    the JSON an earlier process kept there for this pypinyin and these rules, else built and kept."""
    path = None
    if cache_dir is not None:
        path = cache_dir / f"pinyin-table-{version('pypinyin')}-{LIVE_READING_PHRASES}-{TABLE_FORMAT}.json"
        try:
            return _PinyinTable.from_state(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # damaged: built again
            log.warning("pinyin table cache %s unreadable (%s): building it again", path, type(exc).__name__)
    # imported here: importing pypinyin's data takes a tenth of a second
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    table = _PinyinTable.build(pinyin_dict, phrases_dict)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(table.state(), ensure_ascii=False), encoding="utf-8")
            os.replace(partial, path)  # whole or not at all, for processes starting beside this one
        except OSError as exc:
            log.warning("pinyin table not kept in %s: %s", cache_dir, exc.strerror or type(exc).__name__)
    return table


class _Lexicon:
    """Ordinary Chinese: jieba's own dictionary and its counts, without any knowledge base's terms."""

    def __init__(self) -> None:
        import rjieba

        self._jieba = rjieba.Jieba()

    def cut(self, text: str) -> list[str]:
        return self._jieba.cut(text)

    def is_ordinary(self, word: str) -> bool:
        """A frequent word of the dictionary (suggest_freq is the dictionary's count for its words)."""
        return self._jieba.has_word(word) and self._jieba.suggest_freq(word) >= ORDINARY_WORD_FREQ

    def read(self, run: str) -> tuple[set[int], set[int]]:
        """Indexes of the characters of ``run`` inside any frequent dictionary word it holds (适用 in
        适用范围, 先在 in 方先在), and of those standing alone as a word when segmented by the dictionary
        only (so a typo never joins a word)."""
        ordinary: set[int] = set()
        at, last = 0, dict[str, int]()
        for word in self._jieba.cut_all(run):  # every dictionary word, overlapping, in order of start
            at = last[word] = run.find(word, max(at, last.get(word, -1) + 1))
            if len(word) >= 2 and self.is_ordinary(word):
                ordinary.update(range(at, at + len(word)))
        alone: set[int] = set()
        at = 0
        for word in self._jieba.cut(run, False):
            if len(word) == 1:
                alone.add(at)
            at += len(word)
        return ordinary, alone


@functools.cache
def _lexicon() -> _Lexicon:
    """Loaded on first use, once per process."""
    return _Lexicon()
