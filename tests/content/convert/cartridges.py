"""Common Cartridge exports written by the tests, shaped like Moodle's and Canvas's."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from tests.content.conftest import PNG
from tests.content.pdfs import tiny_pdf

CC = "http://www.imsglobal.org/xsd/imsccv1p3/imscp_v1p1"
LOM = "http://ltsc.ieee.org/xsd/imsccv1p3/LOM/resource"
QTI = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"


def _mattext(text: str, html: bool = False) -> str:
    kind = "text/html" if html else "text/plain"
    return f'<material><mattext texttype="{kind}">{escape(text)}</mattext></material>'


def _meta(profile: str) -> str:
    return (
        "<itemmetadata><qtimetadata><qtimetadatafield><fieldlabel>cc_profile</fieldlabel>"
        f"<fieldentry>{profile}</fieldentry></qtimetadatafield></qtimetadata></itemmetadata>"
    )


def _feedback(ident: str, text: str) -> str:
    return f'<itemfeedback ident="{ident}"><flow_mat>{_mattext(text)}</flow_mat></itemfeedback>'


def choice_item(
    ident: str,
    prompt: str,
    choices: list[tuple[str, str]],
    right: list[str],
    *,
    multiple: bool = False,
    feedback: dict[str, str] | None = None,
    general: str = "",
) -> str:
    """A multiple choice (or, with ``multiple``, multiple response) item."""
    profile = "cc.multiple_response.v0p1" if multiple else "cc.multiple_choice.v0p1"
    labels = "".join(
        f'<response_label ident="{i}">{_mattext(text)}</response_label>' for i, text in choices
    )
    card = "Multiple" if multiple else "Single"
    conditions = ""
    if general:
        conditions += (
            '<respcondition continue="Yes"><conditionvar><other/></conditionvar>'
            '<displayfeedback feedbacktype="Response" linkrefid="general_fb"/></respcondition>'
        )
    for i, _text in choices:
        if feedback and i in feedback:
            conditions += (
                f'<respcondition continue="Yes"><conditionvar><varequal respident="r">{i}'
                f'</varequal></conditionvar><displayfeedback feedbacktype="Response" '
                f'linkrefid="{i}_fb"/></respcondition>'
            )
    wanted = "".join(f'<varequal respident="r">{i}</varequal>' for i in right)
    unwanted = "".join(
        f'<not><varequal respident="r">{i}</varequal></not>' for i, _ in choices if i not in right
    )
    condition = f"<and>{wanted}{unwanted}</and>" if multiple else wanted
    conditions += (
        f'<respcondition continue="No"><conditionvar>{condition}</conditionvar>'
        '<setvar action="Set" varname="SCORE">100</setvar></respcondition>'
    )
    feedbacks = "".join(_feedback(f"{i}_fb", text) for i, text in (feedback or {}).items())
    if general:
        feedbacks += _feedback("general_fb", general)
    return (
        f'<item ident="{ident}" title="{ident}">{_meta(profile)}<presentation>'
        f"{_mattext(prompt, html=True)}"
        f'<response_lid ident="r" rcardinality="{card}"><render_choice>{labels}'
        f"</render_choice></response_lid></presentation><resprocessing><outcomes>"
        '<decvar maxvalue="100" minvalue="0" varname="SCORE" vartype="Decimal"/></outcomes>'
        f"{conditions}</resprocessing>{feedbacks}</item>"
    )


def true_false_item(ident: str, prompt: str, answer: bool) -> str:
    right = "t" if answer else "f"
    return (
        f'<item ident="{ident}" title="{ident}">{_meta("cc.true_false.v0p1")}<presentation>'
        f'{_mattext(prompt)}<response_lid ident="r" rcardinality="Single"><render_choice>'
        f'<response_label ident="t">{_mattext("True")}</response_label>'
        f'<response_label ident="f">{_mattext("False")}</response_label>'
        "</render_choice></response_lid></presentation><resprocessing>"
        f'<respcondition continue="No"><conditionvar><varequal respident="r">{right}'
        '</varequal></conditionvar><setvar action="Set" varname="SCORE">100</setvar>'
        "</respcondition></resprocessing></item>"
    )


def fill_in_item(ident: str, prompt: str, accepted: list[str]) -> str:
    answers = "".join(f'<varequal respident="r" case="No">{a}</varequal>' for a in accepted)
    return (
        f'<item ident="{ident}" title="{ident}">{_meta("cc.fib.v0p1")}<presentation>'
        f'{_mattext(prompt)}<response_str ident="r" rcardinality="Single"><render_fib/>'
        '</response_str></presentation><resprocessing><respcondition continue="No">'
        f'<conditionvar>{answers}</conditionvar><setvar action="Set" varname="SCORE">100'
        "</setvar></respcondition></resprocessing></item>"
    )


def other_item(ident: str, profile: str) -> str:
    return (
        f'<item ident="{ident}" title="{ident}">{_meta(profile)}<presentation>'
        f'{_mattext("Write about it.")}<response_str ident="r"><render_fib/></response_str>'
        "</presentation></item>"
    )


def qti(items: list[str], title: str, bank: bool = False) -> str:
    inner = "".join(items)
    body = (
        f'<objectbank ident="bank" title="{title}">{inner}</objectbank>'
        if bank
        else f'<assessment ident="a" title="{title}"><section ident="root">{inner}'
        "</section></assessment>"
    )
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{head}<questestinterop xmlns="{QTI}">{body}</questestinterop>'


QUIZ_ITEMS = [
    choice_item(
        "half",
        "<p>What is <b>1/2 + 1/4</b>?</p>",
        [("a", "3/4"), ("b", "2/6"), ("c", "1/8")],
        ["a"],
        feedback={"b": "Make the bottom numbers the same first."},
        general="Quarters: 2/4 + 1/4.",
    ),
    choice_item(
        "evens",
        "Which numbers are even?",
        [("a", "2"), ("b", "3"), ("c", "4")],
        ["a", "c"],
        multiple=True,
    ),
    true_false_item("tf", "A fraction can be bigger than 1.", answer=False),
    fill_in_item("fib", "Half of 10 is ___.", ["5", "five"]),
    other_item("essay", "cc.essay.v0p1"),
]
BANK_ITEMS = [
    choice_item("b1", "Pick 3.", [("a", "3"), ("b", "4")], ["a"]),
    other_item("pm", "cc.pattern_match.v0p1"),
]

WELCOME = """<html><head><title>Welcome</title><script>steal()</script></head><body>
<h2>Welcome to GED Math</h2>
<p>We start with <strong>fractions</strong>. Read <a href="fractions.html">the next page</a>
and see <a href="https://example.org/more">more online</a>.</p>
<p><img src="%24IMS-CC-FILEBASE%24/images/chart.png" alt="A bar chart of halves"></p>
<p><img src="https://tracker.example.com/pixel.gif" alt=""></p>
<script>alert(1)</script>
<ul><li>Halves</li><li>Quarters</li></ul>
</body></html>"""
FRACTIONS = "<html><body><h2>Fractions</h2><p>A fraction has two numbers.</p></body></html>"


def manifest(resources: str, items: str, title: str = "GED Math Basics") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="cc" xmlns="{CC}" xmlns:l="http://ltsc.ieee.org/xsd/imsccv1p3/LOM/manifest">
  <metadata><schema>IMS Common Cartridge</schema><schemaversion>1.3.0</schemaversion>
    <l:lom><l:general>
      <l:title><l:string>{title}</l:string></l:title>
      <l:language>en</l:language>
      <l:description><l:string>Fractions for the GED.</l:string></l:description>
    </l:general>
    <l:rights><l:description><l:string>CC-BY-4.0</l:string></l:description></l:rights>
    </l:lom></metadata>
  <organizations><organization identifier="org" structure="rooted-hierarchy">
    <item identifier="root">
    <item identifier="week1"><title>Week 1</title>{items}</item>
  </item></organization></organizations>
  <resources>{resources}</resources>
</manifest>"""


