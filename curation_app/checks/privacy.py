"""Privacy scan: personal data in dialogue text, English and Chinese, locally and offline.

The dialogues are about children and people in distress; a release must not carry anything that
identifies one. Each kind of personal data is a rule (``privacy.<kind>``, errors by default):

- ``name``: a personal name beside a family or school word ("my daughter Emma", "Mrs. Parker",
  "我儿子王小明", "李老师", "同桌叫张伟");
- ``phone``: phone numbers, Chinese mobiles (``138 1234 5678``) and landlines included, found by
  ``phonenumbers`` (Google's libphonenumber metadata, bundled: nothing is downloaded);
- ``email``; ``address``: street addresses and postal codes ("42 Maple Street", "Springfield,
  IL 62704", "朝阳区建国路88号", "邮编100020");
- ``school``: named schools and classes ("Lincoln Elementary School", "Class 3B", "育才小学",
  "三年级二班");
- ``id_number``: Chinese resident ID numbers whose checksum (ISO 7064 MOD 11-2) and birth date
  hold; ``passport`` (a number beside the word passport / 护照); ``ssn`` (US Social Security
  numbers, dashed or beside "SSN"); ``card``: payment card numbers passing the Luhn check.

A hit is a span of the text with its kind; :func:`redact` replaces spans by placeholders
(``[NAME]``, ``[PHONE]`` …). Messages show the value masked (``13*******78``), never whole.
A hit's ``digest`` (SHA-256 of the value) identifies it for false-alarm marks without storing
the value itself.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import phonenumbers

from curation_app.checks.batch import BatchTexts
from curation_app.checks.findings import CheckConfig, Finding
from curation_app.checks.text import class_mask
from curation_app.domain import Dialogue

PLACEHOLDERS: dict[str, str] = {
    "name": "[NAME]", "phone": "[PHONE]", "email": "[EMAIL]", "address": "[ADDRESS]",
    "school": "[SCHOOL]", "id_number": "[ID]", "passport": "[PASSPORT]", "ssn": "[SSN]",
    "card": "[CARD]",
}
LABELS: dict[str, str] = {
    "name": "a personal name", "phone": "a phone number", "email": "an e-mail address",
    "address": "an address", "school": "a school or class name",
    "id_number": "a Chinese ID number", "passport": "a passport number",
    "ssn": "a Social Security number", "card": "a payment card number",
}
# More specific kinds first: where spans overlap, the earlier kind wins.
ORDER = ("email", "id_number", "ssn", "passport", "phone", "card", "address", "school", "name")


@dataclass(frozen=True)
class Hit:
    kind: str
    start: int
    end: int
    value: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.value.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def masked(self) -> str:
        return mask(self.value)


def mask(value: str) -> str:
    """``13812345678`` -> ``13*******78``; short values keep only their first character."""
    if len(value) <= 4:
        return value[:1] + "*" * (len(value) - 1)
    keep = 2 if len(value) > 6 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


# ---- patterns ----------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return text.split()


_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+"
                    r"(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_CARD = re.compile(r"(?<![\d+-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SSN_DASHED = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_SSN_KEYWORD = re.compile(r"(?i)\b(?:SSN|social security(?: number| no\.?)?)\s*(?:is|:|#)?\s*"
                          r"(\d{3}[ -]?\d{2}[ -]?\d{4})(?!\d)")
_PASSPORT = re.compile(r"(?i)(?:passport|护照)\s*(?:number|no\.?|#|号码|号)?\s*(?:is|是|:|：)?\s*"
                       r"([A-Z]{1,2}\d{6,8}|\d{9})(?![0-9A-Za-z])")

_STREET_TYPES = (r"Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|"
                 r"Blvd\.?|Court|Ct\.?|Way|Place|Pl\.?|Terrace|Close|Crescent")
_EN_STREET = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_STREET_TYPES})(?![A-Za-z])"
    r"(?:,?\s+(?:Apt\.?|Apartment|Unit|Flat|Suite)\s*#?\s*\w+)?")
_US_STATES = _words("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS "
                    "MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV "
                    "WI WY DC")
_US_ZIP = re.compile(rf"\b(?:[A-Z][a-z]+(?: [A-Z][a-z]+)*,\s*)?(?:{'|'.join(_US_STATES)})"
                     r"\s+\d{5}(?:-\d{4})?\b")
_DIGIT = re.compile(r"\d")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b")
_ZH_STOP = "我你他她它们的在上去读到是了这那个所里和跟也都还就要会年时从念考进回住"
_ZH_PLACE = rf"(?:(?![{_ZH_STOP}])[\u4e00-\u9fa5])"
_ZH_ADDRESS = re.compile(
    rf"(?:{_ZH_PLACE}{{2,6}}(?:省|自治区))?(?:{_ZH_PLACE}{{2,6}}市)?"
    rf"(?:{_ZH_PLACE}{{1,6}}(?:区|县))?(?:{_ZH_PLACE}|\d){{1,10}}(?:路|街|大道|巷|弄|胡同)"
    r"[\d一二三四五六七八九十百]+号(?:院)?(?:[\d一二三四五六七八九十]+(?:号楼|栋|幢|单元|楼|层|室))*"
    rf"|{_ZH_PLACE}{{2,8}}(?:小区|花园|公寓)[\d一二三四五六七八九十]+(?:号楼|栋|幢)"
    r"(?:[\d一二三四五六七八九十]+(?:单元|楼|层|室))*")
_ZH_POSTCODE = re.compile(r"邮(?:政)?编(?:码)?\s*(?:是|:|：)?\s*(\d{6})(?!\d)")

_EN_SCHOOL = re.compile(
    r"\b(?:(?:St\.|Saint)\s+)?(?:[A-Z][a-z]+\s+){1,4}(?:Elementary|Primary|Middle|High|"
    r"Junior High|Secondary|Grammar|Public|Prep(?:aratory)?)\s+School\b"
    r"|\b(?:[A-Z][a-z]+\s+){1,3}(?:Academy|Kindergarten)\b")
_EN_CLASS = re.compile(r"\b(?:Class|Form|Homeroom)\s+\d{1,2}\s?[A-Z]?\b(?!\s*(?:times|hours|"
                       r"minutes|days))|\b(?:Grade|Year)\s+\d{1,2}\s?[A-Z]\b")
_ZH_SCHOOL_STOP = _ZH_STOP + "对把给被让叫说想看听觉得为以可能过着地很太最更多少经历次"
_ZH_SCHOOL = re.compile(
    rf"(?:(?![{_ZH_SCHOOL_STOP}])[\u4e00-\u9fa5\d]){{2,8}}(?:第[一二三四五六七八九十\d]+)?"
    r"(?:小学|中学|初级中学|高级中学|初中|高中|幼儿园|(?:实验|外国语|国际|附属|寄宿)学校)"
    r"(?!习|到|会|生活|期)(?:分校|校区)?")
_ZH_CLASS = re.compile(
    r"[一二三四五六七八九\d]{1,2}年级\s*[（(]?[一二三四五六七八九十\d]{1,2}[)）]?\s*班"
    r"|[初高][一二三]\s*[（(]?[一二三四五六七八九十\d]{1,2}[)）]?\s*班"
    r"|[一二三四五六\d]\s*[（(]\s*\d{1,2}\s*[)）]\s*班")

_EN_RELATIONS = (r"son|daughter|child|kid|boy|girl|brother|sister|mom|mum|mother|dad|father|"
                 r"grandma|grandmother|grandpa|grandfather|teacher|classmate|friend|best friend|"
                 r"husband|wife|aunt|uncle|cousin|niece|nephew|stepson|stepdaughter|"
                 r"principal|coach|tutor|neighbor|neighbour|boyfriend|girlfriend")
_EN_NAME = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:\s+[A-Z][a-z]+)?"
# Every English name pattern needs one of these words (a possessive before a relation, a
# title, "named"/"called"): turns without any skip the patterns.
_EN_NAME_CUE = re.compile(r"(?i)\b(?:my|our|his|her|their|your|mrs?|ms|miss|dr|coach|teacher|"
                          r"named|called)\b")
_EN_SCHOOL_WORD = re.compile(r"School|Academy|Kindergarten")
_EN_NAMES = [
    re.compile(rf"(?i:\b(?:my|our|his|her|their|your)\s+(?:{_EN_RELATIONS}))\s*,?\s+"
               rf"(?:(?i:is\s+)?(?i:called|named)\s+)?({_EN_NAME})"),
    re.compile(rf"\b({_EN_NAME}),\s+(?i:my|our)\s+(?:{_EN_RELATIONS})\b"),
    re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Coach|Teacher)\.?\s+({_EN_NAME})"),
    re.compile(rf"(?i:\b(?:boy|girl|man|woman|lady|guy|kid|child|person|someone|somebody|"
               rf"student|classmate|teacher|friend|neighbou?r)\s+(?:who\s+is\s+)?"
               rf"(?:named|called)\s+)({_EN_NAME})"),
]
# Capitalised words that follow those patterns without being names.
_NOT_NAMES = frozenset(_words(
    "I I'm I've I'd I'll He She It We They You The A An And But So Or If When Then This That "
    "Is Was Has Had Have Does Did Do Said Says Told Asked Always Never Just Really Still Also "
    "Today Yesterday Tomorrow Now Here There Please Thanks Thank Sorry Yes No Maybe Because "
    "Who What Why How Where Mom Mum Dad Mother Father Grandma Grandpa Teacher Sir Madam "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Hi Hello Hey Well Recently "
    "Likewise Anyway Actually Honestly Unfortunately Luckily Sadly Lately Besides Oh Ok Okay "
    "Yeah Yep Nope Hmm Dear Good Great My Our Right"))
# Common surnames that are rarely a word of their own (和, 连, 文 are surnames too, but in
# "你和老师" they are not), so "X老师" and "我儿子X…" are names and not phrases.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏"
             "魏吕丁沈姚卢姜崔钟谭陆汪范金廖贾夏韦邹孟熊秦邱薛闫段侯龙史陶黎贺顾毛郝龚邵钱严覃戴"
             "孔汤胡")
_COMPOUND_SURNAMES = "欧阳|司马|上官|诸葛|东方|皇甫|慕容|令狐|夏侯|尉迟|公孙|长孙|宇文|司徒"
_ZH_GIVEN_STOP = ("今年是的了在说和也都很就还要会去来把被给跟对从又再才刚已总每个们呢吗吧啊呀"
                  "老师同学妈爸哥姐弟妹我你他她它这那有没")
_ZH_SURNAME = rf"(?:{_COMPOUND_SURNAMES}|[{_SURNAMES}])"
_ZH_GIVEN = rf"(?:(?![{_ZH_GIVEN_STOP}])[\u4e00-\u9fa5]){{1,2}}"
_ZH_RELATIONS = ("儿子|女儿|孩子|闺女|宝宝|妹妹|弟弟|哥哥|姐姐|同学|同桌|室友|好朋友|"
                 "朋友|表哥|表姐|表弟|表妹|堂哥|堂姐|丈夫|老公|妻子|老婆|男朋友|女朋友|"
                 "邻居|班主任|老师")
_ZH_NAMES = [
    # 我的同桌叫张伟 / 女儿名叫小雨
    re.compile(rf"(?:{_ZH_RELATIONS})(?:的名字)?(?:叫做|名叫|叫)"
               rf"({_ZH_SURNAME}{_ZH_GIVEN}|小[\u4e00-\u9fa5])"),
    # 我儿子王小明 / 她的同学李雷
    re.compile(rf"(?:我|我的|我们的|他的|她的|你的|我家)(?:{_ZH_RELATIONS})"
               rf"({_ZH_SURNAME}{_ZH_GIVEN})"),
    # 李老师 / 王阿姨 (not the 何 of 如何, the 高 of 提高 …)
    re.compile(rf"(?<![如提最很更太花骑也紧主允或期夸慌])({_ZH_SURNAME})"
               r"(?:老师|校长|班主任|主任|医生|阿姨|叔叔|教练)"),
]


# ---- validators ----------------------------------------------------------------------------------
def valid_cn_id(number: str) -> bool:
    """A Chinese resident ID number: 17 digits, a checksum character, a real birth date."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17].upper():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def valid_ssn(area: str, group: str, serial: str) -> bool:
    return (area not in ("000", "666") and not area.startswith("9") and group != "00"
            and serial != "0000")


