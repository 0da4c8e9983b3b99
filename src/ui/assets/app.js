// skillmeat-server UI glue: the refresh button, toasts, "last updated", live job events.
// Pages are server-rendered; htmx swaps the fragments; this file only adds what needs a script.
"use strict";

function showToast(message, kind, action) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const toast = document.createElement("div");
  toast.className = "toast" + (kind === "error" ? " error" : "");
  toast.setAttribute("role", kind === "error" ? "alert" : "status");
  const text = document.createElement("span");
  text.textContent = message;
  toast.appendChild(text);
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action.label;
    button.addEventListener("click", () => { toast.remove(); action.run(); });
    toast.appendChild(button);
  }
  box.appendChild(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 15000 : 5000);
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

async function waitForJob(id) {
  for (;;) {
    const response = await fetch("/api/v1/jobs/" + id);
    const job = await response.json();
    if (job.status === "succeeded" || job.status === "failed") return job;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

function relativeTime(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes + (minutes === 1 ? " minute ago" : " minutes ago");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours + (hours === 1 ? " hour ago" : " hours ago");
  const days = Math.floor(hours / 24);
  return days + (days === 1 ? " day ago" : " days ago");
}

function renderLastUpdated() {
  const el = document.getElementById("last-updated");
  if (el) el.textContent = "Last updated " + relativeTime(el.dataset.at);
}

async function loadCacheStatus() {
  const response = await fetch("/api/v1/cache/status");
  if (!response.ok) return;
  const status = await response.json();
  const el = document.getElementById("last-updated");
  if (el) { el.dataset.at = status.last_refresh_at || ""; renderLastUpdated(); }
  const syncing = document.getElementById("syncing");
  if (syncing) syncing.hidden = !status.refreshing || refreshing;
}

let refreshing = false;

async function refreshCollections() {
  const button = document.getElementById("refresh-button");
  if (!button || refreshing) return;
  refreshing = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.classList.add("spinning");
  try {
    const accepted = await postJson("/api/v1/cache/refresh", {});
    const job = await waitForJob(accepted.job.id);
    if (job.status !== "succeeded") throw new Error(job.error || "the refresh failed");
    htmx.trigger(document.body, "collections-refreshed");
    await loadCacheStatus();
    showToast("Collections refreshed");
  } catch (err) {
    showToast("Refresh failed: " + err.message, "error", { label: "Retry", run: refreshCollections });
  } finally {
    refreshing = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.classList.remove("spinning");
  }
}

async function refreshNow() {
  try {
    const accepted = await postJson("/api/v1/cache/refresh", {});
    showToast((accepted.deduplicated ? "A refresh is already queued" : "Refresh queued") + " (job " + accepted.job.id + ")");
    htmx.trigger(document.body, "jobs-changed");
  } catch (err) {
    showToast("Could not queue a refresh: " + err.message, "error", { label: "Retry", run: refreshNow });
  }
}

async function retryJob(id) {
  try {
    const accepted = await postJson("/api/v1/jobs/" + id + "/retry", {});
    showToast("Retry queued (job " + accepted.job.id + ")");
    htmx.trigger(document.body, "jobs-changed");
  } catch (err) {
    showToast("Could not retry job " + id + ": " + err.message, "error");
  }
}

async function undeploy(button) {
  if (!window.confirm("Undeploy " + button.dataset.label + "? Its files are removed from the project.")) return;
  const response = await fetch("/api/v1/deployments/" + button.dataset.undeploy, { method: "DELETE" });
  if (response.ok) {
    showToast("Undeployed " + button.dataset.label);
    htmx.trigger(document.body, "deployments-changed");
  } else {
    const data = await response.json().catch(() => ({}));
    showToast("Could not undeploy: " + (data.detail || response.statusText), "error");
  }
}

async function updateDeployment(id, force) {
  try {
    await postJson("/api/v1/deployments/" + id + "/update" + (force ? "?force=true" : ""), {});
    showToast("Updated to the latest version");
    htmx.trigger(document.body, "deployments-changed");
  } catch (err) {
    showToast("Could not update: " + err.message, "error",
      force ? undefined : { label: "Update anyway", run: () => updateDeployment(id, true) });
  }
}

async function deploy(form) {
  const body = { artifact_id: form.artifact_id.value.trim(), project_path: form.project_path.value.trim() };
  try {
    const deployment = await postJson("/api/v1/deployments", body);
    showToast("Deployed " + deployment.artifact_id);
    htmx.trigger(document.body, "deployments-changed");
  } catch (err) {
    showToast("Could not deploy: " + err.message, "error");
  }
}

function listenToEvents() {
  if (!window.EventSource) return;
  const events = new EventSource("/api/v1/events");
  events.addEventListener("deployment.status_changed", () => htmx.trigger(document.body, "deployments-changed"));
  const onJob = (event) => {
    const data = JSON.parse(event.data);
    htmx.trigger(document.body, "jobs-changed");
    if (data.job_kind === "refresh" || data.job_kind === "warm") {
      const syncing = document.getElementById("syncing");
      if (syncing) syncing.hidden = event.type !== "job.started" || refreshing;
      if (event.type === "job.finished" && !refreshing && document.getElementById("items")) {
        htmx.trigger(document.body, "collections-refreshed");
        loadCacheStatus();
      }
    }
  };
  events.addEventListener("job.started", onJob);
  events.addEventListener("job.finished", onJob);
  window.addEventListener("beforeunload", () => events.close());
}

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("refresh-button");
  if (button) {
    button.addEventListener("click", refreshCollections);
    // On the collections page Ctrl+R / Cmd+R refreshes the collections, not the browser page.
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "r") {
        event.preventDefault();
        refreshCollections();
      }
    });
    loadCacheStatus();
    setInterval(renderLastUpdated, 60000);
  }
  const refreshNowButton = document.getElementById("refresh-now");
  if (refreshNowButton) refreshNowButton.addEventListener("click", refreshNow);
  document.body.addEventListener("click", (event) => {
    const retry = event.target.closest("[data-retry-job]");
    if (retry) retryJob(retry.dataset.retryJob);
    const remove = event.target.closest("[data-undeploy]");
    if (remove) undeploy(remove);
    const update = event.target.closest("[data-update-deployment]");
    if (update) updateDeployment(update.dataset.updateDeployment, false);
  });
  // The collections view (grid, list, grouped) is remembered in this browser.
  const view = document.getElementById("view");
  if (view) {
    const saved = localStorage.getItem("skillmeat.view");
    if (saved && saved !== view.value && [...view.options].some((o) => o.value === saved)) {
      view.value = saved;
      htmx.trigger(document.getElementById("filters"), "change");
    }
    view.addEventListener("change", () => localStorage.setItem("skillmeat.view", view.value));
  }
  const addForm = document.getElementById("add-collection-form");
  if (addForm) addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await postJson("/api/v1/user-collections", { name: addForm.elements.namedItem("name").value.trim() });
      window.location.href = "/?collection=" + encodeURIComponent(created.id);
    } catch (err) {
      showToast("Could not create the collection: " + err.message, "error");
    }
  });
  const deployForm = document.getElementById("deploy-form");
  if (deployForm) deployForm.addEventListener("submit", (event) => { event.preventDefault(); deploy(deployForm); });
  listenToEvents();
});
