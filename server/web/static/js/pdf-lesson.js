// The PDF lesson's viewer: pdf.js draws one page at a time into a canvas, with a text
// layer over it (real text, so the browser can find it and read it aloud), page buttons,
// zoom, and the learner's last page remembered on the server.
//
// Progressive enhancement: the page works without this file (the "Open the page" and
// "Download" links). Where pdf.js cannot load or cannot read the file, the viewer steps
// back and those links stay. The page the learner is on goes to the server as a
// "progressed" event whose position is the page number (learn.js sends it with the
// lesson's other events, through a dropped connection too).
const viewer = document.getElementById("pdf-viewer");

const ZOOMS = [0.75, 1, 1.25, 1.5, 2, 3];
// A canvas bigger than this is refused or kills the tab on cheap tablets.
const MAX_CANVAS_PIXELS = 4096 * 4096;
const SETTLE_MS = 1500;

function part(name) {
  return viewer.querySelector(`[data-pdf="${name}"]`);
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

async function start() {
  const status = part("page");
  const zoomLabel = part("zoom");
  const stage = part("stage");
  const sheet = part("sheet");
  const textBox = part("text");
  const toolbar = viewer.querySelector(".pdf-toolbar");
  const fallback = part("fallback");
  const buttons = {
    previous: part("previous"),
    next: part("next"),
    zoomIn: part("zoom-in"),
    zoomOut: part("zoom-out"),
  };
  status.textContent = viewer.dataset.loadingText;

  let pdfjs;
  let pdf;
  try {
    pdfjs = await import(viewer.dataset.lib);
    pdfjs.GlobalWorkerOptions.workerSrc = viewer.dataset.worker;
    pdf = await pdfjs.getDocument({
      url: viewer.dataset.src,
      withCredentials: true,
      standardFontDataUrl: viewer.dataset.fonts,
      cMapUrl: viewer.dataset.cmaps,
      cMapPacked: true,
      // The page policy allows no eval; without this pdf.js would try it and be refused.
      isEvalSupported: false,
      enableXfa: false,
    }).promise;
  } catch (error) {
    // The links below the viewer still open the file; say nothing alarming.
    status.textContent = "";
    console.warn("PDF viewer unavailable:", error);
    return;
  }

  const pages = pdf.numPages;
  const saved = parseInt(viewer.dataset.startPage || "1", 10);
  let current = saved >= 1 && saved <= pages ? saved : 1;
  let zoom = 1;
  let drawing = null; // { render, text } of the page being drawn, to cancel
  let sentPage = current;
  let settle = null;

  function fitScale(page) {
    // Zoom 100 % fits the page to the width of the stage.
    const width = page.getViewport({ scale: 1 }).width;
    const room = stage.clientWidth - 16;
    return room > 0 ? room / width : 1;
  }

  async function draw() {
    if (drawing) {
      drawing.render.cancel();
      if (drawing.text) { drawing.text.cancel(); }
    }
    const number = current;
    const page = await pdf.getPage(number);
    const viewport = page.getViewport({ scale: fitScale(page) * zoom });
    let ratio = window.devicePixelRatio || 1;
    if (viewport.width * viewport.height * ratio * ratio > MAX_CANVAS_PIXELS) {
      ratio = Math.sqrt(MAX_CANVAS_PIXELS / (viewport.width * viewport.height));
    }
    const next = document.createElement("canvas");
    next.setAttribute("aria-hidden", "true");
    next.width = Math.floor(viewport.width * ratio);
    next.height = Math.floor(viewport.height * ratio);
    next.style.width = `${Math.floor(viewport.width)}px`;
    next.style.height = `${Math.floor(viewport.height)}px`;
    const render = page.render({
      canvas: next,
      canvasContext: next.getContext("2d"),
      viewport,
      transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
    });
    drawing = { render, text: null };
    try {
      await render.promise;
    } catch (error) {
      if (error && error.name === "RenderingCancelledException") { return; }
      throw error;
    }
    if (number !== current) { return; }
    // Swap in the finished canvas: the old page stays on screen until the new one is drawn.
    sheet.style.setProperty("--scale-factor", String(viewport.scale));
    sheet.style.width = `${Math.floor(viewport.width)}px`;
    sheet.style.height = `${Math.floor(viewport.height)}px`;
    sheet.replaceChild(next, sheet.querySelector("canvas"));
    textBox.replaceChildren();
    const text = new pdfjs.TextLayer({
      textContentSource: page.streamTextContent(),
      container: textBox,
      viewport,
    });
    drawing.text = text;
    await text.render();
    if (number === current) { drawing = null; }
  }

  function show() {
    status.textContent = fill(viewer.dataset.pageText, { page: current, pages });
    zoomLabel.textContent = fill(viewer.dataset.zoomText, { percent: Math.round(zoom * 100) });
    buttons.previous.disabled = current <= 1;
    buttons.next.disabled = current >= pages;
    buttons.zoomOut.disabled = zoom <= ZOOMS[0];
    buttons.zoomIn.disabled = zoom >= ZOOMS[ZOOMS.length - 1];
    draw().catch((error) => console.warn("PDF page not drawn:", error));
  }

  function send(leaving) {
    window.clearTimeout(settle);
    if (current === sentPage) { return; }
    sentPage = current;
    document.dispatchEvent(new CustomEvent("stepstone:progress", {
      detail: { position: current, duration: pages, leaving },
    }));
  }

  function remember() {
    // One event once the learner stays on a page, not one per tap while leafing through.
    window.clearTimeout(settle);
    settle = window.setTimeout(() => send(false), SETTLE_MS);
  }

  function turn(step) {
    const target = Math.min(pages, Math.max(1, current + step));
    if (target === current) { return; }
    current = target;
    stage.scrollTop = 0;
    show();
    remember();
  }

  function scale(step) {
    const index = ZOOMS.indexOf(zoom) + step;
    if (index < 0 || index >= ZOOMS.length) { return; }
    zoom = ZOOMS[index];
    show();
  }

  buttons.previous.addEventListener("click", () => turn(-1));
  buttons.next.addEventListener("click", () => turn(1));
  buttons.zoomOut.addEventListener("click", () => scale(-1));
  buttons.zoomIn.addEventListener("click", () => scale(1));
  stage.addEventListener("keydown", (event) => {
    const keys = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 };
    if (event.key in keys && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      turn(keys[event.key]);
    } else if (event.key === "+" || event.key === "-") {
      event.preventDefault();
      scale(event.key === "+" ? 1 : -1);
    }
  });
  let width = stage.clientWidth;
  window.addEventListener("resize", () => {
    // A tablet turned on its side: fit the page to the new width.
    if (stage.clientWidth !== width) { width = stage.clientWidth; show(); }
  });
  // Leaving within the settle time: still remember the page.
  window.addEventListener("pagehide", () => send(true));

  fallback.hidden = true;
  toolbar.hidden = false;
  stage.hidden = false;
  show();
}

if (viewer) {
  start();
}