# ---- the scan ------------------------------------------------------------------------------------
def _phones(text: str) -> Iterable[tuple[int, int]]:
    # Digits are what a phone number needs; most turns have none and skip the matcher.
    if sum(c.isdigit() for c in text) < 7:
        return []
    spans = []
    for region in ("CN", "US", "GB"):
        for match in phonenumbers.PhoneNumberMatcher(text, region):
            spans.append((match.start, match.end))
    return spans


def scan(text: str) -> list[Hit]:
    """The personal data in ``text``, as non-overlapping spans in text order."""
    found: dict[str, list[tuple[int, int]]] = {kind: [] for kind in ORDER}
    if "@" in text:
        found["email"] = [m.span() for m in _EMAIL.finditer(text)]
    # Whole families of patterns need a digit or a Chinese character to match: two C-speed
    # searches spare English turns the Chinese patterns (most of the scan's time) and
    # digit-free turns the number patterns, with the same hits.
    has_digits = _DIGIT.search(text) is not None
    has_cjk = _CJK.search(text) is not None
    if has_digits:
        found["id_number"] = [m.span() for m in _CN_ID.finditer(text) if valid_cn_id(m.group())]
        for m in _CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and luhn(digits) and len(set(digits)) > 1:
                found["card"].append(m.span())
        for m in _SSN_DASHED.finditer(text):
            if valid_ssn(*m.groups()):
                found["ssn"].append(m.span())
        found["ssn"] += [m.span(1) for m in _SSN_KEYWORD.finditer(text)]
        found["passport"] = [m.span(1) for m in _PASSPORT.finditer(text)]
        found["phone"] = list(_phones(text))
        found["address"] += [m.span() for m in _EN_STREET.finditer(text)]
        found["address"] += [m.span() for m in _US_ZIP.finditer(text)]
        if has_cjk:
            found["address"] += [m.span(1) for m in _ZH_POSTCODE.finditer(text)]
        found["address"] += [m.span() for m in _UK_POSTCODE.finditer(text)]
        found["school"] += [m.span() for m in _EN_CLASS.finditer(text)]
    if _EN_SCHOOL_WORD.search(text):
        found["school"] += [m.span() for m in _EN_SCHOOL.finditer(text)]
    if has_cjk:
        found["address"] += [m.span() for m in _ZH_ADDRESS.finditer(text)]
        found["school"] += [m.span() for m in _ZH_CLASS.finditer(text)]
        found["school"] += [m.span() for m in _ZH_SCHOOL.finditer(text)]
    for pattern in _EN_NAMES if _EN_NAME_CUE.search(text) else ():
        for m in pattern.finditer(text):
            name = m.group(1)
            first = name.split()[0]
            if first not in _NOT_NAMES:
                # "my friend Emma Said" -> only the words that are not common words
                words = name.split()
                while len(words) > 1 and words[-1] in _NOT_NAMES:
                    words.pop()
                found["name"].append((m.start(1), m.start(1) + len(" ".join(words))))
    for pattern in _ZH_NAMES if has_cjk else ():
        found["name"] += [m.span(1) for m in pattern.finditer(text)]

    if not any(found.values()):
        return []
    taken: list[tuple[int, int]] = []
    hits: list[Hit] = []
    for kind in ORDER:
        for start, end in sorted(set(found[kind])):
            if start >= end or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            hits.append(Hit(kind, start, end, text[start:end]))
    hits.sort(key=lambda h: h.start)
    return hits


