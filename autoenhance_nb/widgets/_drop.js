// The drop zone's page side (autoenhance_nb/widgets/_drop.py), loaded by anywidget from
// the package (no CDN). It builds its elements with createElement and sets text with
// textContent only: no string (a file name included) ever becomes markup.
// Files go to the kernel as binary buffers, one message per chunk of at most CHUNK bytes,
// so a 15 MB photo never meets the server's 10 MiB websocket message limit. No byte goes
// before the kernel takes the drop ("ack" with received 0, or "refused" with its reason),
// and at most WINDOW bytes go unanswered, so a whole shoot never piles into the socket.

export const CHUNK = 2 * 1024 * 1024;
export const WINDOW = 4 * CHUNK;
/** Seconds without an answer before the zone says it waits for the kernel. */
const QUIET = 3;
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

const heardOf = new WeakMap();

/** What the kernel said of the batches this view sends: bytes it holds ("ack"), or why
 * it stopped one. Each view has its own (anywidget gives each view its own model). */
function answers(model) {
  if (heardOf.has(model)) return heardOf.get(model);
  const state = { got: new Map(), mine: new Set(), wake: new Set(), closed: false };
  model.on("msg:custom", (msg) => {
    if (!msg || !state.mine.has(msg.batch)) return; // another view's, or over
    if (msg.kind !== "ack" && msg.kind !== "refused") return;
    const now = state.got.get(msg.batch) || { received: -1, refused: null };
    if (msg.kind === "ack") now.received = Math.max(now.received, msg.received);
    else now.refused = msg.reason || "";
    state.got.set(msg.batch, now);
    for (const wake of [...state.wake]) wake();
  });
  heardOf.set(model, state);
  return state;
}

/** The view is going away: every send it started stops at its next wait. */
export function close(model) {
  const state = heardOf.get(model);
  if (!state) return;
  state.closed = true;
  for (const wake of [...state.wake]) wake();
}

/** Wait until `ready()` says what the kernel answered is enough; `onQuiet` is told
 * after QUIET seconds without an answer. */
function until(state, ready, onQuiet) {
  return new Promise((resolve) => {
    let timer = null;
    const check = () => {
      const done = ready();
      if (done === undefined) return;
      state.wake.delete(check);
      clearTimeout(timer);
      resolve(done);
    };
    state.wake.add(check);
    timer = setTimeout(() => onQuiet && onQuiet(), QUIET * 1000);
    check();
  });
}

/** Send the photos among `files` to the kernel: a "batch" message naming them, then
 * (once the kernel takes it) each file's bytes in chunks ("chunk": batch, file index,
 * offset; one buffer), never more than WINDOW unanswered. `progress(sent, total, note)`
 * follows it. Returns how many photos went, or the kernel's reason for refusing. */
export async function send(model, files, progress = () => {}) {
  const state = answers(model);
  const photos = files.filter(isPhoto);
  const skipped = files.filter((f) => !isPhoto(f)).map((f) => f.name);
  const batch = `${Date.now()}-${++batches}`;
  const total = photos.reduce((n, f) => n + f.size, 0);
  const heard = () => {
    if (state.closed) return { received: -1, refused: "" }; // the view went away
    return state.got.get(batch) || { received: -1, refused: null };
  };
  const quiet = () => progress(-1, total, "waiting for the kernel");
  state.mine.add(batch);
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
  // true once the kernel's answer is `enough`, false once it refused, else undefined
  const answered = (enough) => () => {
    const now = heard();
    if (now.refused !== null) return false;
    return enough(now.received) ? true : undefined;
  };
  const refused = () => ({ sent: 0, refused: heard().refused });
  let sent = 0;
  try {
    if (!(await until(state, answered((got) => got >= 0), quiet))) return refused();
    for (const [index, file] of photos.entries()) {
      let offset = 0;
      do {
        const room = answered((got) => sent - got < WINDOW);
        if (!(await until(state, room, quiet))) return refused();
        const piece = await file.slice(offset, offset + CHUNK).arrayBuffer();
        model.send({ kind: "chunk", batch, file: index, offset }, undefined, [piece]);
        offset += piece.byteLength;
        sent += piece.byteLength;
        progress(sent, total, "");
      } while (offset < file.size);
    }
    // every byte held by the kernel (its last answers), then the drop is done
    if (!(await until(state, answered((got) => got >= total), quiet))) return refused();
    return { sent: photos.length, refused: null };
  } finally {
    state.mine.delete(batch);
    state.got.delete(batch);
  }
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
  let done = "";
  let refusal = "";
  const show = () => {
    const n = model.get("count");
    count.textContent = sending ? ` (sending ${sending}…${done})` : ` (${n})`;
    zone.title = refusal || model.get("hint");
    clear.hidden = n === 0 && !sending; // Clear also stops a drop on its way
  };
  const go = async (files) => {
    sending += files.length;
    refusal = "";
    show();
    try {
      const outcome = await send(model, files, (sent, total, note) => {
        done = note ? ` ${note}` : total ? ` ${Math.floor((100 * sent) / total)}%` : "";
        show();
      });
      refusal = outcome.refused || "";
    } finally {
      sending = Math.max(0, sending - files.length);
      done = "";
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
    close(model);
  };
}

export default { render };
