"""What an SVG drawing may contain: named SVG elements and attributes, and CSS that loads nothing.

An SVG is a document that a browser runs, not just a picture. Besides script it can hold
elements of other namespaces (an XHTML ``<meta http-equiv="refresh">`` sends whoever opens
the picture to another address), links, and CSS that fetches files. A list of what is
forbidden misses what nobody thought of, so this check works the other way round: only
the SVG elements and attributes named here pass, and everything else refuses the file.

CSS is read with a real tokenizer (tinycss2, which follows the CSS Syntax spec the way a
browser does), so escapes such as ``@\\69mport`` or ``u\\72l(`` are undone before they are
judged. Every attribute value and the whole text of each ``<style>`` element are
tokenized; expat has already decoded character references such as ``&#x75;``. In that CSS
an address must point inside the drawing (``url(#id)``), functions come from a short list
(colours, transforms, filters, shapes) and only ``@media``, ``@supports`` and
``@keyframes`` rules are allowed.

Elements and attributes of a few drawing-program namespaces (Inkscape, Sodipodi, RDF, Dublin
Core, Creative Commons) are let through: a browser treats them as inert data, and refusing
them would refuse nearly every file saved by Inkscape. Anything inside them is still checked.

The file is refused, never rewritten: its bytes are what the publisher signed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.parsers import expat

import tinycss2
import tinycss2.ast

from content.errors import MediaTypeError

_CHUNK = 64 * 1024

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
EDITOR_NAMESPACES = frozenset(
    {
        "http://www.inkscape.org/namespaces/inkscape",
        "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "http://purl.org/dc/elements/1.1/",
        "http://creativecommons.org/ns#",
    }
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Lower case: SVG names are case-sensitive, so a differently cased name is an unknown,
# inert element to the browser; comparing in lower case only ever refuses more.
# Left out on purpose: script, foreignObject, image and feImage (they load or run other
# documents), cursor and font elements (they load files), tref and altGlyph (references
# to other documents) and everything HTML.
SVG_ELEMENTS = _names(
    """
    svg g defs symbol use switch view a title desc metadata style
    path rect circle ellipse line polyline polygon text tspan textpath
    lineargradient radialgradient stop pattern clippath mask marker
    filter feblend fecolormatrix fecomponenttransfer fecomposite feconvolvematrix
    fediffuselighting fedisplacementmap fedistantlight fedropshadow feflood
    fefunca fefuncb fefuncg fefuncr fegaussianblur femerge femergenode femorphology
    feoffset fepointlight fespecularlighting fespotlight fetile feturbulence
    animate animatemotion animatetransform mpath set
    """
)

# Presentation, geometry, filter and animation attributes (compare DOMPurify's SVG list).
# No event handlers, no target, no xml:base; href is allowed but must stay in the drawing.
SVG_ATTRIBUTES = _names(
    """
    accumulate additive alignment-baseline aria-describedby aria-hidden aria-label
    aria-labelledby attributename attributetype azimuth baseprofile basefrequency
    baseline-shift begin bias by calcmode class clip clip-path clip-rule clippathunits
    color color-interpolation color-interpolation-filters color-rendering cx cy d
    diffuseconstant direction display divisor dominant-baseline dur dx dy edgemode
    elevation enable-background end exponent fill fill-opacity fill-rule filter
    filterunits flood-color flood-opacity font-family font-size font-size-adjust
    font-stretch font-style font-variant font-weight fr from fx fy gradienttransform
    gradientunits height href id image-rendering in in2 intercept isolation k k1 k2 k3 k4
    kernelmatrix kernelunitlength keypoints keysplines keytimes lang lengthadjust
    letter-spacing lighting-color limitingconeangle marker-end marker-mid marker-start
    markerheight markerunits markerwidth mask mask-type maskcontentunits maskunits max
    media min mix-blend-mode mode numoctaves offset opacity operator order orient
    overflow paint-order pathlength patterncontentunits patterntransform patternunits
    points pointsatx pointsaty pointsatz preservealpha preserveaspectratio primitiveunits
    r radius refx refy repeatcount repeatdur restart result role rotate rx ry scale seed
    shape-rendering slope specularconstant specularexponent spreadmethod startoffset
    stddeviation stitchtiles stop-color stop-opacity stroke stroke-dasharray
    stroke-dashoffset stroke-linecap stroke-linejoin stroke-miterlimit stroke-opacity
    stroke-width style surfacescale systemlanguage tablevalues targetx targety
    text-anchor text-decoration text-rendering textlength to transform transform-origin
    type values vector-effect version viewbox visibility width word-spacing writing-mode
    x x1 x2 xchannelselector y y1 y2 ychannelselector z zoomandpan
    """
)
_NAMESPACED_ATTRIBUTES = frozenset({(XLINK_NS, "href"), (XLINK_NS, "title"), (XML_NS, "space")})
_ANIMATIONS = frozenset({"animate", "animatemotion", "animatetransform", "set"})

CSS_FUNCTIONS = _names(
    """
    rgb rgba hsl hsla hwb lab lch oklab oklch color color-mix calc min max clamp var
    matrix matrix3d translate translatex translatey translatez translate3d scale scalex
    scaley scalez scale3d rotate rotatex rotatey rotatez rotate3d skew skewx skewy
    perspective cubic-bezier steps linear linear-gradient radial-gradient conic-gradient
    repeating-linear-gradient repeating-radial-gradient repeating-conic-gradient
    blur brightness contrast drop-shadow grayscale hue-rotate invert opacity saturate
    sepia circle ellipse inset polygon path rect url
    """
)
CSS_AT_RULES = frozenset({"media", "supports", "keyframes"})


class SvgRefused(Exception):
    """Raised from the parser's handlers to stop at the first thing not allowed."""


