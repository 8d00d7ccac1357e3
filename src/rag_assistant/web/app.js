// The web page of the assistant. Plain DOM, no build step. Every string that comes from a
// document or a file name is inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
// On AWS uploads and deletions finish in the background (S3 tells the indexer):
// awaiting holds uploads not yet listed as done, removing the deletions still listed.
const state = { config: null, cursor: null, sources: [], pollTimer: null, awaiting: new Map(), removing: new Map() };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// --- the API key ------------------------------------------------------------------------
// When the server asks for a key (/rag/config says which routes), the user types it once;
// it stays in this browser (localStorage of this origin), never in the page, and goes only
// to this API - not to S3 with presigned uploads.

const KEY_STORE = "rag-assistant-api-key";

function storedKey() {
  try { return localStorage.getItem(KEY_STORE) || ""; } catch { return ""; }
}

function keyHeaders() {
  const key = storedKey();
  const header = (state.config && state.config.auth && state.config.auth.header) || "X-Api-Key";
  return key ? { [header]: key } : {};
}

function showKeyForm(message) {
  const form = $("key-form");
  form.hidden = false;
  if (message) {
    form.classList.toggle("needed", !storedKey());
    $("key-status").textContent = message;
  } else if (storedKey()) {
    form.classList.remove("needed");
    $("key-status").textContent = "Key saved in this browser";
  }
}

function wireKeyForm() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    // fetch refuses a header beyond latin-1, and the server compares UTF-8 bytes: only an
    // ASCII key can work. Saved, any other would break every request, reads included.
    if (!/^[\x20-\x7e]+$/.test(key)) {
      showKeyForm("A browser cannot send this key: use ASCII letters, digits and punctuation (RAG_API_TOKEN)");
      return;
    }
    try { localStorage.setItem(KEY_STORE, key); } catch { /* private mode: this page only */ }
    $("api-key").value = "";
    showKeyForm();
    loadDocuments().catch(showListError);
  });
  $("key-forget").addEventListener("click", () => {
    try { localStorage.removeItem(KEY_STORE); } catch { /* nothing stored */ }
    showKeyForm("Key forgotten");
  });
}

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

function failure(status, body) {
  const message = body && body.error ? body.error.message : `HTTP ${status}`;
  if (status === 401) showKeyForm("This needs the API key: enter it above");
  return new ApiError(message, status);
}

// Paths are relative ("rag/query"): the page works at / locally and under /prod/ on AWS.
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...keyHeaders() };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 204) return null;
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) throw failure(response.status, body);
  return body;
}

// --- asking ---------------------------------------------------------------------------

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const button = $("ask-button");
  button.disabled = true;
  button.textContent = "Thinking…";
  $("ask-error").hidden = true;
  $("source-detail").hidden = true;
  try {
    const result = await api("rag/query", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, top_k: Number($("top-k").value) }),
    });
    showAnswer(result);
  } catch (error) {
    $("answer").hidden = true;
    $("ask-error").textContent = error.message;
    $("ask-error").hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Ask";
  }
}

function showAnswer(result) {
  state.sources = result.sources;
  $("answer-generator").textContent = result.answered ? result.generator : "not in the documents";
  $("answer-timing").textContent = `${Math.round(result.timings_ms.total || 0)} ms`;
  // A fallback answered (the LLM failed, or no key): say why, next to the answer.
  $("answer-notice").textContent = result.notice || "";
  $("answer-notice").hidden = !result.notice;
  const text = $("answer-text");
  text.replaceChildren();
  // Turn each [n] into a button that opens source n, when the answer cites n: a quoted
  // sentence keeps its document's own reference marks ("[2]"), which name no source of ours.
  const parts = result.answer.split(/(\[\d+\])/);
  for (const part of parts) {
    const match = /^\[(\d+)\]$/.exec(part);
    const source = match && result.sources.find((s) => s.number === Number(match[1]) && s.cited);
    if (source) {
      const cite = el("button", { type: "button", class: "cite", textContent: part, "data-n": match[1] });
      cite.title = `${source.file_name}${source.page ? `, page ${source.page}` : ""}`;
      cite.addEventListener("click", () => openSource(source));
      text.append(cite);
    } else {
      text.append(part);
    }
  }
  const list = $("sources");
  list.replaceChildren();
  for (const source of result.sources) {
    const used = Boolean(source.cited || source.quote);
    const item = el("li", { class: used ? "used" : "unused", value: source.number },
      el("span", { class: "file", textContent: source.file_name }),
      where(source) ? ` — ${where(source)}` : "",
      " ", el("span", { class: "score", textContent: `score ${source.score.toFixed(3)}` }));
    item.addEventListener("click", () => openSource(source));
    list.append(item);
  }
  const heading = $("sources").previousElementSibling;
  heading.hidden = result.sources.length === 0;
  heading.textContent = result.answered ? "Sources" : "Closest passages (not relevant enough to answer)";
  $("answer").hidden = false;
}

