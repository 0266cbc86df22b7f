/* medcite page: the index-build banner. While a background build runs (first run: keyword stage, then the
   semantic stage), /readyz reports its stage and progress; the banner shows them and hides once the index is
   complete. Text only (textContent), no HTML from the server. */
"use strict";

(function () {
  const STAGES = { lexical: "keyword index", dense: "semantic index" };
  const STEPS = { load: "reading documents", chunk: "splitting passages", embed: "embedding sentences",
    write: "writing the index" };

  function minutes(seconds) {
    if (seconds == null) return "";
    return seconds < 90 ? `about ${Math.max(1, Math.round(seconds))} s left` : `about ${Math.round(seconds / 60)} min left`;
  }

  function describe(status, body) {
    const build = body.build;
    const building = build && build.state === "building";
    if (status === 503 && !body.ready) {
      if (!building) return null;
      return { title: "Building the index", detail: `${STAGES[build.stage] || "index"}: ${STEPS[build.step] || "starting"}` +
        (build.total ? `, ${Math.round(100 * build.done / build.total)}%` : "") +
        ". Answers start as soon as the keyword index is ready.", fraction: build.total ? build.done / build.total : 0 };
    }
    if (body.partial) {
      const parts = [];
      if (building && build.stage === "dense") {
        parts.push(`${STEPS[build.step] || "starting"}` + (build.total ? ` (${build.done.toLocaleString()} of ` +
          `${build.total.toLocaleString()}, ${Math.round(100 * build.done / build.total)}%)` : ""));
        const eta = minutes(build.eta_s);
        if (eta) parts.push(eta);
      }
      return { title: "Semantic index still building",
        detail: `Answers now come from keyword search only. ${parts.join(", ")}`.trim(),
        fraction: building && build.total ? build.done / build.total : 0 };
    }
    return null;
  }

  async function poll() {
    let again = 5000;
    try {
      const response = await fetch("/readyz", { cache: "no-store" });
      const body = await response.json();
      const view = describe(response.status, body);
      const banner = document.getElementById("build-banner");
      if (!banner) return;
      banner.hidden = !view;
      if (view) {
        document.getElementById("build-title").textContent = view.title;
        document.getElementById("build-detail").textContent = view.detail;
        document.getElementById("build-bar").value = view.fraction;
        again = 3000;
      } else if (body.ready) {
        return;  // complete: stop polling
      }
    } catch (e) {
      again = 5000;  // the server is starting or gone: try again later
    }
    setTimeout(poll, again);
  }

  document.addEventListener("DOMContentLoaded", poll);
})();
