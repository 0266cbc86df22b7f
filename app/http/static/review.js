/* medcite web page, review side (issue 14): review status lines, "keep this answer", feedback, the article page
 * (/a/{id}) and the reviewer view (/review). Loaded after app.js and uses its helpers (el, $, renderAnswer,
 * readableError). Every piece of text is inserted with textContent, never as HTML; the reviewer key stays in memory.
 */
"use strict";

const review = { policy: null, key: "" };
const TRANSITION_LABELS = { under_review: "Start review", approved: "Approve", changes_requested: "Request changes",
  needs_re_review: "Needs re-review" };
const REASONS = [["wrong", "Wrong"], ["outdated", "Outdated"], ["unsupported", "Not supported by the cited source"]];

function isoDay(text) { return text ? String(text).slice(0, 10) : ""; }

async function loadPolicy() {
  try {
    const response = await apiFetch("/v1/review/policy", { noKeyForm: true });
    if (response.ok) review.policy = await response.json();
  } catch (_) { /* the page works without it: no keep button */ }
}

/** Statements feedback can point at, in the server's order: bottom line, then each section's. */
function answerStatements(answer) {
  const out = answer.bottom_line ? [answer.bottom_line] : [];
  for (const section of answer.sections) out.push(...section.statements);
  return out;
}

/* ------------------------------------------------------------------ status line (after the bottom line) */
function reviewStatusLine(answer) {
  if (!answer.review_notice) return null;
  const info = answer.review;
  const approved = info && info.status === "approved";
  const box = el("div", { cls: "review-status" + (approved ? " approved" : " pending"),
    attrs: { role: "note", "data-status": info ? info.status : "unreviewed" } });
  if (info) {
    box.append(el("span", { cls: "review-label", text: `Review status: ${info.label}` }));
  }
  box.append(el("span", { cls: "review-line", text: answer.review_notice }));
  if (info) {
    const meta = [`Last updated ${isoDay(info.updated_at)}`];
    if (info.served_from_article && info.article_question && info.article_question !== answer.question) {
      meta.push(`Published answer to: ${info.article_question}`);
    }
    box.append(el("span", { cls: "review-meta", text: meta.join(" · ") }),
      el("a", { cls: "review-link", text: "Article page", attrs: { href: info.url } }));
  }
  return box;
}

/* ------------------------------------------------------------------ keep + feedback (before the disclaimer) */
function reviewActions(answer, seq, payload) {
  if (answer.abstained) return null;
  const box = el("section", { cls: "review-actions", attrs: { "aria-label": "Review and feedback" } });
  const info = answer.review;
  if (!info) {
    if (!payload || !review.policy || review.policy.store_answers !== "opt_in") return null;
    const keep = el("button", { cls: "keep-answer", text: "Keep this answer for review", attrs: { type: "button" } });
    const note = el("p", { cls: "hint", text: "Stores your question and this answer on this server so that a medical " +
      "reviewer can check it. Do not keep questions that contain patient details." });
    keep.addEventListener("click", () => keepAnswer(keep, payload, seq));
    box.append(keep, note);
    return box;
  }
  const said = el("p", { cls: "feedback-done", attrs: { role: "status", "aria-live": "polite" } });
  const rate = el("div", { cls: "rate" }, [el("span", { text: "Was this answer helpful?" })]);
  for (const [kind, label] of [["helpful", "Helpful"], ["not_helpful", "Not helpful"]]) {
    const button = el("button", { cls: "rate-button", text: label, attrs: { type: "button", "data-kind": kind } });
    button.addEventListener("click", async () => {
      const ok = await sendFeedback(info.article_id, { kind }, said);
      if (ok) for (const b of rate.querySelectorAll("button")) b.disabled = true;
    });
    rate.append(button);
  }
  box.append(rate, reportForm(answer, info, said), said);
  return box;
}

