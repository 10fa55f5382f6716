"""Regenerate every media file of the Stepstone demo courses.

What it makes (all small, all generated, nothing downloaded):

    courses/everyday-math/media/fraction-bars.png        fraction bar diagram (Pillow)
    courses/everyday-math/media/percent-grid.png         100-square percent grid (Pillow)
    courses/workplace-safety/media/safety-habits.webm    ~20 s video: VP9 + Opus, 480x270,
                                                         text slides (ffmpeg drawtext, DejaVu)
                                                         with espeak-ng narration
    courses/workplace-safety/media/safety-habits.en.vtt  WebVTT captions, cue times taken from
                                                         the real length of each spoken sentence
    courses/workplace-safety/media/safety-habits-poster.png  first slide, used as poster
    courses/workplace-safety/media/safety-checklist.pdf  one-page printable checklist (fpdf2)
    courses/job-ready/media/interview-tip.ogg            ~45 s spoken tip, Opus mono (espeak-ng)
    courses/job-ready/media/interview-tip.en.vtt         WebVTT captions for the audio
    courses/money-basics/apps/budget/*                   the budget game, an HTML5 activity, and
    courses/money-basics/scorm/money-traps/*             a SCORM 1.2 package (money_apps.py)
    courses/*/narration/<lesson>.opus and .vtt           every lesson of every demo course
                                                         read aloud (espeak-ng, opusenc),
                                                         by `stepstone package narrate`'s
                                                         own code, with its sentence cues

What it needs (Debian 12):

    apt-get install -y ffmpeg espeak-ng opus-tools fonts-dejavu-core
    .venv/bin/pip install fpdf2        # brings Pillow; a generation tool only, not a
                                       # runtime dependency of Stepstone

How to run it (from the repository root):

    .venv/bin/python courses/_tools/make_media.py            # rebuild everything
    .venv/bin/python courses/_tools/make_media.py --check    # rebuild in a temp dir and
                                                             # compare with the committed files
    .venv/bin/python courses/_tools/make_media.py --narration   # only the lessons whose
                                                             # text changed since their narration
                                                             # (lint says which), no ffmpeg needed

Reproducibility: fixed text, fixed voices and speeds, no random seeds needed, ffmpeg run
single-threaded with `-fflags +bitexact -flags:v +bitexact -flags:a +bitexact
-map_metadata -1`, the PDF has a fixed creation date, PNGs carry no time stamps. With the
same tool versions (ffmpeg 5.1, libvpx, libopus, espeak-ng 1.51, fpdf2 2.8, Pillow) the
outputs are byte-identical from run to run. Other versions of these tools may give
different bytes (but the same content).

The spoken text and the caption text come from the same lists below, so the transcripts in
the lesson files must be kept in step by hand when you edit them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from money_apps import make_money_apps

COURSES = Path(__file__).resolve().parent.parent
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

BITEXACT = [
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
    "-flags:a",
    "+bitexact",
    "-map_metadata",
    "-1",
    "-threads",
    "1",
]

# Pause after each spoken sentence, and extra pause after the last sentence of a slide.
SENTENCE_GAP = 0.35
SLIDE_GAP = 0.6
SAMPLE_RATE = 22050  # espeak-ng's native rate

# ---------------------------------------------------------------------------------------
# Scripts (keep in step with the transcripts in the lesson files)
# ---------------------------------------------------------------------------------------

# Each slide: (big title, small line under it, [sentences spoken while it shows])
SAFETY_SLIDES: list[tuple[str, str, list[str]]] = [
    ("Safety First", "Four habits for every shift", ["Safety starts before you pick up a tool."]),
    (
        "1. Wear your PPE",
        "Gloves, glasses, boots",
        ["Wear your gloves, safety glasses, and boots. Every time."],
    ),
    (
        "2. Lift with your legs",
        "Bend knees. Load close. No twisting.",
        ["Bend your knees, keep the load close, and do not twist."],
    ),
    (
        "3. Keep floors clear",
        "Spills, cords, boxes",
        ["Clean up spills and move cords out of the walkway."],
    ),
    ("4. Speak up", "Tell your supervisor", ["See a hazard? Tell your supervisor right away."]),
]

INTERVIEW_TIP: list[str] = [
    "Here is a tip for your job interview.",
    "The employer may ask about your conviction.",
    "Do not panic, and do not lie.",
    "Keep your answer short. Three or four sentences is enough.",
    "First, say what happened in plain words.",
    "Second, say that you take responsibility.",
    "Third, tell them what you did to change.",
    "Name a class you finished, a job you held, or a skill you learned.",
    "Then turn to the future.",
    "Say why you want this job, and what you will bring to it.",
    "Practice your answer out loud until it feels natural.",
]

CHECKLIST_TITLE = "Daily Safety Checklist"
CHECKLIST_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "Before you start",
        [
            "I know what job I am doing today and how to do it safely.",
            "I have my PPE: gloves, safety glasses, boots, and anything else the job needs.",
            "My PPE is clean, fits well, and is not damaged.",
            "I checked my tools. Nothing is broken, loose, or frayed.",
        ],
    ),
    (
        "My work area",
        [
            "Floors are dry. Spills are cleaned up or marked.",
            "Walkways and exits are clear of boxes, cords, and trash.",
            "There is enough light to see what I am doing.",
            "I know where the fire extinguisher and first aid kit are.",
        ],
    ),
    (
        "Lifting and moving",
        [
            "I test the weight before I lift. I ask for help if it is heavy.",
            "I bend my knees, keep the load close, and do not twist.",
            "I can see over the load and my path is clear.",
        ],
    ),
    (
        "Chemicals",
        [
            "Every container has a label. I read it before I use it.",
            "I know where the Safety Data Sheets (SDS) are kept.",
            "I never mix chemicals, and I never use an unlabeled bottle.",
        ],
    ),
    (
        "If something goes wrong",
        [
            "I stop work and tell my supervisor about any hazard.",
            "I report every injury, even a small one, the same day.",
        ],
    ),
]

# ---------------------------------------------------------------------------------------


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def speak(text: str, out: Path, voice: str = "en-us", speed: int = 145) -> float:
    """Speak one sentence to a WAV file with espeak-ng; return its length in seconds."""
    run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text])
    with wave.open(str(out), "rb") as w:
        if w.getframerate() != SAMPLE_RATE:
            raise SystemExit(f"unexpected espeak-ng sample rate {w.getframerate()}")
        return w.getnframes() / w.getframerate()


def join_wavs(parts: list[tuple[Path, float]], out: Path) -> None:
    """Concatenate WAV files, each followed by `pad` seconds of silence (pure Python)."""
    frames = bytearray()
    params = None
    for path, pad in parts:
        with wave.open(str(path), "rb") as w:
            params = w.getparams()
            frames += w.readframes(w.getnframes())
            frames += b"\x00" * (round(pad * w.getframerate()) * w.getsampwidth())
    assert params is not None
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(bytes(frames))


def vtt_time(t: float) -> str:
    ms = round(t * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def write_vtt(cues: list[tuple[float, float, str]], out: Path) -> None:
    lines = ["WEBVTT", ""]
    for i, (start, end, text) in enumerate(cues, 1):
        lines += [str(i), f"{vtt_time(start)} --> {vtt_time(end)}", text, ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def narrate(
    sentences_by_group: list[list[str]], tmp: Path, voice: str = "en-us", speed: int = 145
) -> tuple[Path, list[tuple[float, float, str]], list[float]]:
    """Speak groups of sentences; return the joined WAV, caption cues and group end times."""
    parts: list[tuple[Path, float]] = []
    cues: list[tuple[float, float, str]] = []
    group_ends: list[float] = []
    t = 0.0
    n = 0
    for group in sentences_by_group:
        for j, sentence in enumerate(group):
            wav = tmp / f"s{n:03d}.wav"
            n += 1
            length = speak(sentence, wav, voice, speed)
            pad = SLIDE_GAP if j == len(group) - 1 else SENTENCE_GAP
            cues.append((t, t + length, sentence))
            parts.append((wav, pad))
            t += length + pad
        group_ends.append(t)
    joined = tmp / "narration.wav"
    join_wavs(parts, joined)
    return joined, cues, group_ends


def esc_filter_path(p: Path) -> str:
    return str(p).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def make_video(out_dir: Path, tmp: Path) -> None:
    wav, cues, ends = narrate([s[2] for s in SAFETY_SLIDES], tmp)
    starts = [0.0, *ends[:-1]]
    filters = []
    for i, (title, sub, _) in enumerate(SAFETY_SLIDES):
        tfile = tmp / f"title{i}.txt"
        sfile = tmp / f"sub{i}.txt"
        tfile.write_text(title, encoding="utf-8")
        sfile.write_text(sub, encoding="utf-8")
        # the last slide stays until the end of the stream
        end = f"lt(t,{ends[i]:.3f})" if i < len(SAFETY_SLIDES) - 1 else "1"
        enable = f"gte(t,{starts[i]:.3f})*{end}"
        filters.append(
            f"drawtext=fontfile='{esc_filter_path(FONT_BOLD)}':textfile='{esc_filter_path(tfile)}'"
            f":fontsize=34:fontcolor=white:x=(w-text_w)/2:y=(h/2)-52:enable='{enable}'"
        )
        filters.append(
            f"drawtext=fontfile='{esc_filter_path(FONT)}':textfile='{esc_filter_path(sfile)}'"
            f":fontsize=20:fontcolor=0xFFE08A:x=(w-text_w)/2:y=(h/2)+12:enable='{enable}'"
        )
    # a yellow safety stripe at the bottom, the same on every slide
    stripe = "drawbox=x=0:y=ih-18:w=iw:h=18:color=0xF2C230:t=fill"
    vf = ",".join([stripe, *filters, "format=yuv420p"])
    duration = f"{ends[-1]:.3f}"
    video = out_dir / "safety-habits.webm"
    run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"color=c=0x1F3A5F:s=480x270:r=12:d={duration}",
            "-i",
            str(wav),
            "-vf",
            vf,
            "-c:v",
            "libvpx-vp9",
            "-b:v",
            "0",
            "-crf",
            "40",
            "-deadline",
            "good",
            "-cpu-used",
            "2",
            "-row-mt",
            "0",
            "-g",
            "120",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-shortest",
            *BITEXACT,
            str(video),
        ]
    )
    write_vtt(cues, out_dir / "safety-habits.en.vtt")
    # poster: the title slide, as a palette PNG
    run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=0x1F3A5F:s=480x270:r=1:d=1",
            "-vf",
            vf.replace(",format=yuv420p", "") + ",split[a][b];[a]palettegen=max_colors=32[p];"
            "[b][p]paletteuse=dither=none",
            "-frames:v",
            "1",
            *BITEXACT,
            str(out_dir / "safety-habits-poster.png"),
        ]
    )


def make_audio(out_dir: Path, tmp: Path) -> None:
    wav, cues, _ = narrate([[s] for s in INTERVIEW_TIP], tmp, speed=140)
    run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(wav),
            "-c:a",
            "libopus",
            "-b:a",
            "24k",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-application",
            "voip",
            *BITEXACT,
            str(out_dir / "interview-tip.ogg"),
        ]
    )
    write_vtt(cues, out_dir / "interview-tip.en.vtt")


def make_pdf(out_dir: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="letter", unit="pt")
    pdf.set_creation_date(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    pdf.set_title(CHECKLIST_TITLE)
    pdf.set_author("Stepstone Demo Team")
    pdf.set_subject("Workplace safety checklist. License CC-BY-4.0")
    pdf.set_creator("Stepstone make_media.py")
    pdf.set_producer("fpdf2")
    pdf.set_lang("en")
    pdf.set_margins(48, 40, 48)
    pdf.set_auto_page_break(True, margin=40)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 26)
    pdf.cell(0, 32, CHECKLIST_TITLE, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("Helvetica", "", 13)
    pdf.cell(
        0,
        20,
        "Name: ______________________   Date: ____________   Job: ______________",
        new_x="LMARGIN",
        new_y="NEXT",
        align="L",
    )
    pdf.set_font("Helvetica", "", 13)
    pdf.multi_cell(
        0,
        18,
        "Check each box before your shift. If you cannot check a box, "
        "stop and talk to your supervisor.",
        new_x="LMARGIN",
        new_y="NEXT",
        align="L",
    )
    box = 15
    for heading, items in CHECKLIST_SECTIONS:
        pdf.ln(6)
        pdf.set_font("Helvetica", "B", 17)
        pdf.set_fill_color(242, 194, 48)
        pdf.cell(0, 24, "  " + heading, fill=True, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 15)
        for item in items:
            y = pdf.get_y()
            pdf.set_line_width(1.2)
            pdf.rect(pdf.l_margin + 2, y + 3, box, box)
            pdf.set_x(pdf.l_margin + box + 12)
            pdf.multi_cell(0, 21, item, new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(1)
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(
        0,
        19,
        "You have the right to a safe workplace. You can report a hazard "
        "without being punished for it.",
        new_x="LMARGIN",
        new_y="NEXT",
        align="L",
    )
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 14, "Stepstone Demo Team - CC-BY-4.0", new_x="LMARGIN", new_y="NEXT", align="L")
    if pdf.page_no() != 1:
        raise SystemExit("checklist no longer fits on one page")
    pdf.output(str(out_dir / "safety-checklist.pdf"))


def make_pngs(out_dir: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    big = ImageFont.truetype(str(FONT_BOLD), 22)
    small = ImageFont.truetype(str(FONT), 18)
    ink, fill, empty, line = (20, 20, 20), (74, 144, 226), (255, 255, 255), (40, 40, 40)

    # Fraction bars: one whole bar, then halves, quarters (3 shaded), eighths (3 shaded)
    w, h = 580, 300
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    rows = [(1, 1, "1 whole"), (2, 1, "1/2"), (4, 3, "3/4"), (8, 3, "3/8")]
    x0, bar_w, bar_h = 20, 400, 50
    for r, (parts, shaded, label) in enumerate(rows):
        y = 20 + r * 68
        for i in range(parts):
            xa = x0 + round(i * bar_w / parts)
            xb = x0 + round((i + 1) * bar_w / parts)
            d.rectangle(
                [xa, y, xb, y + bar_h], fill=fill if i < shaded else empty, outline=line, width=3
            )
        d.text((x0 + bar_w + 20, y + bar_h // 2), label, font=big, fill=ink, anchor="lm")
    img.quantize(colors=16, dither=Image.Dither.NONE).save(
        out_dir / "fraction-bars.png", optimize=True
    )

    # Percent grid: 10 x 10 squares, 25 shaded
    w, h = 420, 400
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    cell, gx, gy = 32, 50, 20
    for i in range(100):
        r, c = divmod(i, 10)
        xa, ya = gx + c * cell, gy + r * cell
        d.rectangle(
            [xa, ya, xa + cell, ya + cell], fill=fill if i < 25 else empty, outline=line, width=2
        )
    d.text(
        (w // 2, gy + 10 * cell + 30),
        "25 of 100 squares = 25% = 1/4 = 0.25",
        font=small,
        fill=ink,
        anchor="mm",
    )
    img.quantize(colors=16, dither=Image.Dither.NONE).save(
        out_dir / "percent-grid.png", optimize=True
    )


def make_narration(root: Path) -> list[Path]:
    """Every demo course's lessons read aloud into ``<course>/narration/``. Into
    ``courses/`` only what is missing or out of date is made; into another folder (a
    check) every lesson is made, from a copy of the course."""
    from content.package.narrate import narrate_course
    from content.package.speech import EspeakEngine

    outs: list[Path] = []
    for course in sorted(p for p in COURSES.iterdir() if (p / "course.yaml").is_file()):
        target = root / course.name
        if target.resolve() != course:
            shutil.copytree(
                course,
                target,
                dirs_exist_ok=True,
                # Made files are not copied: a check compares the ones it made.
                ignore=shutil.ignore_patterns("narration", "media", "apps", "scorm"),
            )
        narrate_course(target, EspeakEngine(), force=target.resolve() != course, opus=True)
        outs += sorted((target / "narration").iterdir())
    return outs


def build(root: Path) -> list[Path]:
    dirs = {
        name: root / name / "media" for name in ("everyday-math", "workplace-safety", "job-ready")
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "v").mkdir()
        (tmp / "a").mkdir()
        make_video(dirs["workplace-safety"], tmp / "v")
        make_audio(dirs["job-ready"], tmp / "a")
    make_pdf(dirs["workplace-safety"])
    make_pngs(dirs["everyday-math"])
    media = sorted(p for d in dirs.values() for p in d.iterdir() if p.is_file())
    apps = make_money_apps(root / "money-basics")
    return media + apps + make_narration(root)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--check",
        action="store_true",
        help="build into a temp dir and compare byte for byte with courses/",
    )
    ap.add_argument(
        "--narration",
        action="store_true",
        help="only make the narration of lessons whose text changed (no ffmpeg needed)",
    )
    args = ap.parse_args()
    if args.narration:
        make_money_apps(COURSES / "money-basics")  # the lessons name them: lint needs them
        for p in make_narration(COURSES):
            print(f"{p.stat().st_size:>8}  {p.relative_to(COURSES)}")
        return 0
    for tool in ("ffmpeg", "espeak-ng", "opusenc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y ffmpeg espeak-ng")
    if not FONT.exists():
        raise SystemExit("DejaVu fonts not found: apt-get install -y fonts-dejavu-core")
    if not args.check:
        for p in build(COURSES):
            print(f"{p.stat().st_size:>8}  {p.relative_to(COURSES)}")
        return 0
    with tempfile.TemporaryDirectory() as t:
        outs = build(Path(t))
        bad = 0
        for p in outs:
            rel = p.relative_to(t)
            same = (COURSES / rel).exists() and filecmp.cmp(p, COURSES / rel, shallow=False)
            bad += not same
            print(f"{'same' if same else 'DIFFERS'}  {rel}")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