# ---- many texts at once ----------------------------------------------------------------------
# Every pattern of :func:`scan` needs one of three things, and a text with none of them has no
# hit: a digit, "@" or a Chinese character (all families but the English names and schools);
# a capitalised ASCII word after whitespace (the name in "my son Tom", "Mr. Tom", "a boy named
# Tom", and the "School"/"Academy" of a school's name); or a comma, whitespace and m/M/o/O (the
# ", my son" of "Tom, my son"). Those are looked up with numpy over a whole batch of texts,
# character by character, in a few C-speed passes; only the texts they flag are scanned in
# full, by :func:`scan` itself, so the hits are exactly the same.
_SPECIAL, _SPACE, _UPPER, _LOWER, _COMMA, _M_OR_O = 1, 2, 4, 8, 16, 32
_TABLE_LIMIT = 0x20000  # no digit nor space lies beyond; higher code points are looked up here


@cache
def _char_flags() -> np.ndarray:
    """The classes above per code point below ``_TABLE_LIMIT`` (the last entry: none)."""
    flags = np.zeros(_TABLE_LIMIT + 1, dtype=np.uint8)
    # a str pattern's \d is str.isdecimal and its \s str.isspace
    flags[:_TABLE_LIMIT] |= class_mask(r"\d", _TABLE_LIMIT) * np.uint8(_SPECIAL)
    flags[:_TABLE_LIMIT] |= class_mask(r"\s", _TABLE_LIMIT) * np.uint8(_SPACE)
    for lo, hi in ((0x3400, 0x9FFF), (0xF900, 0xFAFF)):  # the ranges of _CJK
        flags[lo:hi + 1] |= _SPECIAL
    flags[ord("@")] |= _SPECIAL
    flags[ord("A"):ord("Z") + 1] |= _UPPER
    flags[ord("a"):ord("z") + 1] |= _LOWER
    flags[ord(",")] |= _COMMA
    for c in "mMoO":
        flags[ord(c)] |= _M_OR_O
    flags.flags.writeable = False
    return flags


