"""Which language a text is written in, as far as the assistant needs to know: Korean
(Hangul syllables) or not. One definition for the answerers, the retriever and the
keyword terms."""

from __future__ import annotations

import re

#: Hangul syllables (가-힣): what Korean words are written in.
HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_LETTER = re.compile(r"[^\W\d_]")

#: Share of letters that must be Hangul for a text to count as Korean: a Korean question
#: often quotes English terms ("S3 버킷의 lifecycle 규칙은?").
KOREAN_SHARE = 0.3


def hangul_share(text: str) -> float:
    """Hangul syllables / letters (0.0 for a text without letters)."""
    letters = len(_LETTER.findall(text))
    return len(HANGUL_SYLLABLE.findall(text)) / letters if letters else 0.0


def is_korean(text: str) -> bool:
    # Most texts hold no Hangul at all: one scan says so without counting every letter
    # (x16 faster on an English chunk; the retriever asks this of every candidate).
    return HANGUL_SYLLABLE.search(text) is not None and hangul_share(text) >= KOREAN_SHARE
