/* medcite web page: asks POST /v1/answer and lays the structured answer out (no framework, no CDN).
 *
 * The conversation is kept in memory: each follow-up sends the earlier exchanges as `turns`
 * ({question, answer, cited_chunk_ids}) so medcite resolves "and in adults?" against them.
 * Every piece of answer text is inserted with textContent, never as HTML.
 */
"use strict";

const MAX_TURNS = 20;
const MAX_TURN_CHARS = 20000;

const state = { conversation: [], busy: false, seq: 0, retry: null };
const KEY_STORE = "medcite-api-key";

/* ------------------------------------------------------------------ the API key (servers with query keys) */
/** The key this tab uses for /v1/ requests: typed into the key form, kept in sessionStorage (this tab only). */
function apiKey() {
  try { return window.sessionStorage.getItem(KEY_STORE) || ""; } catch (_) { return ""; }
}

function setApiKey(key) {
  try {
    if (key) window.sessionStorage.setItem(KEY_STORE, key); else window.sessionStorage.removeItem(KEY_STORE);
  } catch (_) { /* storage blocked: the key is not kept */ }
}

/** fetch() for /v1/ routes: sends the tab's key when one is set; on 401/403 shows the key form. */
async function apiFetch(url, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const key = apiKey();
  if (key && !headers.Authorization) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(url, { ...options, headers });
  if ((response.status === 401 || response.status === 403) && !options.noKeyForm) showKeyForm(Boolean(key));
  return response;
}

function showKeyForm(refused) {
  const form = $("key-form");
  if (!form) return;
  form.hidden = false;
  $("key-message").textContent = refused ? "The server refused this key. Enter another one."
    : "This server asks for an API key. Enter the key you were given.";
  $("api-key").focus();
}

function $(id) { return document.getElementById(id); }

/** Create an element with optional class names, text and attributes. */
function el(tag, opts = {}, children = []) {
  const node = document.createElement(tag);
  if (opts.cls) node.className = opts.cls;
  if (opts.text !== undefined) node.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.attrs || {})) node.setAttribute(k, v);
  for (const child of children) if (child) node.append(child);
  return node;
}

function audience() {
  const picked = document.querySelector('input[name="audience"]:checked');
  return picked ? picked.value : "clinician";
}

/* ------------------------------------------------------------------ conversation -> turns */
function answerText(answer) {
  if (answer.abstained) return answer.abstain_reason || "";
  const parts = [];
  if (answer.bottom_line) parts.push(answer.bottom_line.text);
  for (const section of answer.sections) for (const st of section.statements) parts.push(st.text);
  return parts.join("\n").slice(0, MAX_TURN_CHARS);
}

function citedChunkIds(answer) {
  const ids = [];
  for (const ref of answer.references) for (const id of (ref.chunk_ids.length ? ref.chunk_ids : [ref.chunk_id])) {
    if (!ids.includes(id)) ids.push(id);
  }
  return ids.slice(0, 50);
}

function turns() {
  return state.conversation.slice(-MAX_TURNS).map((x) => ({
    question: x.question, answer: answerText(x.answer), cited_chunk_ids: citedChunkIds(x.answer),
  }));
}

/* ------------------------------------------------------------------ errors */
async function readableError(response) {
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  const detail = body && (body.error && body.error.message || (typeof body.detail === "string" ? body.detail : null));
  switch (response.status) {
    case 422: case 400: return `Please check your question: ${detail || "the request was not valid"}.`;
    case 503:
      return `medcite is still loading its index and model (${detail || "loading"}). Try again in a few seconds.`;
    case 401: case 403: return `This server requires an API key for questions (${detail || response.statusText}).`;
    case 429: return `Too many questions at once: ${detail || "please wait a moment"}.`;
    case 413: return "The question is too long for this server.";
    default: return `The server answered ${response.status}${detail ? ": " + detail : ""}.`;
  }
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setBusy(busy, question) {
  state.busy = busy;
  for (const id of ["ask-button", "followup-button"]) $(id).disabled = busy;
  $("thread").setAttribute("aria-busy", String(busy));
  $("status").textContent = busy ? `Searching the indexed guidelines for: ${question}` : "";
  const old = document.querySelector(".loading-card");
  if (old) old.remove();
  if (busy) {
    const card = el("div", { cls: "card loading-card", attrs: { "aria-hidden": "true" } }, [
      el("div", { cls: "spinner" }), el("p", { cls: "loading-text", text: "Searching the indexed guidelines…" }),
      el("div", { cls: "skeleton wide" }), el("div", { cls: "skeleton" }), el("div", { cls: "skeleton short" }),
    ]);
    $("thread").append(card);
  }
}

/* ------------------------------------------------------------------ asking */
async function ask(question, keepConversation) {
  question = (question || "").trim();
  if (state.busy) return;
  if (!question) { showError("Type a question first."); return; }
  showError("");
  if (!keepConversation) { state.conversation = []; $("thread").replaceChildren(); }
  const payload = { question, audience: audience(), turns: keepConversation ? turns() : [] };
  setBusy(true, question);
  let answer = null;
  try {
    const response = await apiFetch("/v1/answer", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
    });
    if (!response.ok) {
      if (response.status === 401 || response.status === 403) state.retry = { question, keepConversation };
      showError(await readableError(response));
      return;
    }
    answer = await response.json();
  } catch (err) {
    showError(`Could not reach the medcite server (${err.message}). Is it running?`);
    return;
  } finally {
    setBusy(false, question);
  }
  const seq = ++state.seq;
  state.conversation.push({ question, answer, seq });
  const card = renderAnswer(answer, seq, payload);
  $("thread").append(card);
  $("followup-form").hidden = false;
  $("status").textContent = answer.abstained ? "No answer from the indexed sources." : "Answer ready.";
  card.querySelector(".asked").focus();
}