function reportForm(answer, info, said) {
  const statements = answerStatements(answer);
  const details = el("details", { cls: "report" }, [el("summary", { text: "Report a problem with a statement" })]);
  if (!statements.length) return details;
  const id = `report-${info.article_id}-${Math.random().toString(36).slice(2, 8)}`;
  const which = el("select", { attrs: { id: `${id}-statement` } }, statements.map((st, i) =>
    el("option", { text: `${i + 1}. ${st.text.length > 90 ? st.text.slice(0, 89) + "…" : st.text}`,
      attrs: { value: String(i) } })));
  const reason = el("select", { attrs: { id: `${id}-reason` } },
    REASONS.map(([value, label]) => el("option", { text: label, attrs: { value } })));
  const note = el("input", { attrs: { id: `${id}-note`, type: "text", maxlength: "2000", autocomplete: "off",
    placeholder: "What is wrong? (optional; no patient details)" } });
  const send = el("button", { cls: "send-report", text: "Send report", attrs: { type: "button" } });
  send.addEventListener("click", async () => {
    const ok = await sendFeedback(info.article_id, { kind: "report", statement_index: Number(which.value),
      reason: reason.value, note: note.value.trim() }, said);
    if (ok) { note.value = ""; details.open = false; }
  });
  details.append(
    el("label", { text: "Statement", attrs: { for: which.id } }), which,
    el("label", { text: "Problem", attrs: { for: reason.id } }), reason,
    el("label", { text: "Note", attrs: { for: note.id } }), note, send);
  return details;
}

async function sendFeedback(articleId, body, said) {
  try {
    const response = await apiFetch(`/v1/articles/${encodeURIComponent(articleId)}/feedback`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) { said.textContent = await readableError(response); return false; }
  } catch (err) { said.textContent = `Could not reach the server (${err.message}).`; return false; }
  said.textContent = body.kind === "report" ? "Thank you: your report goes to the reviewers."
    : "Thank you for your feedback.";
  return true;
}

async function keepAnswer(button, payload, seq) {
  button.disabled = true;
  const card = button.closest("article.answer");
  try {
    const response = await apiFetch("/v1/articles", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    if (!response.ok) { showError(await readableError(response)); button.disabled = false; return; }
    const stored = await response.json();
    const entry = state.conversation.find((x) => x.seq === seq);
    if (entry) entry.answer = stored;
    const fresh = renderAnswer(stored, seq, null);
    card.replaceWith(fresh);
    $("status").textContent = "Answer kept for review.";
    const line = fresh.querySelector(".review-status");
    if (line) { line.setAttribute("tabindex", "-1"); line.focus(); }
  } catch (err) {
    showError(`Could not reach the medcite server (${err.message}).`);
    button.disabled = false;
  }
}

/* ------------------------------------------------------------------ the article page: /a/{id} */
async function showArticle(articleId) {
  $("status").textContent = "Loading the article…";
  let response;
  try {
    response = await apiFetch(`/v1/articles/${encodeURIComponent(articleId)}`);
  } catch (err) { showError(`Could not reach the medcite server (${err.message}).`); return; }
  if (response.status === 404) { showError(`There is no article ${articleId} (unknown, or deleted by retention).`); return; }
  if (!response.ok) { showError(await readableError(response)); return; }
  const view = await response.json();
  const card = renderAnswer(view.answer, ++state.seq, null);
  card.classList.add("article-view");
  $("thread").replaceChildren(card);
  $("status").textContent = `Article ${view.id}: ${view.label}.`;
}

/* ------------------------------------------------------------------ the reviewer view: /review */
function reviewerHeaders() { return { Accept: "application/json", Authorization: `Bearer ${review.key}` }; }

async function reviewerFetch(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { ...reviewerHeaders(), ...(options.headers || {}) } });
  if (response.status === 401 || response.status === 403) {
    let message = "";
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(`The reviewer key was refused: ${message || response.statusText}`);
  }
  if (!response.ok) throw new Error(await readableError(response));
  return response.json();
}

function reviewerSay(text, isError) {
  const box = $("reviewer-message");
  box.textContent = text;
  box.classList.toggle("error-text", Boolean(isError));
}

async function loadQueue() {
  const list = $("queue");
  try {
    const items = await reviewerFetch("/v1/review/queue");
    list.replaceChildren(...items.map(queueItem));
    if (!items.length) list.append(el("li", { cls: "queue-empty", text: "The queue is empty: nothing waits for review." }));
    $("queue-count").textContent = `${items.length} article${items.length === 1 ? "" : "s"} waiting`;
  } catch (err) { reviewerSay(err.message, true); }
}

