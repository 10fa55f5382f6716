// Copies the front-end players from node_modules into the static folder the server
// serves (server/web/static/vendor/), so a tablet loads them from Stepstone itself.
// npm runs this after `npm ci --prefix frontend`; run it again with `npm --prefix frontend
// run vendor`. The folder is git-ignored: it is made from the pinned, integrity-checked
// packages in package-lock.json, never edited by hand.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const pdfjs = path.join(here, "node_modules", "pdfjs-dist");
const target = path.join(here, "..", "server", "web", "static", "vendor", "pdfjs");

// The legacy build: tablets on a closed network never update their browser, and this
// build runs on older Android Chrome versions than the modern one.
const FILES = {
  "legacy/build/pdf.min.mjs": "pdf.min.mjs",
  "legacy/build/pdf.worker.min.mjs": "pdf.worker.min.mjs",
  LICENSE: "LICENSE",
};
// Font data for PDFs that do not embed their fonts, and character maps for CJK text.
const FOLDERS = ["standard_fonts", "cmaps"];

// pdf_viewer.css styles a whole viewer (255 kB); the lesson needs only its text layer,
// the block from the first `.textLayer{` up to the annotation layer's rules.
function textLayerCss() {
  const css = fs.readFileSync(path.join(pdfjs, "web", "pdf_viewer.css"), "utf8");
  const start = css.indexOf(".textLayer{");
  const end = css.indexOf(".annotationLayer{", start);
  if (start < 0 || end < 0) {
    throw new Error("pdf_viewer.css has no text layer block where expected: check the pdfjs-dist version");
  }
  const license = css.slice(0, css.indexOf("*/") + 2);
  return `${license}\n/* The text layer rules of pdfjs-dist's web/pdf_viewer.css. */\n${css.slice(start, end)}`;
}

fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });
for (const [from, to] of Object.entries(FILES)) {
  fs.copyFileSync(path.join(pdfjs, from), path.join(target, to));
}
for (const folder of FOLDERS) {
  fs.cpSync(path.join(pdfjs, folder), path.join(target, folder), { recursive: true });
}
fs.writeFileSync(path.join(target, "text_layer.css"), textLayerCss());
const version = JSON.parse(fs.readFileSync(path.join(pdfjs, "package.json"), "utf8")).version;
fs.writeFileSync(path.join(target, "VERSION"), `pdfjs-dist ${version}\n`);
console.log(`pdf.js ${version} copied to server/web/static/vendor/pdfjs`);

// h5p-standalone: the H5P player for h5p lessons, run inside the sandbox (served under
// each lesson's own address by server/web/views/sandbox.py). Only its built files.
const h5p = path.join(here, "node_modules", "h5p-standalone");
const h5pTarget = path.join(here, "..", "server", "web", "static", "vendor", "h5p");
fs.rmSync(h5pTarget, { recursive: true, force: true });
fs.cpSync(path.join(h5p, "dist"), h5pTarget, {
  recursive: true,
  filter: (name) => !name.endsWith(".d.ts"),
});
fs.copyFileSync(path.join(h5p, "LICENSE"), path.join(h5pTarget, "LICENSE"));
const h5pVersion = JSON.parse(fs.readFileSync(path.join(h5p, "package.json"), "utf8")).version;
fs.writeFileSync(path.join(h5pTarget, "VERSION"), `h5p-standalone ${h5pVersion}\n`);
console.log(`h5p-standalone ${h5pVersion} copied to server/web/static/vendor/h5p`);