def _resource(ident: str, kind: str, href: str) -> str:
    inside = f'<file href="{href}"/>'
    return f'<resource identifier="{ident}" type="{kind}" href="{href}">{inside}</resource>'


def _item(ident: str, ref: str, title: str) -> str:
    return f'<item identifier="{ident}" identifierref="{ref}"><title>{title}</title></item>'


def full_cartridge() -> dict[str, bytes]:
    """Every kind of item a Moodle or Canvas course export has, with its files."""
    resources = "".join(
        [
            _resource("r_welcome", "webcontent", "wiki_content/welcome.html"),
            _resource("r_fractions", "webcontent", "wiki_content/fractions.html"),
            _resource("r_pdf", "webcontent", "web_resources/worksheet.pdf"),
            _resource("r_doc", "webcontent", "web_resources/notes.docx"),
            _resource("r_quiz", "imsqti_xmlv1p2/imscc_xmlv1p3/assessment", "quiz1/assessment.xml"),
            _resource("r_link", "imswl_xmlv1p3", "links/khan.xml"),
            _resource("r_talk", "imsdt_xmlv1p3", "talk/topic.xml"),
            _resource("r_lti", "imsbasiclti_xmlv1p0", "lti/tool.xml"),
            _resource("r_bank", "imsqti_xmlv1p2/imscc_xmlv1p3/question-bank", "bank/bank.xml"),
        ]
    )
    items = "".join(
        [
            _item("i1", "r_welcome", "Welcome"),
            _item("i2", "r_fractions", "Fractions"),
            _item("i3", "r_pdf", "Worksheet"),
            _item("i4", "r_doc", "Teacher notes"),
            _item("i5", "r_quiz", "Quiz 1"),
            _item("i6", "r_link", "Khan Academy"),
            _item("i7", "r_talk", "Introduce yourself"),
            _item("i8", "r_lti", "Publisher tool"),
        ]
    )
    return {
        "imsmanifest.xml": manifest(resources, items).encode(),
        "wiki_content/welcome.html": WELCOME.encode(),
        "wiki_content/fractions.html": FRACTIONS.encode(),
        "web_resources/images/chart.png": PNG,
        "web_resources/worksheet.pdf": tiny_pdf("Worksheet"),
        "web_resources/notes.docx": b"PK\x03\x04 not really",
        "quiz1/assessment.xml": qti(QUIZ_ITEMS, "Quiz 1").encode(),
        "links/khan.xml": (
            b'<webLink xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imswl_v1p3">'
            b'<title>Khan Academy</title><url href="https://www.khanacademy.org/math"/></webLink>'
        ),
        "talk/topic.xml": b"<topic><title>Introduce yourself</title></topic>",
        "lti/tool.xml": b"<cartridge_basiclti_link/>",
        "bank/bank.xml": qti(BANK_ITEMS, "Practice bank", bank=True).encode(),
    }


def write_imscc(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path
