"""Bytes to str for plain-text files, including the Korean legacy encodings.

Order matters: BOMs are certain; UTF-8 decodes strictly or not at all; UTF-16 without a
BOM shows itself by NUL bytes; CP949 (a superset of EUC-KR, what Korean Windows writes)
is accepted only when what it decodes to is mostly Hangul, because many byte strings in
other legacy encodings also happen to be valid CP949. Windows-1252 (a superset of Latin-1's
printable range, what Western European Windows writes) is accepted when it reads as Western
text: charset-normalizer, which guesses the rest, calls short French or German files cp1250
("naïve" becomes "naďve").
"""

from __future__ import annotations

import codecs
import re

from ..errors import DecodingError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
#: What Western European text holds besides letters, in cp1252: quotes, dashes, the euro sign,
#: inverted marks, no-break space... Not the superscripts ¹ ³ or ¿-like symbols other
#: encodings' letters turn into (Polish "ą ł" read as cp1252 are "¹ ³").
_WESTERN_MARKS = frozenset("\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u2022\u20ac\u2122"
                           "\u00a0\u00a1\u00a2\u00a3\u00a5\u00a7\u00a9\u00ab\u00ae\u00b0\u00b1"
                           "\u00b4\u00b7\u00bb\u00bf\u00d7\u00f7")
#: Letters cp1252 shares with cp1250 that Western languages hardly use but Czech, Slovak,
#: Slovene and Croatian always do: with them, the bytes are more likely Central European.
_CENTRAL_LETTERS = frozenset("\u0160\u0161\u017d\u017e")  # Š š Ž ž
#: Hungarian's ő and ű read as cp1252 are õ and û: Portuguese has the one, French the other,
#: Western text hardly both.
_HUNGARIAN_PAIR = (frozenset("\u00f5\u00d5"), frozenset("\u00fb\u00db"))  # õ Õ, û Û


def decode_text(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name). Raises DecodingError when the bytes are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding), encoding.replace("-sig", "")

    # Before UTF-8: ASCII in UTF-16 is valid UTF-8 full of NULs, which real text never has.
    utf16 = _utf16_without_bom(data)
    if utf16:
        return utf16

    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass

    try:
        text = data.decode("cp949")
        non_ascii = _NON_ASCII.findall(text)
        if non_ascii and len(_HANGUL.findall(text)) >= 0.5 * len(non_ascii):
            return text, "cp949"
    except UnicodeDecodeError:
        pass

    if len(_CONTROL_BYTES.findall(data[:8192])) > 8:
        raise DecodingError("the file looks binary, not text; is it really a .txt/.md file?")

    western = _western(data)
    if western is not None:
        return western, "cp1252"

    from charset_normalizer import from_bytes  # only for the rare undeclared legacy file

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DecodingError(
            "the text encoding could not be recognised; save the file as UTF-8 and upload it again"
        )
    return str(best), best.encoding


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DecodingError(
            f"the file starts with a {encoding} byte-order mark but is not valid {encoding} "
            f"(byte {exc.start}); save it again as UTF-8"
        ) from None


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    sample = data[:4096]
    if len(sample) < 4 or b"\x00" not in sample or len(data) % 2:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    # ASCII characters (spaces, punctuation, Latin text) put a NUL in the high byte: odd
    # positions for little-endian, even for big-endian. Hangul rarely does.
    if odd_nuls >= 2 * even_nuls and odd_nuls >= 0.05 * len(sample) / 2:
        encoding = "utf-16-le"
    elif even_nuls >= 2 * odd_nuls and even_nuls >= 0.05 * len(sample) / 2:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in text[:2048] if ch.isprintable() or ch in "\n\r\t")
    return (text, encoding) if printable >= 0.95 * min(len(text), 2048) else None


def _western(data: bytes) -> str | None:
    """The text as cp1252 when it reads as Western European: every character beyond ASCII a
    letter or a common mark, and accented letters fewer than half of all letters. Cyrillic,
    Greek or Hebrew bytes read as cp1252 are nearly all accented letters; CJK and Central
    European ones bring stray symbols or š/ž."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # five bytes cp1252 leaves undefined
        return None
    non_ascii = _NON_ASCII.findall(text)
    kinds = set(non_ascii)
    if kinds & _CENTRAL_LETTERS or all(kinds & pair for pair in _HUNGARIAN_PAIR):
        return None
    if not all(ch.isalpha() or ch in _WESTERN_MARKS for ch in kinds):
        return None
    accented = sum(ch.isalpha() for ch in non_ascii)
    letters = len(_ASCII_LETTERS.findall(text)) + accented
    return text if accented < 0.5 * letters else None