def _hit_positions(f: np.ndarray) -> np.ndarray:
    """The positions of the characters (their flags ``f``, texts apart by flagless NULs)
    that may begin or mark a hit, as above."""
    n = len(f)
    hit = (f & _SPECIAL) != 0
    space = (f & _SPACE) != 0
    if n > 2:
        # whitespace, then [A-Z][a-z]: flag the capital
        hit[1:-1] |= space[:-2] & ((f[1:-1] & _UPPER) != 0) & ((f[2:] & _LOWER) != 0)
        # a comma, whitespace, then m/M/o/O (or more whitespace: then flag it anyway)
        after = space[2:].copy()
        after[:-1] &= space[3:] | ((f[3:] & _M_OR_O) != 0)
        hit[:-2] |= ((f[:-2] & _COMMA) != 0) & space[1:-1] & (((f[2:] & _M_OR_O) != 0) | after)
    return np.flatnonzero(hit)


def _flagged_group(texts: Sequence[str]) -> np.ndarray:
    """The ranks among ``texts`` (not all ASCII) of those that may hold a hit."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    joined = "\x00".join(texts)  # positions come from the lengths, so a NUL in a text is fine
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    where = _hit_positions(_char_flags()[np.minimum(codes, _TABLE_LIMIT)])
    return np.unique(np.searchsorted(starts, where, side="right") - 1)


def _flagged(texts: Sequence[str], batch: BatchTexts | None = None) -> list[int]:
    """Indices of the texts that may hold a hit (see above), ASCII texts (one byte a
    character, from ``batch`` when given) and others apart."""
    if batch is None:
        batch = BatchTexts.flat(texts)
    out: list[int] = []
    ids = batch.ascii_ids
    if ids:
        where = _hit_positions(_char_flags()[:128][batch.ascii_bytes])
        out += [ids[k] for k in np.unique(batch.owner(where)).tolist()]
    ids = batch.others
    if ids:
        found = _flagged_group([texts[i] for i in ids])
        out += [ids[k] for k in found.tolist()]
    return out


def scan_flagged(texts: Sequence[str], batch: BatchTexts | None = None,
                 scanned: dict[str, list[Hit]] | None = None) -> dict[int, list[Hit]]:
    """``{i: scan(t)}`` for the texts ``t`` that have hits, computed a batch at a time: only
    the texts flagged above are scanned, each distinct text once (a batch repeats its topics,
    and the descriptions made of them). ``batch``: ``texts`` already flattened and encoded;
    ``scanned``: the hits of texts scanned before, by text, kept up to date."""
    if scanned is None:
        scanned = {}
    out: dict[int, list[Hit]] = {}
    for i in _flagged(texts, batch):
        text = texts[i]
        hits = scanned.get(text)
        if hits is None:
            hits = scanned[text] = scan(text)
        if hits:
            out[i] = list(hits)
    return out


def redact(text: str, hits: Iterable[Hit]) -> str:
    """``text`` with each hit replaced by its placeholder."""
    out, at = [], 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < at or text[hit.start:hit.end] != hit.value:
            continue  # stale or overlapping: leave the text as it is there
        out.append(text[at:hit.start])
        out.append(PLACEHOLDERS[hit.kind])
        at = hit.end
    out.append(text[at:])
    return "".join(out)


@dataclass(frozen=True)
class Located:
    """A hit in one field of a dialogue: ``path`` as in findings, ``turn`` counted from 0."""

    path: str
    turn: int | None
    hit: Hit

    @property
    def rule(self) -> str:
        return f"privacy.{self.hit.kind}"

    def key(self, dialogue_id: int | None) -> tuple[int | None, str, str, str]:
        """What a false-alarm mark matches: dialogue, field, rule and the value's digest."""
        return (dialogue_id, self.path, self.rule, self.hit.digest)

    def message(self) -> str:
        where = f"turn {self.turn + 1}" if self.turn is not None else self.path
        return (f"{LABELS[self.hit.kind]} in {where} ({self.hit.masked!r}); replace it with "
                f"{PLACEHOLDERS[self.hit.kind]} or mark it a false alarm")


