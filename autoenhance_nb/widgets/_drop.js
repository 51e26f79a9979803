// The drop zone's page side (autoenhance_nb/widgets/_drop.py), loaded by anywidget from
// the package (no CDN). It builds its elements with createElement and sets text with
// textContent only: no string (a file name included) ever becomes markup.
// Files go to the kernel as binary buffers, one message per chunk of at most CHUNK bytes,
// so a 15 MB photo never meets the server's 10 MiB websocket message limit.

export const CHUNK = 2 * 1024 * 1024;
const PHOTO = /\.(jpe?g|png|tiff?|webp|heic|heif|avif|bmp|gif|dng|cr2|cr3|crw|nef|nrw|arw|srf|sr2|raf|orf|rw2|pef|srw|raw|rwl|3fr|fff|iiq|mos|erf|kdc|dcr|x3f)$/i;
export const ACCEPT = "image/*,.dng,.cr2,.cr3,.crw,.nef,.nrw,.arw,.srf,.sr2,.raf,.orf,.rw2,.pef,.srw,.raw,.rwl,.3fr,.fff,.iiq,.mos,.erf,.kdc,.dcr,.x3f,.heic,.heif";

export function isPhoto(file) {
  return (file.type || "").startsWith("image/") || PHOTO.test(file.name);
}

function readAll(reader) {
  // readEntries answers in batches (100 in Chromium) until an empty one
  return new Promise((resolve, reject) => {
    const all = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (!batch.length) return resolve(all);
        all.push(...batch);
        next();
      }, reject);
    next();
  });
}

/** The files under these FileSystemEntry objects (folders walked to the bottom),
 * as [path, File] pairs. */
export async function walk(entries) {
  const found = [];
  for (const entry of entries) {
    if (!entry) continue;
    if (entry.isDirectory) {
      found.push(...(await walk(await readAll(entry.createReader()))));
    } else if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      found.push([entry.fullPath || file.name, file]);
    }
  }
  return found;
}

const byPath = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** What a drop holds: its files, and the files in its folders; sorted by path. Must be
 * called during the drop event (the items are emptied once it returns). */
export function dropped(dataTransfer) {
  const items = [...(dataTransfer.items || [])].filter((i) => i.kind === "file");
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  const files = [...(dataTransfer.files || [])];
  if (!entries.some((e) => e && e.isDirectory)) {
    return Promise.resolve(files.map((f) => [f.name, f]).sort(byPath).map((p) => p[1]));
  }
  return walk(entries).then((pairs) => pairs.sort(byPath).map((p) => p[1]));
}

let batches = 0;

/** Send the photos among `files` to the kernel: a "batch" message naming them, then
 * each file's bytes in chunks ("chunk": batch, file index, offset; one buffer). */
export async function send(model, files) {
  const photos = files.filter(isPhoto);
  const skipped = files.filter((f) => !isPhoto(f)).map((f) => f.name);
  const batch = `${Date.now()}-${++batches}`;
  model.send({
    kind: "batch",
    batch,
    files: photos.map((f) => ({
      name: f.name,
      type: f.type,
      size: f.size,
      last_modified: f.lastModified,
    })),
    skipped,
  });
  for (const [index, file] of photos.entries()) {
    let offset = 0;
    do {
      const piece = await file.slice(offset, offset + CHUNK).arrayBuffer();
      model.send({ kind: "chunk", batch, file: index, offset }, undefined, [piece]);
      offset += piece.byteLength;
    } while (offset < file.size);
  }
  return photos.length;
}

function render({ model, el }) {
  el.classList.add("ae-drop");
  const zone = document.createElement("button");
  zone.type = "button";
  zone.className = "ae-drop-zone";
  const label = document.createElement("span");
  label.className = "ae-drop-label";
  label.textContent = "Drop photos here or click to choose";
  const count = document.createElement("span");
  count.className = "ae-drop-count";
  zone.append(label, count);
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "ae-drop-clear";
  clear.textContent = "Clear";
  clear.title = "Forget the chosen photos";
  const input = document.createElement("input");
  input.type = "file";
  input.multiple = true;
  input.accept = ACCEPT;
  input.hidden = true;
  input.className = "ae-drop-input";
  el.append(zone, clear, input);

  let sending = 0;
  const show = () => {
    const n = model.get("count");
    count.textContent = sending ? ` (sending ${sending}…)` : ` (${n})`;
    zone.title = model.get("hint");
    clear.hidden = n === 0;
  };
  const go = async (files) => {
    sending += files.length;
    show();
    try {
      await send(model, files);
    } finally {
      sending = Math.max(0, sending - files.length);
      show();
    }
  };
  zone.addEventListener("click", () => {
    input.value = "";
    input.click();
  });
  input.addEventListener("change", () => go([...input.files]));
  clear.addEventListener("click", () => model.send({ kind: "clear" }));
  const over = (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    zone.classList.add("ae-over");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", () => zone.classList.remove("ae-over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("ae-over");
    if (e.dataTransfer) dropped(e.dataTransfer).then(go);
  });
  model.on("change:count", show);
  model.on("change:hint", show);
  show();
  return () => {
    model.off("change:count", show);
    model.off("change:hint", show);
  };
}

export default { render };