def check_svg(path: Path, name: str) -> None:
    """Parse the SVG at ``path`` in a stream; raise :class:`MediaTypeError` unless it holds
    only allowed SVG elements, attributes and CSS (see the module docstring)."""
    with path.open("rb") as stream:
        _check(iter(lambda: stream.read(_CHUNK), b""), name)


def check_svg_bytes(data: bytes, name: str) -> None:
    """:func:`check_svg` for a drawing already in memory (a picture of a ZIM file)."""
    _check(iter([data]), name)


def _check(chunks: Iterable[bytes], name: str) -> None:
    parser = expat.ParserCreate(namespace_separator=" ")
    state = _SvgState()
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end
    parser.CharacterDataHandler = state.text
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.ProcessingInstructionHandler = _refuse_instruction
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except SvgRefused as exc:
        raise MediaTypeError(f"SVG refused: {exc}; remove it from the drawing", name) from exc
    except expat.ExpatError as exc:
        raise MediaTypeError(f"SVG is not well-formed XML ({exc}); export it again", name) from exc
    if not state.saw_root:
        raise MediaTypeError("file ends in .svg but has no <svg> element", name)


def _refuse_doctype(*_args: object) -> None:
    raise SvgRefused("it contains a DOCTYPE or entity declaration")


def _refuse_instruction(target: str, _data: str) -> None:
    raise SvgRefused(f"it contains a processing instruction <?{target}?>")


def _split(name: str) -> tuple[str, str]:
    """expat's ``"namespace local"`` into ``(namespace, local in lower case)``."""
    namespace, _, local = name.rpartition(" ")
    return namespace, local.lower()