def scan_dialogue(dialogue: Dialogue) -> list[Located]:
    """Every hit in the dialogue's description and turns."""
    out: list[Located] = []
    for name in ("topic", "description"):
        value = getattr(dialogue, name)
        if value:
            out += [Located(name, None, h) for h in scan(value)]
    for i, turn in enumerate(dialogue.turns):
        out += [Located(f"turns[{i}].text", i, h) for h in scan(turn.text)]
    return out


def scan_dialogues(dialogues: Sequence[Dialogue],
                   batch: BatchTexts | None = None) -> list[list[Located]]:
    """``[scan_dialogue(d) for d in dialogues]``, with the texts scanned as one batch. A
    field's path is only spelled out for the few fields with a hit. ``batch``: the
    dialogues' turn texts already flattened and encoded (:meth:`BatchTexts.of`)."""
    if batch is not None:
        return _scan_shared(dialogues, batch)
    texts: list[str] = []
    firsts: list[int] = []  # where each dialogue's texts begin in ``texts``
    named: list[list[str]] = []  # the dialogue's topic and description, when set
    for dialogue in dialogues:
        firsts.append(len(texts))
        names = [name for name in ("topic", "description") if getattr(dialogue, name)]
        named.append(names)
        texts += [getattr(dialogue, name) for name in names]
        texts += [turn.text for turn in dialogue.turns]
    out: list[list[Located]] = [[] for _ in dialogues]
    for i, hits in sorted(scan_flagged(texts).items()):
        k = bisect.bisect_right(firsts, i) - 1
        at = i - firsts[k]
        fields = named[k]
        path, turn = ((fields[at], None) if at < len(fields)
                      else (f"turns[{at - len(fields)}].text", at - len(fields)))
        out[k] += [Located(path, turn, h) for h in hits]
    return out