function queueItem(item) {
  const a = item.article;
  const li = el("li", { cls: "queue-item", attrs: { "data-article": a.id, "data-status": a.status } });
  const counts = `${item.reports} report${item.reports === 1 ? "" : "s"} · ${a.views} view${a.views === 1 ? "" : "s"}` +
    ` · ${item.helpful} helpful · ${item.not_helpful} not helpful`;
  li.append(
    el("div", { cls: "queue-head" }, [
      el("span", { cls: "queue-status", text: item.label }),
      el("span", { cls: "queue-question", text: a.question }),
    ]),
    el("p", { cls: "queue-meta", text: `${a.audience === "patient" ? "For patients" : "For healthcare professionals"}` +
      ` · ${counts} · updated ${isoDay(a.updated_at)}` }));
  const noteId = `note-${a.id}`;
  const note = el("textarea", { attrs: { id: noteId, rows: "2", maxlength: "2000",
    placeholder: "Note for the review history (why you approve or what must change)" } });
  const buttons = el("div", { cls: "queue-actions" });
  const publishId = `publish-${a.id}`;
  const publish = el("input", { attrs: { id: publishId, type: "text", maxlength: "2000", autocomplete: "off",
    spellcheck: "true", class: "publish-question" } });
  publish.value = a.question;
  for (const to of item.allowed_next) {
    const button = el("button", { cls: to === "approved" ? "primary" : "secondary", text: TRANSITION_LABELS[to] || to,
      attrs: { type: "button", "data-to": to } });
    button.addEventListener("click", () => transition(a, to, note.value.trim(), button,
      to === "approved" ? publish.value.trim() : null));
    buttons.append(button);
  }
  const show = el("button", { cls: "link-button", text: "Show the answer and its feedback", attrs: { type: "button" } });
  const detail = el("div", { cls: "queue-detail" });
  show.addEventListener("click", () => toggleDetail(a.id, detail, show));
  if (item.allowed_next.includes("approved")) {
    li.append(el("label", { text: "Published question (remove names, record numbers and other patient details)",
      attrs: { for: publishId } }), publish);
  }
  if (a.status === "approved" && item.reports) {
    li.append(el("p", { cls: "queue-reported", text: `Approved, and reported ${item.reports} time${item.reports === 1 ?
      "" : "s"} since: withdraw the approval (Start review) or mark it for re-review.` }));
  }
  li.append(el("label", { text: "Note", attrs: { for: noteId } }), note, buttons, show,
    el("a", { cls: "review-link", text: "Article page", attrs: { href: `/a/${a.id}` } }), detail);
  return li;
}

async function toggleDetail(articleId, detail, button) {
  if (detail.childElementCount) { detail.replaceChildren(); button.textContent = "Show the answer and its feedback"; return; }
  try {
    const [view, feedback] = await Promise.all([
      reviewerFetch(`/v1/articles/${encodeURIComponent(articleId)}`),
      reviewerFetch(`/v1/articles/${encodeURIComponent(articleId)}/feedback`)]);
    const statements = answerStatements(view.answer);
    const reports = feedback.filter((f) => f.kind === "report");
    const list = el("ul", { cls: "report-list" }, reports.map((f) => el("li", { text:
      `${f.reason}: ${f.statement_index === null ? "the whole answer" : `statement ${f.statement_index + 1} ` +
      `(“${(statements[f.statement_index] || { text: "?" }).text.slice(0, 80)}”)`}${f.note ? ` — ${f.note}` : ""}` })));
    detail.replaceChildren(el("h4", { text: reports.length ? "Reports" : "No reports" }), list,
      renderAnswer(view.answer, ++state.seq, null));
    button.textContent = "Hide the answer";
  } catch (err) { reviewerSay(err.message, true); }
}

async function transition(article, to, note, button, published) {
  button.disabled = true;
  const body = { to, note, expected_version: article.version };
  if (published !== null && published !== undefined) {
    if (!published) { reviewerSay("The published question cannot be empty.", true); button.disabled = false; return; }
    if (published !== article.question) body.question = published;
  }
  try {
    const updated = await reviewerFetch(`/v1/articles/${encodeURIComponent(article.id)}/review`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    reviewerSay(`${updated.label}: ${updated.question} — ${updated.review_line}`, false);
  } catch (err) { reviewerSay(err.message, true); }
  await loadQueue();
}

function showReviewer() {
  for (const id of ["ask-form", "followup-form", "thread"]) $(id).hidden = true;
  $("reviewer").hidden = false;
  $("reviewer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    review.key = $("reviewer-key").value.trim();
    if (!review.key) { reviewerSay("Enter your reviewer key first.", true); return; }
    reviewerSay("", false);
    loadQueue();
  });
  $("reviewer-key").focus();
}

/* ------------------------------------------------------------------ wiring */
window.medciteReview = { statusLine: reviewStatusLine, actions: reviewActions, loadPolicy };
document.addEventListener("DOMContentLoaded", () => {
  const path = window.location.pathname;
  const article = /^\/a\/([A-Za-z0-9_-]{1,40})$/.exec(path);
  loadPolicy();
  if (article) showArticle(article[1]);
  else if (path === "/review") showReviewer();
});
