"""Labels per second on 1-megapixel JPEG, PNG and WebP files: SynthGuard vs exiftool.

exiftool runs in `-stay_open` batch mode with a config that defines the TC260 XMP
namespace, so its Perl start-up is paid once and what is measured is the write itself.
Both write the same XMP `TC260:AIGC` value to copies of the same files.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from bench._common import median_time, table
from synthguard.labels import AIGCLabel, write_label

EXIFTOOL_CONFIG = """
%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        TC260 => { SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::TC260' } },
    },
);
%Image::ExifTool::UserDefined::TC260 = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-TC260', 2 => 'Image' },
    NAMESPACE => { 'TC260' => 'http://www.tc260.org.cn/ns/AIGC/1.0/' },
    WRITABLE => 'string',
    AIGC => { },
);
1;
"""

FORMATS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}


def make_images(folder: Path, n: int) -> dict[str, list[Path]]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {}
    for fmt, ext in FORMATS.items():
        out[fmt] = []
        for i in range(n):
            # Smooth content plus noise: realistic sizes for photos (1000x1000 = 1 MP).
            base = np.linspace(0, 255, 1000, dtype=np.float32)
            img = (base[None, :, None] * 0.6 + base[:, None, None] * 0.3
                   + rng.normal(0, 12, (1000, 1000, 3))).clip(0, 255).astype(np.uint8)
            path = folder / f"img{i:03d}{ext}"
            Image.fromarray(img).save(path, **({"quality": 90} if fmt != "png" else {}))
            out[fmt].append(path)
    return out


class ExifTool:
    """One exiftool process in -stay_open mode."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            ["exiftool", "-config", str(config), "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def run(self, *args: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(("\n".join([*args, "-execute"]) + "\n").encode())
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline().decode()
            if not line or line.startswith("{ready"):
                break
            lines.append(line)
        return "".join(lines)

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(b"-stay_open\nFalse\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)


def run(n: int = 30, runs: int = 5) -> str:
    aigc = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="bench-0001")
    value = aigc.to_json()
    tmp = Path(tempfile.mkdtemp(prefix="sg-bench-img-"))
    try:
        images = make_images(tmp / "in", n)
        config = tmp / "exiftool.config"
        config.write_text(EXIFTOOL_CONFIG)
        tool = ExifTool(config)
        rows = []
        for fmt, files in images.items():
            ours_dir, theirs_dir = tmp / f"ours-{fmt}", tmp / f"exif-{fmt}"

            def ours(files: list[Path] = files, out: Path = ours_dir, durable: bool = True
                     ) -> None:
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                for f in files:
                    write_label(f, out / f.name, aigc, durable=durable)

            def theirs(files: list[Path] = files, out: Path = theirs_dir) -> None:
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                for f in files:
                    tool.run(f"-XMP-TC260:AIGC={value}", "-o", str(out / f.name), str(f))

            t_ours = median_time(ours, runs=runs)
            t_fast = median_time(lambda: ours(durable=False), runs=runs)
            check = tool.run("-s3", "-XMP-TC260:AIGC", str(ours_dir / files[0].name)).strip()
            assert check == value, f"exiftool reads {check!r} from our {fmt}"
            ours_cols = [f"{n / t_ours:,.0f}", f"{n / t_fast:,.0f}"]
            theirs(files)
            written = theirs_dir / files[0].name
            if not written.exists() or tool.run("-s3", "-XMP-TC260:AIGC",
                                                str(written)).strip() != value:
                # exiftool 12.57 answers "Can't write RIFF files" for WebP.
                rows.append([fmt, *ours_cols, "cannot write this format", "-", "-"])
                continue
            t_theirs = median_time(theirs, runs=runs)
            rows.append([fmt, *ours_cols, f"{n / t_theirs:,.0f}",
                         f"{t_theirs / t_ours:.1f}x", f"{t_theirs / t_fast:.1f}x"])
        tool.close()
        mem = memory_growth(images["jpeg"], tmp / "mem", aigc)
        return (table(["format (1 MP)", "SynthGuard (fsync) labels/s",
                       "SynthGuard --no-sync labels/s", "exiftool -stay_open labels/s",
                       "ratio (fsync)", "ratio (--no-sync)"], rows)
                + "\n\nSynthGuard verifies every output by reading it back; with fsync it "
                "also makes each file and rename durable (two fsyncs per file), which exiftool "
                "does not do."
                + f"\n\nPython heap after {n} vs {5 * n} JPEG labels: {mem[0] / 1024:.0f} KiB vs "
                f"{mem[1] / 1024:.0f} KiB (tracemalloc, current after each batch)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def memory_growth(files: list[Path], out: Path, aigc: AIGCLabel) -> tuple[int, int]:
    """Heap in use after one pass and after five passes over the files: must not grow."""
    out.mkdir()
    tracemalloc.start()
    marks = []
    for p in range(5):
        for f in files:
            write_label(f, out / f.name, aigc)
        if p in (0, 4):
            marks.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    return marks[0], marks[1]


if __name__ == "__main__":
    print(run())