def _scan_shared(dialogues: Sequence[Dialogue], batch: BatchTexts) -> list[list[Located]]:
    """:func:`scan_dialogues` with the turn texts taken from ``batch``; the topics and
    descriptions (a tenth of the texts) are scanned as a group of their own. A dialogue's
    fields come before its turns, as in :func:`scan_dialogue`."""
    fields: list[str] = []
    owners: list[tuple[int, str]] = []
    for k, dialogue in enumerate(dialogues):
        for name in ("topic", "description"):
            value = getattr(dialogue, name)
            if value:
                fields.append(value)
                owners.append((k, name))
    scanned: dict[str, list[Hit]] = {}
    out: list[list[Located]] = [[] for _ in dialogues]
    for i, hits in sorted(scan_flagged(fields, scanned=scanned).items()):
        k, name = owners[i]
        out[k] += [Located(name, None, h) for h in hits]
    firsts = batch.firsts
    for i, hits in sorted(scan_flagged(batch.texts, batch, scanned).items()):
        k = bisect.bisect_right(firsts, i) - 1
        at = i - firsts[k]
        out[k] += [Located(f"turns[{at}].text", at, h) for h in hits]
    return out


class PrivacyScreen:
    """The check: one finding per hit, less those a lead marked as false alarms."""

    def __init__(self, dismissed: Collection[tuple[int | None, str, str, str]] = ()):
        self.dismissed = set(dismissed)

    def check(self, dialogue: Dialogue, config: CheckConfig) -> list[Finding]:
        return self._findings(dialogue, scan_dialogue(dialogue), config)

    def check_many(self, dialogues: Sequence[Dialogue], config: CheckConfig,
                   batch: BatchTexts | None = None) -> list[list[Finding]]:
        """:meth:`check` of each dialogue, the texts scanned as one batch (``batch``: their
        turn texts already flattened, see :func:`scan_dialogues`)."""
        return [self._findings(d, found, config)
                for d, found in zip(dialogues, scan_dialogues(dialogues, batch), strict=True)]

    def _findings(self, dialogue: Dialogue, hits: list[Located],
                  config: CheckConfig) -> list[Finding]:
        out = []
        for located in hits:
            if not config.enabled(located.rule):
                continue
            if located.key(dialogue.id) in self.dismissed:
                continue
            out.append(config.finding(located.rule, dialogue.id, located.turn, located.path,
                                      located.message(), category=located.hit.kind))
        return out