class _SvgState:
    def __init__(self) -> None:
        self.stack: list[str] = []
        self.saw_root = False
        self.style_text: list[str] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        namespace, local = _split(tag)
        if not self.saw_root and (namespace, local) != (SVG_NS, "svg"):
            raise SvgRefused(
                f"the first element is <{local}>, not <svg> with "
                f'xmlns="{SVG_NS}" (export it as plain SVG)'
            )
        self.saw_root = True
        if self.stack and self.stack[-1] == "style":
            raise SvgRefused(f"its <style> contains a <{local}> element")
        if namespace in EDITOR_NAMESPACES:
            self.stack.append("")  # inert data of a drawing program; its children are checked
            return
        _check_element(namespace, local)
        for attr, value in attrs.items():
            _check_attribute(local, attr, value)
        self.stack.append(local)

    def end(self, _tag: str) -> None:
        if self.stack.pop() == "style":
            # The whole text at once: expat hands it over in pieces (at buffer ends,
            # character references and CDATA), and a piece alone could hide a rule.
            check_css("".join(self.style_text))
            self.style_text.clear()

    def text(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            self.style_text.append(data)


def _check_element(namespace: str, local: str) -> None:
    if namespace != SVG_NS:
        where = f"the namespace {namespace}" if namespace else "no namespace"
        raise SvgRefused(f"it contains a <{local}> element from {where}, not an SVG element")
    if local not in SVG_ELEMENTS:
        raise SvgRefused(f"it contains a <{local}> element, which a drawing may not have")


def _check_attribute(element: str, attr: str, value: str) -> None:
    namespace, local = _split(attr)
    shown = f"{namespace and namespace.rsplit('/', 1)[-1] + ':'}{local}"
    if local.startswith("on"):
        raise SvgRefused(f"<{element}> has an event handler '{shown}'")
    if namespace in EDITOR_NAMESPACES:
        return
    allowed = (namespace, local) in _NAMESPACED_ATTRIBUTES if namespace else _is_svg_attr(local)
    if not allowed:
        raise SvgRefused(f"<{element}> has the attribute '{shown}', which a drawing may not have")
    if local == "href" and not value.strip().startswith("#"):
        raise SvgRefused(f"<{element}> refers to '{value[:60]}' outside the drawing")
    if element in _ANIMATIONS and local == "attributename":
        target = value.strip().rpartition(":")[2].lower()
        if target == "href" or not _is_svg_attr(target):
            raise SvgRefused(f"<{element}> changes the attribute '{value[:40]}'")
    check_css(value)


def _is_svg_attr(local: str) -> bool:
    # data-* attributes are inert; drawing programs use them for layer names.
    return local in SVG_ATTRIBUTES or local.startswith("data-")


def check_css(css: str) -> None:
    """Raise :class:`SvgRefused` if CSS (a stylesheet or one value) loads or runs anything."""
    _check_tokens(tinycss2.parse_component_value_list(css))


def _check_tokens(tokens: Iterable[tinycss2.ast.Node]) -> None:
    for token in tokens:
        if isinstance(token, tinycss2.ast.ParseError):
            raise SvgRefused(f"its CSS cannot be read ({token.message})")
        if isinstance(token, tinycss2.ast.AtKeywordToken):
            if token.lower_value not in CSS_AT_RULES:
                raise SvgRefused(f"its CSS has an @{token.lower_value} rule")
        elif isinstance(token, tinycss2.ast.URLToken):
            _check_address(token.value)
        elif isinstance(token, tinycss2.ast.FunctionBlock):
            _check_function(token)
        elif isinstance(
            token,
            tinycss2.ast.CurlyBracketsBlock
            | tinycss2.ast.SquareBracketsBlock
            | tinycss2.ast.ParenthesesBlock,
        ):
            _check_tokens(token.content)


def _check_function(function: tinycss2.ast.FunctionBlock) -> None:
    if function.lower_name not in CSS_FUNCTIONS:
        raise SvgRefused(f"its CSS uses {function.lower_name}(), which a drawing may not use")
    if function.lower_name == "url":
        # url("…") with quotes is a function, not a URL token; anything but one string
        # (a var(), two strings) could be built into an address.
        values = [t for t in function.arguments if t.type not in ("whitespace", "comment")]
        if len(values) != 1 or not isinstance(values[0], tinycss2.ast.StringToken):
            raise SvgRefused("its CSS has a url() that is not a plain address")
        _check_address(values[0].value)
    _check_tokens(function.arguments)


def _check_address(address: str) -> None:
    if not address.strip().startswith("#"):
        raise SvgRefused(
            f"its CSS refers to '{address[:60]}', a file or address outside the drawing"
        )
