#!/usr/bin/env python3
"""Builds assets/fonts/NotoSansSC-capsim.otf, the font capsim's charts embed.

The source is Debian's fonts-noto-cjk package: NotoSansCJK-Regular.ttc is a collection whose
face 0 is Japanese; face 2 is "Noto Sans CJK SC" (Simplified Chinese). capsim draws every
string with one font (no per-glyph fallback), so the face must hold Latin and hanzi both.

The subset keeps: printable ASCII; Latin-1 symbols and a few typographic marks the charts use
(– — · × ≥ ≤ ² …); GB2312 rows 1, 3 and 6 (CJK punctuation, full-width forms, Greek — the
sensitivity charts write μ* and σ); and the 3,755
GB2312 level-1 hanzi (rows 16–55), which cover the great majority of place and service names.
Names outside it render as boxes and capsim warns; pass `--font PATH` with a fuller font.

Licence: SIL Open Font License 1.1 (assets/fonts/OFL.txt); the subset keeps the font's name
table (copyright, licence) and is distributed under the same licence.

Usage (Debian):  apt-get install fonts-noto-cjk && pip install fonttools && python3 scripts/make-font.py
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FACE_SC = 2
OUT = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "NotoSansSC-capsim.otf"


def gb2312_rows(rows):
    chars = []
    for row in rows:
        for col in range(1, 95):
            try:
                chars.append(bytes([0xA0 + row, 0xA0 + col]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # unassigned code points (row 55 ends at column 89)
    return chars


def wanted():
    chars = set(chr(c) for c in range(0x20, 0x7F))
    chars |= set(chr(c) for c in range(0xA0, 0x100))  # Latin-1 supplement: ² ³ ° ± × · etc.
    chars |= set("–—‘’“”…‰′″→←↑↓≈≠≤≥−•∙√∞")
    chars |= set(gb2312_rows([1, 3, 6]))  # CJK punctuation, full-width forms, Greek
    chars |= set(gb2312_rows(range(16, 56)))  # level-1 hanzi
    return chars


def main():
    if not SOURCE.exists():
        sys.exit(f"{SOURCE} not found: apt-get install fonts-noto-cjk")
    collection = TTCollection(str(SOURCE))
    font = collection.fonts[FACE_SC]
    family = font["name"].getDebugName(1)
    if "SC" not in family:
        sys.exit(f"face {FACE_SC} of {SOURCE} is {family!r}, not the Simplified Chinese face")
    chars = wanted()
    options = subset.Options()
    options.layout_features = ["kern", "liga", "locl", "vert"]
    options.name_IDs = ["*"]  # keep copyright and licence records
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # charts are rasterised unhinted
    options.desubroutinize = True
    sub = subset.Subsetter(options)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # A fixed modification time keeps the file byte-identical from run to run.
    font["head"].modified = font["head"].created
    font.save(str(OUT), reorderTables=True)
    n = len(font.getBestCmap())
    print(f"{OUT}: {family}, {n} characters, {OUT.stat().st_size:,} bytes")
    for probe in ["嘉定新城", "青浦新城", "松江新城", "奉贤新城", "南汇新城", "临港", "幼儿园学位", "养老床位", "m²"]:
        missing = [c for c in probe if ord(c) not in font.getBestCmap()]
        if missing:
            print(f"warning: {probe!r} lacks {''.join(missing)}")


if __name__ == "__main__":
    main()