function where(source) {
  const bits = [];
  if (source.page) {
    bits.push(source.page_end && source.page_end !== source.page
      ? `pages ${source.page}–${source.page_end}` : `page ${source.page}`);
  }
  if (source.heading) bits.push(`§ ${source.heading}`);
  return bits.join(", ");
}

function openSource(source) {
  $("detail-title").textContent = `[${source.number}] ${source.file_name}`;
  $("detail-where").textContent = [where(source), `score ${source.score.toFixed(3)}`].filter(Boolean).join(" · ");
  const box = $("detail-text");
  box.replaceChildren(...highlighted(source.snippet, source.quote));
  $("source-detail").hidden = false;
  $("source-detail").scrollIntoView({ block: "nearest" });
}

function highlighted(text, quote) {
  const pieces = (quote || "").split(" … ").map((q) => q.trim()).filter((q) => q.length > 0);
  const ranges = [];
  for (const piece of pieces) {
    const at = text.indexOf(piece);
    if (at >= 0) ranges.push([at, at + piece.length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const nodes = [];
  let cursor = 0;
  for (const [start, end] of ranges) {
    if (start < cursor) continue;
    nodes.push(text.slice(cursor, start), el("mark", { textContent: text.slice(start, end) }));
    cursor = end;
  }
  nodes.push(text.slice(cursor));
  return nodes;
}

// --- documents --------------------------------------------------------------------------

async function loadDocuments(append = false) {
  const params = new URLSearchParams({ limit: "20" });
  if (append && state.cursor) params.set("cursor", state.cursor);
  const page = await api(`rag/documents?${params}`);
  const body = $("documents").tBodies[0];
  if (!append) body.replaceChildren();
  for (const doc of page.documents) body.append(documentRow(doc));
  state.cursor = page.next_cursor;
  $("documents-more").hidden = !page.next_cursor;
  $("documents-empty").textContent = "No documents yet: drop a file above.";
  $("documents-empty").hidden = body.children.length > 0;
  const processing = page.documents.some((d) => d.status === "processing");
  for (const doc of page.documents) {
    if (doc.status !== "processing") state.awaiting.delete(doc.document_id);
  }
  const listedIds = new Set(page.documents.map((d) => d.document_id));
  for (const id of state.removing.keys()) {
    if (!listedIds.has(id)) state.removing.delete(id);
  }
  for (const pending of [state.awaiting, state.removing]) {
    for (const [id, since] of pending) {
      if (Date.now() - since > 300000) pending.delete(id);  // give up after 5 minutes
    }
  }
  clearTimeout(state.pollTimer);
  if (processing || state.awaiting.size > 0 || state.removing.size > 0) {
    state.pollTimer = setTimeout(() => loadDocuments().catch(showListError), processing ? 3000 : 1500);
  }
}

function documentRow(doc) {
  const remove = el("button", { type: "button", textContent: "Delete", class: "delete" });
  remove.setAttribute("aria-label", `Delete ${doc.file_name}`);
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete ${doc.file_name} from the index?`)) return;
    try {
      const result = await api(`rag/documents/${encodeURIComponent(doc.document_id)}`, { method: "DELETE" });
      // 204 locally (gone); 202 on AWS (the object is gone, the index follows in a moment).
      if (result && result.status === "deleting") state.removing.set(doc.document_id, Date.now());
      await loadDocuments();
    } catch (error) {
      alert(error.message);
    }
  });
  const name = el("td", {}, el("span", { class: "file", textContent: doc.file_name }));
  if (doc.error) name.append(el("div", { class: "doc-error", textContent: doc.error }));
  return el("tr", { "data-document-id": doc.document_id },
    name,
    el("td", state.removing.has(doc.document_id) ? { class: "status-processing", textContent: "deleting" }
      : { class: `status-${doc.status}`, textContent: doc.status }),
    el("td", { class: "num", textContent: String(doc.chunk_count) }),
    el("td", { class: "num", textContent: doc.page_count ? String(doc.page_count) : "" }),
    el("td", {}, remove));
}

// --- uploads ----------------------------------------------------------------------------

function uploadFiles(files) {
  for (const file of files) uploadOne(file);
}

function uploadOne(file) {
  const progress = el("progress", { max: 100, value: 0 });
  const message = el("div", { class: "msg", textContent: "Uploading…" });
  const item = el("li", {}, el("span", { class: "file", textContent: file.name }), progress, message);
  $("uploads").prepend(item);
  const fail = (text) => {
    message.textContent = text;
    message.classList.add("bad");
    progress.value = 0;
  };
  const accepted = (state.config && state.config.accepted_types) || [".pdf", ".txt", ".md", ".markdown"];
  const suffix = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
  if (!accepted.includes(suffix)) return fail(`Unsupported type; accepted: ${accepted.join(" ")}`);
  if (state.config && file.size > state.config.max_upload_bytes) {
    return fail(`Too large: the limit is ${(state.config.max_upload_bytes / 1048576).toFixed(0)} MB`);
  }
  const onProgress = (event) => {
    if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    if (event.loaded === event.total) message.textContent = "Indexing…";
  };
  const done = (text) => {
    progress.value = 100;
    message.textContent = text;
    loadDocuments();
  };
  if (state.config && state.config.upload_mode === "presigned") {
    presignedUpload(file, onProgress).then(() => done("Uploaded; indexing in the background"), (e) => fail(e.message));
  } else {
    directUpload(file, onProgress).then(
      (result) => done(result.outcome === "unchanged" ? "Already indexed (unchanged)" :
        `Indexed: ${result.document.chunk_count} chunks`),
      (e) => fail(e.message));
  }
}

function send(method, url, body, onProgress, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", onProgress);
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* empty or XML body */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else if (xhr.status === 412) reject(new Error("the upload URL was already used; upload the file again"));
      else reject(failure(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new Error("network error")));
    xhr.send(body);
  });
}

function directUpload(file, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name);
  return send("POST", "rag/documents", form, onProgress, keyHeaders());
}

async function presignedUpload(file, onProgress) {
  const target = await api("rag/documents/upload-url", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ file_name: file.name, content_type: file.type || "application/octet-stream", size_bytes: file.size }),
  });
  // Straight to S3 with the signed headers only: the API key never leaves for another origin.
  await send("PUT", target.url, file, onProgress, target.headers || {});
  state.awaiting.set(target.document_id, Date.now());
}

// --- start ------------------------------------------------------------------------------

function wireDropzone() {
  const zone = $("dropzone");
  const input = $("file-input");
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
  input.addEventListener("change", () => { uploadFiles(input.files); input.value = ""; });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.remove("over"); });
  }
  zone.addEventListener("drop", (e) => uploadFiles(e.dataTransfer.files));
}

async function start() {
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("ask-form").requestSubmit();
  });
  $("detail-close").addEventListener("click", () => { $("source-detail").hidden = true; });
  $("documents-more").addEventListener("click", () => loadDocuments(true));
  wireDropzone();
  wireKeyForm();
  const listed = loadDocuments().catch(showListError);
  try {
    state.config = await api("rag/config");
    $("server-info").textContent = `Embedding: ${state.config.embedding_model} · Answers: ${state.config.generator}`;
    $("accepted-types").textContent = `${state.config.accepted_types.join(" · ")} · up to ${(state.config.max_upload_bytes / 1048576).toFixed(0)} MB`;
    if (state.config.auth && state.config.auth.scope !== "none") showKeyForm();
  } catch (error) {
    $("server-info").textContent = `Server unreachable: ${error.message}`;
  }
  await listed;
}

function showListError(error) {
  $("documents").tBodies[0].replaceChildren();
  $("documents-empty").textContent = error.message;
  $("documents-empty").hidden = false;
}

document.addEventListener("DOMContentLoaded", start);
