"""Build the small CJK font that ships with SynthGuard (run by a developer, not at run time).

Source: Noto Sans CJK SC Bold (SIL OFL 1.1) from Debian's fonts-noto-cjk. The subset
holds printable ASCII, CJK punctuation and the characters of notices.txt (the wording
operators use for explicit labels), so it stays small enough to live in the repository.
Usage: python tools/make_font_subset.py  (needs fonttools and fonts-noto-cjk installed)
"""

from __future__ import annotations

from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
OUT = Path(__file__).resolve().parent.parent / "src/synthguard/explicit/fonts"


def main() -> None:
    chars = (OUT / "notices.txt").read_text(encoding="utf-8")
    wanted = {c for c in chars if not c.isspace()} | {chr(c) for c in range(0x20, 0x7F)}
    wanted |= set("，。：；！？、“”‘’（）《》【】·—…「」")
    font = next(f for f in TTCollection(str(SOURCE)).fonts
                if f["name"].getDebugName(1) == "Noto Sans CJK SC")
    options = subset.Options()
    options.name_IDs = ["*"]
    options.layout_features = ["kern", "palt", "vert"]
    options.hinting = False
    options.desubroutinize = True
    sub = subset.Subsetter(options)
    sub.populate(text="".join(sorted(wanted)))
    sub.subset(font)
    # A modified version gets its own name (OFL 1.1 §3 courtesy; "Source" is reserved).
    name = font["name"]
    for rec in name.names:
        if rec.nameID in (1, 4, 16):
            rec.string = "SynthGuard Notice Sans SC"
        elif rec.nameID == 6:
            rec.string = "SynthGuardNoticeSansSC-Bold"
    font.save(OUT / "SynthGuardNoticeSansSC-Bold.otf")
    print(f"{len(wanted)} characters, "
          f"{(OUT / 'SynthGuardNoticeSansSC-Bold.otf').stat().st_size} bytes")


if __name__ == "__main__":
    main()
