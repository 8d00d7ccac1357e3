import codecs

import pytest

from rag_assistant.errors import DecodingError
from rag_assistant.ingestion.text_decoding import decode_text

KOREAN = "제로 트러스트 아키텍처는 네트워크 위치만으로 신뢰를 부여하지 않습니다.\n두 번째 줄입니다."


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (KOREAN.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + KOREAN.encode("utf-8"), "utf-8"),
        (KOREAN.encode("utf-16"), "utf-16"),  # with BOM
        (KOREAN.encode("utf-16-be"), "utf-16-be"),
        (("Hello world, plain ASCII in UTF-16. " * 3).encode("utf-16-le"), "utf-16-le"),
        (KOREAN.encode("cp949"), "cp949"),
        (KOREAN.encode("euc-kr"), "cp949"),
    ],
)
def test_encodings_are_detected(data: bytes, encoding: str) -> None:
    text, detected = decode_text(data)
    assert detected == encoding
    assert text.strip("\ufeff") in (KOREAN, ("Hello world, plain ASCII in UTF-16. " * 3))


def test_cp949_only_characters_decode() -> None:
    # 똠 and 햏 exist in CP949 but not in EUC-KR's KS X 1001 set.
    text = "똠방각하와 햏자는 CP949 확장 글자입니다."
    assert decode_text(text.encode("cp949")) == (text, "cp949")


def test_western_legacy_text_is_not_mistaken_for_korean() -> None:
    text = "Café crème brûlée, naïve façade — déjà vu. " * 5
    decoded, encoding = decode_text(text.encode("cp1252"))
    assert "Café" in decoded and encoding != "cp949"


@pytest.mark.parametrize("text", [
    "café, naïve, Müller",  # short: charset-normalizer alone calls it cp1250 ("naďve")
    "Grüße aus München: Straße, Bäume, Fluß.",
    "¿Dónde está el niño? ¡Olé! — 10 €, “comillas” y ‘citas’…",
    "As informações não são suficientes para a ação.",
    "C'est sûr : août, dû, Noël, Ærøskøbing, façade.",
])
def test_windows_1252_and_latin_1_text_decodes_right(text: str) -> None:
    assert decode_text(text.encode("cp1252")) == (text, "cp1252")
    if all(ord(ch) < 256 for ch in text):  # Latin-1 is cp1252 without its 0x80-0x9F marks
        assert decode_text(text.encode("latin-1")) == (text, "cp1252")


@pytest.mark.parametrize(("text", "encoding"), [
    (KOREAN, "cp949"),
    (KOREAN, "euc-kr"),
    ("Příliš žlutoučký kůň úpěl ďábelské ódy.", "cp1250"),  # Czech: š/ž mark Central Europe
    ("Árvíztűrő tükörfúrógép, öt szép szűz.", "cp1250"),  # Hungarian: ő and ű together
    ("Zażółć gęślą jaźń. Pchnąć w tę łódź jeża.", "cp1250"),  # Polish: ł ą read as ³ ¹
    ("Привет мир, это проверка кодировки.", "cp1251"),  # accented letters only, as cp1252
    ("Γειά σου κόσμε, δοκιμή της κωδικοποίησης.", "cp1253"),
])
def test_other_legacy_encodings_are_not_taken_for_windows_1252(text: str, encoding: str) -> None:
    data = text.encode(encoding)
    try:
        decoded, detected = decode_text(data)
    except DecodingError:
        return  # refused with a reason is fine; read as Western it is not
    assert detected != "cp1252" and decoded != data.decode("cp1252", "replace")


def test_binary_data_is_rejected_with_a_reason() -> None:
    with pytest.raises(DecodingError, match="binary"):
        decode_text(bytes(range(256)) * 20)


def test_broken_bom_file_is_rejected() -> None:
    with pytest.raises(DecodingError, match="UTF-8"):
        decode_text(codecs.BOM_UTF8 + b"ok \xff\xfe\xfd broken")