/* ------------------------------------------------------------------ rendering */
function citations(numbers, seq) {
  const sup = el("sup", { cls: "cites" });
  for (const n of [...new Set(numbers)].sort((a, b) => a - b)) {
    const link = el("a", { cls: "cite", text: String(n),
      attrs: { href: `#ref-${seq}-${n}`, "aria-label": `Reference ${n}`, "data-ref": `ref-${seq}-${n}` } });
    sup.append(link);
  }
  return sup;
}

function statementLine(tag, statement, seq, cls) {
  return el(tag, { cls }, [document.createTextNode(statement.text + " "), citations(statement.citations, seq),
    statement.grade ? el("span", { cls: "grade", text: statement.grade, attrs: { title: "Evidence grade stated by the source" } }) : null]);
}

function referenceItem(ref, seq) {
  const title = /^https?:\/\//i.test(ref.url)
    ? el("a", { cls: "ref-title", text: ref.title,
      attrs: { href: ref.url, target: "_blank", rel: "noopener noreferrer" } })
    : el("span", { cls: "ref-title", text: ref.title });
  const meta = [ref.issuer, ref.date || ref.year || "undated", ref.pages.length ? (ref.pages.length === 1 ? `p. ${ref.pages[0]}`
    : `pp. ${ref.pages[0]}–${ref.pages[ref.pages.length - 1]}`) : "", ref.section ? `§ ${ref.section}` : ""]
    .filter(Boolean).join(" · ");
  const typeCls = "badge badge-" + ref.type.toLowerCase().replace(/[^a-z]+/g, "-");
  const item = el("li", { cls: "ref", attrs: { id: `ref-${seq}-${ref.n}`, tabindex: "-1", value: String(ref.n) } }, [
    el("span", { cls: "ref-n", text: `${ref.n}.`, attrs: { "aria-hidden": "true" } }),
    el("div", { cls: "ref-body" }, [
      el("span", { cls: typeCls, text: ref.type }), title,
      meta ? el("span", { cls: "ref-meta", text: meta }) : null,
      ref.possibly_superseded ? el("span", { cls: "badge badge-stale", text: "May be superseded",
        attrs: { title: `About ${Math.round(ref.age_years)} years old: check for a current version` } }) : null,
      ref.status ? el("span", { cls: "ref-meta ref-status", text: ref.status }) : null,
      ref.grades && ref.grades.length ? el("span", { cls: "ref-meta", text: `Grades: ${ref.grades.join("; ")}` }) : null,
      ref.url && !/^https?:\/\//i.test(ref.url) ? el("span", { cls: "ref-meta", text: ref.url }) : null,
      el("details", { cls: "ref-passage" }, [
        el("summary", { text: "Cited passage" }), el("blockquote", { text: ref.passage })]),
    ]),
  ]);
  return item;
}

/** The answer card; `payload` (the request that produced it) lets the review side offer "keep this answer". */
function renderAnswer(answer, seq, payload) {
  const reviewSide = window.medciteReview;  // review.js: status line, keep, feedback
  const card = el("article", { cls: "card answer", attrs: { "aria-labelledby": `asked-${seq}` } });
  const audienceLabel = answer.audience === "patient" ? "For patients" : "For healthcare professionals";
  card.append(el("div", { cls: "answer-head" }, [
    el("h2", { cls: "asked", text: answer.question, attrs: { id: `asked-${seq}`, tabindex: "-1" } }),
    el("span", { cls: "audience-tag", text: audienceLabel }),
  ]));
  if (answer.resolved_question && answer.resolved_question !== answer.question) {
    card.append(el("p", { cls: "resolved", text: `Searched as: ${answer.resolved_question}` }));
  }
  if (answer.safety_notice) {
    card.append(el("div", { cls: "safety", attrs: { role: "alert" } }, [
      el("strong", { text: "Safety notice" }), el("p", { text: answer.safety_notice })]));
  }
  if (answer.abstained) {
    const box = el("section", { cls: "abstain", attrs: { "aria-label": "No answer" } }, [
      el("h3", { text: "No answer from the indexed sources" }), el("p", { text: answer.abstain_reason || "" })]);
    if (answer.covered_topics.length) {
      box.append(el("p", { cls: "covered-label", text: "The indexed sources do cover related topics:" }),
        el("ul", { cls: "covered" }, answer.covered_topics.map((t) => el("li", { text: t }))));
    }
    card.append(box);
  } else if (answer.bottom_line) {
    card.append(el("section", { cls: "bottom-line", attrs: { "aria-label": "Bottom line" } }, [
      el("p", { cls: "eyebrow", text: "Bottom line" }),
      statementLine("p", answer.bottom_line, seq,
        answer.bottom_line.text.length > 160 ? "headline long" : "headline")]));
  }
  if (answer.currency_notice) {
    card.append(el("p", { cls: "currency", attrs: { role: "note" }, text: answer.currency_notice }));
  }
  if (answer.index && answer.index.partial && answer.index.notice) {  // served while the index is building
    card.append(el("p", { cls: "partial-index", attrs: { role: "note" }, text: answer.index.notice }));
  }
  if (reviewSide) { const line = reviewSide.statusLine(answer); if (line) card.append(line); }
  for (const section of answer.sections) {
    card.append(el("section", { cls: "answer-section" }, [
      el("h3", { text: section.heading }),
      el(section.ordered ? "ol" : "ul", { cls: section.ordered ? "steps" : "" },
        section.statements.map((st) => statementLine("li", st, seq))),
    ]));
  }
  if (answer.references.length) {
    card.append(el("section", { cls: "references" }, [
      el("h3", { text: "References" }),
      el("ol", { cls: "ref-list" }, answer.references.map((r) => referenceItem(r, seq)))]));
  }
  if (answer.related_questions.length) {
    card.append(el("section", { cls: "related" }, [
      el("h3", { text: "Related questions" }),
      el("ul", {}, answer.related_questions.map((q) => el("li", {}, [
        el("button", { cls: "related-question", text: q, attrs: { type: "button" } })]))),
    ]));
  }
  if (reviewSide) { const actions = reviewSide.actions(answer, seq, payload); if (actions) card.append(actions); }
  card.append(el("p", { cls: "disclaimer", text: answer.disclaimer }));
  return card;
}

function jumpToReference(link) {
  const target = document.getElementById(link.dataset.ref);
  if (!target) return;
  for (const old of document.querySelectorAll(".ref.highlight")) old.classList.remove("highlight");
  target.classList.add("highlight");
  target.focus({ preventScroll: true });
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  target.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "center" });
}

/* ------------------------------------------------------------------ wiring */
function init() {
  $("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask($("question").value, false); });
  $("question").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); ask($("question").value, false); }
  });
  $("followup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const box = $("followup");
    const q = box.value;
    ask(q, true).then(() => { if (!$("error").textContent) box.value = ""; });
  });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("api-key").value.trim();
    setApiKey(key);
    $("api-key").value = "";
    $("key-form").hidden = true;
    showError("");
    $("status").textContent = key ? "Key saved for this tab." : "Key removed.";
    const retry = state.retry;
    state.retry = null;
    const policy = window.medciteReview ? window.medciteReview.loadPolicy() : null;  // it needed the key too
    Promise.resolve(policy).then(() => { if (key && retry) ask(retry.question, retry.keepConversation); });
  });
  $("new-conversation").addEventListener("click", () => {
    state.conversation = [];
    $("thread").replaceChildren();
    $("followup-form").hidden = true;
    showError("");
    $("question").value = "";
    $("question").focus();
  });
  $("thread").addEventListener("click", (e) => {
    const cite = e.target.closest("a.cite");
    if (cite) { e.preventDefault(); jumpToReference(cite); return; }
    const related = e.target.closest("button.related-question");
    if (related) ask(related.textContent, true);
  });
}

document.addEventListener("DOMContentLoaded", init);
