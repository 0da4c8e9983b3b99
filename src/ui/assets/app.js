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
    if (job.status === "succeeded" || job.status === "failed" || job.status === "cancelled") return job;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

// The same words as the server's `relative` (ui/mod.rs), so a refreshed text never changes form.
function relativeTime(iso) {
  if (!iso) return "never";
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  const amount = Math.abs(seconds);
  if (amount < 60) return "just now";
  let n = Math.floor(amount / 86400), unit = "day";
  if (amount < 3600) { n = Math.floor(amount / 60); unit = "minute"; }
  else if (amount < 86400) { n = Math.floor(amount / 3600); unit = "hour"; }
  const text = n + " " + unit + (n === 1 ? "" : "s");
  return seconds < 0 ? "in " + text : text + " ago";
}

// Every server-rendered time says how long ago it was; the exact time is its tooltip.
function renderRelativeTimes() {
  document.querySelectorAll("time[data-relative]").forEach((el) => {
    el.textContent = relativeTime(el.getAttribute("datetime"));
  });
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

async function cancelJob(id) {
  try {
    const result = await postJson("/api/v1/jobs/" + id + "/cancel", {});
    showToast(result.outcome === "stopping" ? "Job " + id + " stops at its next step" : "Job " + id + " cancelled");
    htmx.trigger(document.body, "jobs-changed");
  } catch (err) {
    showToast("Could not cancel job " + id + ": " + err.message, "error");
  }
}

// Runs ticked on the job dashboard; kept across the table's live reloads.
const selectedJobs = new Set();

function renderJobSelection() {
  document.querySelectorAll("[data-select-job]").forEach((box) => { box.checked = selectedJobs.has(box.dataset.selectJob); });
  const count = document.getElementById("job-selected");
  if (count) count.textContent = selectedJobs.size + " selected";
  document.querySelectorAll("[data-job-batch][data-scope='selected']").forEach((b) => { b.disabled = selectedJobs.size === 0; });
}

// Retry or cancel the ticked runs, or every run matching the filters, after a confirmation
// that says how many.
async function jobBatch(button) {
  const action = button.dataset.jobBatch;
  let selection, count;
  if (button.dataset.scope === "selected") {
    selection = { ids: [...selectedJobs].map(Number) };
    count = selectedJobs.size;
  } else {
    const filters = document.getElementById("job-filters");
    const filter = {};
    const kind = filters.elements.namedItem("kind").value;
    const status = filters.elements.namedItem("status").value;
    if (kind) filter.kind = kind;
    if (status) filter.status = status;
    selection = { filter };
    const counted = document.getElementById("runs-count");
    count = Math.min(Number(counted ? counted.dataset.total : 0), 1000);
  }
  const verb = action === "retry" ? "Retry" : "Cancel";
  if (!window.confirm(verb + " " + count + (count === 1 ? " job?" : " jobs?") +
      (action === "retry" ? " Only failed and cancelled ones are queued again." : " Only queued and running ones are cancelled."))) return;
  try {
    const result = await postJson("/api/v1/jobs/" + action, selection);
    showToast((action === "retry" ? "Queued again: " : "Cancelled: ") + result.done.length + ", left alone: " + result.skipped.length);
    selectedJobs.clear();
    renderJobSelection();
    htmx.trigger(document.body, "jobs-changed");
  } catch (err) {
    showToast("Could not " + action + ": " + err.message, "error");
  }
}

async function toggleSchedule(box) {
  try {
    await send("PATCH", "/api/v1/schedules/" + encodeURIComponent(box.dataset.schedule), { paused: !box.checked });
    showToast((box.checked ? "Resumed " : "Paused ") + "the " + box.dataset.schedule + " schedule");
    htmx.trigger(document.body, "schedules-changed");
  } catch (err) {
    box.checked = !box.checked;
    showToast("Could not change the schedule: " + err.message, "error");
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

// Acting on drift from the diff view: each action says what it overwrites before it runs.
const DRIFT_QUESTIONS = {
  push: (d) => "Push the project copy of " + d.label + " into the collection " + d.collection +
    "? The collection's version is overwritten, and its other deployments become outdated.",
  merge: (d) => "Merge the collection's version of " + d.label + " into the project copy? " +
    "The project's edits are kept; the merged files replace the project copy.",
  take: (d) => "Replace the project copy of " + d.label + " with the collection's version? " +
    "The project's edits are lost.",
};

async function driftAction(button) {
  const d = button.dataset;
  const view = button.closest(".diff-view");
  if (!window.confirm(DRIFT_QUESTIONS[d.driftAction](d))) return;
  const base = "/api/v1/deployments/" + encodeURIComponent(d.deployment);
  try {
    if (d.driftAction === "merge") {
      await mergeDeployment(view, base, d.label, {});
      return;
    }
    if (d.driftAction === "push") {
      const result = await postJson(base + "/push", {});
      const outdated = result.other_deployments.filter((o) => o.status === "outdated").length;
      showToast(!result.pushed ? "Nothing to push: the collection already has this content"
        : "Pushed " + d.label + " into " + d.collection +
          (outdated ? "; " + outdated + (outdated === 1 ? " other deployment is" : " other deployments are") + " now outdated" : ""));
    } else {
      await postJson(base + "/update?force=true", {});
      showToast("Took the collection's version of " + d.label);
    }
    afterDriftAction(view);
  } catch (err) {
    showToast("Could not " + d.driftAction + ": " + err.message, "error");
  }
}

function afterDriftAction(view) {
  htmx.trigger(document.body, "deployments-changed");
  if (view && view.isConnected) htmx.ajax("GET", view.dataset.url, { target: view, swap: "outerHTML" });
}

async function mergeDeployment(view, base, label, resolve) {
  const response = await fetch(base + "/merge", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resolve }),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 409 && data.code === "merge_conflict") {
    showConflicts(view, base, label, data.conflicts);
    showToast("Both sides changed the same lines: choose a side per file", "error");
    return;
  }
  if (!response.ok) throw new Error(data.detail || response.statusText);
  const merged = data.files.filter((f) => f.outcome !== "unchanged").length;
  showToast("Merged the collection's version of " + label + " (" + merged + (merged === 1 ? " file" : " files") + " changed)");
  afterDriftAction(view);
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// The files a merge could not combine, with both sides of each overlap and a choice per file.
function showConflicts(view, base, label, conflicts) {
  const panel = view.querySelector(".merge-conflicts");
  panel.replaceChildren(element("h3", conflicts.length + (conflicts.length === 1 ? " file" : " files") + " changed on both sides"),
    element("p", "Nothing has been written. Choose, for each file, which side to keep.", "muted"));
  conflicts.forEach((c, i) => {
    const set = element("fieldset");
    const legend = element("legend");
    legend.append(element("code", c.path), ": " + c.reason);
    set.appendChild(legend);
    for (const h of c.hunks) {
      set.appendChild(element("p", "From line " + h.line + ":", "muted"));
      const pre = element("pre", undefined, "diff");
      for (const line of h.ours.split("\n").filter((l, n, all) => n < all.length - 1 || l)) pre.appendChild(element("span", "+ " + line + "\n", "add"));
      for (const line of h.theirs.split("\n").filter((l, n, all) => n < all.length - 1 || l)) pre.appendChild(element("span", "- " + line + "\n", "del"));
      set.appendChild(pre);
    }
    for (const [side, text] of [["ours", "Keep the project's (+)"], ["theirs", "Take the collection's (−)"]]) {
      const choice = element("label");
      const radio = element("input");
      Object.assign(radio, { type: "radio", name: "conflict-" + i, value: side });
      radio.dataset.path = c.path;
      choice.append(radio, " " + text);
      set.appendChild(choice);
    }
    panel.appendChild(set);
  });
  const go = element("button", "Merge with these choices");
  go.type = "button";
  go.addEventListener("click", async () => {
    const picked = [...panel.querySelectorAll("input[type=radio]:checked")];
    if (picked.length < conflicts.length) {
      showToast("Choose a side for every file", "error");
      return;
    }
    const resolve = Object.fromEntries(picked.map((r) => [r.dataset.path, r.value]));
    try {
      await mergeDeployment(view, base, label, resolve);
    } catch (err) {
      showToast("Could not merge: " + err.message, "error");
    }
  });
  panel.appendChild(go);
  panel.querySelector("input[type=radio]").focus();
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

// Whether the folder field names a folder deployments may go into; the server says why not.
async function checkFolder(form) {
  const input = form.elements.namedItem("project_path");
  const response = await fetch("/ui/deploy/check-folder?project_path=" + encodeURIComponent(input.value.trim()));
  const holder = document.getElementById("folder-check");
  holder.outerHTML = await response.text();
  const check = document.getElementById("folder-check");
  return check && check.dataset.ok === "true" ? true : (check ? check.textContent : "cannot check the folder");
}

async function deploy(form) {
  const body = { artifact_id: form.artifact_id.value.trim() };
  const projectId = form.elements.namedItem("project_id").value;
  if (projectId) {
    body.project_id = projectId;
  } else {
    const ok = await checkFolder(form);
    if (ok !== true) { showToast("Could not deploy: " + ok, "error"); return; }
    body.project_path = form.elements.namedItem("project_path").value.trim();
  }
  try {
    const deployment = await postJson("/api/v1/deployments", body);
    showToast("Deployed " + deployment.artifact_id);
    htmx.trigger(document.body, "deployments-changed");
    htmx.trigger(document.body, "sources-changed");
  } catch (err) {
    showToast("Could not deploy: " + err.message, "error");
  }
}

async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.detail || response.statusText);
  }
  return response.status === 204 ? {} : response.json().catch(() => ({}));
}

async function saveCollection(form) {
  const body = {
    name: form.elements.namedItem("name").value.trim(),
    description: form.elements.namedItem("description").value.trim(),
  };
  try {
    await send("PUT", "/api/v1/user-collections/" + encodeURIComponent(form.dataset.collection), body);
    window.location.reload();
  } catch (err) {
    showToast("Could not save the collection: " + err.message, "error");
  }
}

async function deleteCollection(button) {
  const d = button.dataset;
  if (!window.confirm("Delete the collection " + d.name + "? Its " + d.groups + " groups and " + d.artifacts +
    " memberships go; the artifacts, their files and their deployments are kept.")) return;
  try {
    await send("DELETE", "/api/v1/user-collections/" + encodeURIComponent(d.collection));
    window.location.href = "/";
  } catch (err) {
    showToast("Could not delete the collection: " + err.message, "error");
  }
}

// Removes artifacts from the collection on show (and from its groups); they stay in the sources.
async function removeMembers(ids, label) {
  const bar = document.getElementById("bulk-bar");
  if (!bar || !window.confirm("Remove " + label + " from this collection? The artifacts stay in the sources and in other collections.")) return false;
  try {
    for (const id of ids) {
      await send("DELETE", "/api/v1/user-collections/" + encodeURIComponent(bar.dataset.collection) + "/artifacts/" + encodeURIComponent(id));
    }
    showToast("Removed " + label + " from the collection");
    htmx.trigger(document.body, "collections-refreshed");
    htmx.trigger(document.body, "groups-changed");
    return true;
  } catch (err) {
    showToast("Could not remove: " + err.message, "error");
    return false;
  }
}

async function saveGroup(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = {
    name: value("name"),
    description: value("description"),
    color: value("color"),
    icon: value("icon"),
    tags: value("tags").split(",").map((t) => t.trim()).filter((t) => t),
  };
  try {
    await send("PUT", "/api/v1/groups/" + form.dataset.groupEdit, body);
    groupsChanged("Group saved");
  } catch (err) {
    showToast("Could not save the group: " + err.message, "error");
  }
}

async function copyGroup(form) {
  const target = form.elements.namedItem("target");
  try {
    const copy = await send("POST", "/api/v1/groups/" + form.dataset.groupCopy + "/copy", { target_collection_id: target.value });
    showToast("Copied as " + copy.name + " to " + target.options[target.selectedIndex].textContent);
  } catch (err) {
    showToast("Could not copy the group: " + err.message, "error");
  }
}

async function addSearchRoot(form) {
  const input = form.elements.namedItem("path");
  try {
    const added = await send("POST", "/api/v1/search-roots", { path: input.value.trim() });
    const n = added.projects_found.length;
    showToast("Searching " + added.root.path + ": " + n + (n === 1 ? " new project" : " new projects") + " found");
    htmx.trigger(document.body, "sources-changed");
    htmx.trigger(document.body, "deployments-changed");
  } catch (err) {
    showToast("Could not add the folder: " + err.message, "error");
  }
}

async function removeSearchRoot(button) {
  if (!window.confirm("Stop searching " + button.dataset.path + "? Projects found there stay.")) return;
  try {
    await send("DELETE", "/api/v1/search-roots/" + button.dataset.removeRoot);
    showToast("No longer searching " + button.dataset.path);
    htmx.trigger(document.body, "sources-changed");
  } catch (err) {
    showToast("Could not remove the folder: " + err.message, "error");
  }
}

async function registerProject(form) {
  const input = form.elements.namedItem("path");
  try {
    const project = await send("POST", "/api/v1/projects", { path: input.value.trim() });
    showToast("Registered " + project.name + " (" + project.deployment_count + " deployments)");
    htmx.trigger(document.body, "deployments-changed");
  } catch (err) {
    showToast("Could not register the project: " + err.message, "error");
  }
}

function groupsChanged(message) {
  if (message) showToast(message);
  htmx.trigger(document.body, "groups-changed");
}

async function saveGroupOrder(list) {
  const ids = [...list.querySelectorAll("li[data-group-id]")].map((li) => li.dataset.groupId);
  try {
    await send("PUT", "/api/v1/user-collections/" + encodeURIComponent(list.dataset.collection) + "/groups/order", { group_ids: ids });
    groupsChanged("Groups reordered");
  } catch (err) {
    showToast("Could not reorder: " + err.message, "error");
    groupsChanged();
  }
}

async function onGroupAction(button) {
  const li = button.closest("li[data-group-id]");
  const id = li.dataset.groupId;
  const name = li.dataset.groupName;
  try {
    if (button.dataset.groupMove) {
      const list = li.parentElement;
      if (button.dataset.groupMove === "up" && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
      if (button.dataset.groupMove === "down" && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
      window.__focusAfterSwap = "[data-group-id='" + id + "'] [data-group-move='" + button.dataset.groupMove + "']";
      await saveGroupOrder(list);
    } else if (button.hasAttribute("data-group-rename")) {
      const renamed = window.prompt("New name for the group " + name, name);
      if (!renamed || renamed.trim() === name) return;
      await send("PUT", "/api/v1/groups/" + id, { name: renamed.trim() });
      groupsChanged("Group renamed");
    } else if (button.hasAttribute("data-group-delete")) {
      if (!window.confirm("Delete the group " + name + "? Artifacts remain in collection.")) return;
      await send("DELETE", "/api/v1/groups/" + id);
      groupsChanged("Group deleted; its artifacts remain in the collection");
    }
  } catch (err) {
    showToast("Could not change the group: " + err.message, "error");
  }
}

async function saveMemberOrder(section, ids) {
  try {
    await send("PUT", "/api/v1/groups/" + section.dataset.group + "/artifacts/order", { artifact_ids: ids });
    groupsChanged("Order saved");
  } catch (err) {
    showToast("Could not reorder: " + err.message, "error");
    groupsChanged();
  }
}

function memberIds(section) {
  return [...section.querySelectorAll("[data-sort-item][data-member]")].map((card) => card.dataset.member);
}

async function moveMember(button) {
  const section = button.closest("section[data-group]");
  const ids = memberIds(section);
  const from = ids.indexOf(button.dataset.artifact);
  const to = button.dataset.memberMove === "earlier" ? from - 1 : from + 1;
  if (from < 0 || to < 0 || to >= ids.length) return;
  [ids[from], ids[to]] = [ids[to], ids[from]];
  window.__focusAfterSwap = "section[data-group='" + section.dataset.group + "'] [data-member-move='" +
    button.dataset.memberMove + "'][data-artifact='" + button.dataset.artifact + "']";
  await saveMemberOrder(section, ids);
}

// Drag to reorder (groups in their list, artifacts inside a group) with a mouse, pen or finger.
// Pointer events rather than HTML5 drag and drop, which touch screens do not fire. The Up/Down
// and Earlier/Later buttons are the keyboard way to do the same.
let drag = null;

function startDrag(event) {
  const handle = event.target.closest("[data-drag-handle]");
  if (!handle || event.button !== 0) return;
  event.preventDefault();
  const item = handle.closest("[data-sort-item]");
  handle.setPointerCapture(event.pointerId);
  drag = { item, container: item.parentElement, moved: false };
  item.classList.add("dragging");
}

function moveDrag(event) {
  if (!drag) return;
  const under = document.elementFromPoint(event.clientX, event.clientY);
  const over = under && under.closest("[data-sort-item]");
  if (!over || over === drag.item || over.parentElement !== drag.container) return;
  const items = [...drag.container.children];
  const after = items.indexOf(over) > items.indexOf(drag.item);
  drag.container.insertBefore(drag.item, after ? over.nextElementSibling : over);
  drag.moved = true;
}

function endDrag(event) {
  if (!drag) return;
  const { item, container, moved } = drag;
  drag = null;
  item.classList.remove("dragging");
  if (!moved) return;
  if (event.type === "pointercancel") { groupsChanged(); return; }
  if (container.id === "group-list") saveGroupOrder(container);
  else {
    const section = container.closest("section[data-group]");
    saveMemberOrder(section, memberIds(section));
  }
}

const selected = new Set();

function renderSelection() {
  const bar = document.getElementById("bulk-bar");
  if (!bar) return;
  bar.hidden = selected.size === 0;
  document.getElementById("bulk-count").textContent = selected.size + " selected";
}

async function onBulk(action) {
  const bar = document.getElementById("bulk-bar");
  if (action === "clear") {
    selected.clear();
    document.querySelectorAll("[data-select]").forEach((box) => { box.checked = false; });
    renderSelection();
    return;
  }
  if (action === "remove") {
    const ids = [...selected];
    if (await removeMembers(ids, ids.length + (ids.length === 1 ? " artifact" : " artifacts"))) {
      selected.clear();
      renderSelection();
    }
    return;
  }
  const target = document.getElementById("bulk-target");
  if (!target.value) { showToast("Create another collection first", "error"); return; }
  const ids = [...selected];
  try {
    await send("POST", "/api/v1/user-collections/" + encodeURIComponent(bar.dataset.collection) + "/artifacts/" + action,
      { artifact_ids: ids, target_collection_id: target.value });
    const label = target.options[target.selectedIndex].textContent;
    showToast((action === "move" ? "Moved " : "Copied ") + ids.length + " to " + label);
    selected.clear();
    renderSelection();
    htmx.trigger(document.body, "collections-refreshed");
  } catch (err) {
    showToast("Could not " + action + ": " + err.message, "error");
  }
}

// Event names, as the server defines them (its ServerEvent), keyed by kind.
// Adding artifacts: the panel's fields follow its "From" choice.
function syncAddForm(form) {
  const from = form.elements.namedItem("from").value;
  form.querySelectorAll("[data-from]").forEach((part) => { part.hidden = part.dataset.from !== from; });
}

const TEMPLATES = {
  skill: (n, d) => ({ "SKILL.md": "---\nname: " + n + "\ndescription: " + d + "\n---\n\n# " + n + "\n\nWhen and how to use this skill.\n" }),
  command: (n, d) => ({ [n + ".md"]: "---\ndescription: " + d + "\n---\n\nWhat the command does with $ARGUMENTS.\n" }),
  agent: (n, d) => ({ [n + ".md"]: "---\nname: " + n + "\ndescription: " + d + "\ntools: Read, Grep, Glob\n---\n\nYou are a focused helper.\n" }),
  hook: (n, d) => ({ "README.md": "# " + n + "\n\n" + d + "\n", "settings.json": "{\n  \"hooks\": {}\n}\n" }),
  mcp: (n, d) => ({ "README.md": "# " + n + "\n\n" + d + "\n", "mcp.json": "{\n  \"mcpServers\": {}\n}\n" }),
};

async function addArtifact(form) {
  const f = (name) => form.elements.namedItem(name);
  const from = f("from").value;
  const common = { collection: f("collection").value, overwrite: f("overwrite").checked };
  if (f("type").value) common.type = f("type").value;
  if (f("name").value.trim()) common.name = f("name").value.trim();
  try {
    let result;
    if (from === "new") {
      const type = common.type || "skill";
      const name = common.name || "";
      const description = f("description").value.trim() || "Describe what " + name + " does";
      result = await postJson("/api/v1/artifacts", { type, name, collection: common.collection, files: TEMPLATES[type](name, description) });
    } else {
      const body = from === "git"
        ? { source: "git", url: f("url").value.trim(), ref: f("ref").value.trim() || undefined, path: f("repo_path").value.trim() || undefined }
        : { source: "path", path: f("path").value.trim() };
      result = await postJson("/api/v1/artifacts/import", Object.assign(body, common));
      if (!result.id && result.job) {
        showToast("Fetching the repository…");
        const job = await waitForJob(result.job.id);
        if (job.status !== "succeeded") throw new Error(job.error || "the import " + job.status);
        result = { id: job.details.artifact_id };
      }
    }
    showToast("Added " + result.id);
    form.reset();
    syncAddForm(form);
    htmx.trigger(document.body, "collections-refreshed");
  } catch (err) {
    showToast("Could not add the artifact: " + err.message, "error");
  }
}

// An artifact's details into the drawer. The latest asked for wins, and a list re-rendered
// while they load (a live event) cannot drop them: they belong to the drawer, not the card.
let drawerLoads = 0;
async function loadDrawer(url) {
  const mine = ++drawerLoads;
  try {
    const response = await fetch(url);
    const html = await response.text();
    if (mine !== drawerLoads) return;
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = JSON.parse(html).detail || detail; } catch (e) { /* not JSON: the status says it */ }
      throw new Error(detail);
    }
    const drawer = document.getElementById("drawer");
    drawer.innerHTML = html;
    htmx.process(drawer);
    renderRelativeTimes();
  } catch (err) {
    showToast("Could not load the details: " + err.message, "error");
  }
}

// Editing a text file in the drawer, against the content hash the drawer showed.
function reloadDrawer() {
  const section = document.querySelector("#drawer [data-drawer-url]");
  if (section) loadDrawer(section.dataset.drawerUrl);
}

function fileUrl(artifact, path) {
  return "/api/v1/artifacts/" + encodeURIComponent(artifact) + "/files/" + path.split("/").map(encodeURIComponent).join("/");
}

async function openEditor(button) {
  const d = button.dataset;
  const response = await fetch(fileUrl(d.artifact, d.editFile));
  const file = await response.json();
  if (!response.ok || file.encoding !== "utf-8") {
    showToast("Only text files can be edited here", "error");
    return;
  }
  const box = document.getElementById("drawer-editor");
  box.innerHTML = "";
  const form = document.createElement("form");
  form.id = "file-editor";
  Object.assign(form.dataset, { artifact: d.artifact, path: d.editFile, tag: d.tag, original: file.content });
  const label = element("label", "Editing " + d.editFile);
  label.htmlFor = "file-editor-text";
  const text = document.createElement("textarea");
  text.id = "file-editor-text";
  text.rows = 16;
  text.value = file.content;
  const save = element("button", "Save");
  save.type = "submit";
  save.className = "primary";
  const cancel = element("button", "Cancel");
  cancel.type = "button";
  cancel.addEventListener("click", () => { box.innerHTML = ""; });
  form.append(label, text, save, cancel);
  box.appendChild(form);
  text.focus();
}

// What changed between two texts, line by line (lines only in `before`, then only in `after`).
function changedLines(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  return a.filter((l) => !b.includes(l)).map((l) => "- " + l).concat(b.filter((l) => !a.includes(l)).map((l) => "+ " + l));
}

async function saveFile(form) {
  const d = form.dataset;
  const content = form.querySelector("textarea").value;
  const response = await fetch(fileUrl(d.artifact, d.path), {
    method: "PUT",
    headers: { "content-type": "application/json", "If-Match": "\"" + d.tag + "\"" },
    body: JSON.stringify({ content }),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 412) {
    const now = await (await fetch(fileUrl(d.artifact, d.path))).json();
    const stale = form.querySelector(".stale") || element("div", "", "stale");
    stale.innerHTML = "";
    stale.setAttribute("role", "alert");
    stale.append(element("p", "The artifact changed since you opened this file; your text is kept. What changed in the file:"),
      element("pre", changedLines(d.original, now.content || "").join("\n") || "(nothing in this file: another file changed)"));
    const mine = element("button", "Save mine over it");
    mine.type = "button";
    mine.addEventListener("click", () => { d.tag = (response.headers.get("ETag") || "").replace(/"/g, ""); d.original = now.content; saveFile(form); });
    stale.appendChild(mine);
    form.appendChild(stale);
    return;
  }
  if (!response.ok) {
    showToast("Could not save " + d.path + ": " + (data.detail || response.statusText), "error");
    return;
  }
  showToast("Saved " + d.path);
  reloadDrawer();
}

async function deleteArtifact(button) {
  const d = button.dataset;
  if (!window.confirm("Delete " + d.deleteArtifact + " from the collection " + d.collection + "? Its files move to " +
    "the trash (restorable); its deployments stay in their projects.")) return;
  try {
    const entry = await send("DELETE", "/api/v1/artifacts/" + encodeURIComponent(d.deleteArtifact));
    document.getElementById("drawer").innerHTML = "";
    htmx.trigger(document.body, "collections-refreshed");
    showToast("Deleted " + d.name + " (in the trash)", "", { label: "Undo", run: async () => {
      try {
        await postJson("/api/v1/trash/" + encodeURIComponent(entry.entry) + "/restore");
        showToast("Restored " + d.name);
        htmx.trigger(document.body, "collections-refreshed");
      } catch (err) {
        showToast("Could not restore " + d.name + ": " + err.message, "error");
      }
    } });
  } catch (err) {
    showToast("Could not delete " + d.name + ": " + err.message, "error");
  }
}

async function upstreamAction(button) {
  const d = button.dataset;
  button.disabled = true;
  try {
    const result = await postJson("/api/v1/artifacts/" + encodeURIComponent(d.artifact) + "/upstream/" + d.upstream);
    if (d.upstream === "update" && result.job && !result.id) await waitForJob(result.job.id);
    showToast(d.upstream === "check"
      ? (result.update_available ? "An update is available" : "Up to date")
      : "Updated " + d.artifact + " from its upstream");
    reloadDrawer();
  } catch (err) {
    showToast("Could not " + d.upstream + " the upstream: " + err.message, "error");
    button.disabled = false;
  }
}

const EVENTS = JSON.parse((document.body && document.body.dataset.events) || "{}");

function listenToEvents() {
  if (!window.EventSource) return;
  const events = new EventSource("/api/v1/events");
  // A job that finished between the page's first status request and the stream's start sent
  // its event to nobody: once connected (and after a reconnect), ask for the status again.
  events.addEventListener("open", () => {
    if (document.getElementById("last-updated")) loadCacheStatus();
  });
  const deploymentsChanged = () => htmx.trigger(document.body, "deployments-changed");
  for (const kind of ["DeploymentStatusChanged", "Deployed", "Undeployed", "DeploymentPushed", "DeploymentMerged"]) {
    events.addEventListener(EVENTS[kind], deploymentsChanged);
  }
  const onJob = (event) => {
    const data = JSON.parse(event.data);
    htmx.trigger(document.body, "jobs-changed");
    if (data.job_kind === "refresh" || data.job_kind === "warm") {
      const syncing = document.getElementById("syncing");
      if (syncing) syncing.hidden = event.type !== EVENTS.JobStarted || refreshing;
      if (event.type === EVENTS.JobFinished && !refreshing && document.getElementById("items")) {
        htmx.trigger(document.body, "collections-refreshed");
        loadCacheStatus();
      }
    }
  };
  events.addEventListener(EVENTS.JobStarted, onJob);
  events.addEventListener(EVENTS.JobFinished, onJob);
  window.addEventListener("beforeunload", () => events.close());
}

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("refresh-button");
  if (button) {
    button.addEventListener("click", refreshCollections);
    // On the collections page Ctrl+R / Cmd+R refreshes the collections, not the browser page.
    document.addEventListener("keydown", (event) => {
      if (document.body.classList.contains("read-only")) return;
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
    if (event.target.closest("[data-close-drawer]")) document.getElementById("drawer").innerHTML = "";
    const details = event.target.closest("[data-open-details]");
    if (details) loadDrawer(details.dataset.openDetails);
    const closeDiff = event.target.closest("[data-close-diff]");
    if (closeDiff) closeDiff.closest(".diff-view").remove();
    const retry = event.target.closest("[data-retry-job]");
    if (retry) retryJob(retry.dataset.retryJob);
    const cancel = event.target.closest("[data-cancel-job]");
    if (cancel) cancelJob(cancel.dataset.cancelJob);
    const batch = event.target.closest("[data-job-batch]");
    if (batch) jobBatch(batch);
    const remove = event.target.closest("[data-undeploy]");
    if (remove) undeploy(remove);
    const drift = event.target.closest("[data-drift-action]");
    if (drift) driftAction(drift);
    const update = event.target.closest("[data-update-deployment]");
    if (update) updateDeployment(update.dataset.updateDeployment, false);
    const memberMove = event.target.closest("[data-member-move]");
    if (memberMove) moveMember(memberMove);
    const groupButton = event.target.closest("#group-list button");
    if (groupButton) onGroupAction(groupButton);
    const bulk = event.target.closest("[data-bulk]");
    if (bulk) onBulk(bulk.dataset.bulk);
    const removeMember = event.target.closest("[data-remove-member]");
    if (removeMember) removeMembers([removeMember.dataset.removeMember], removeMember.dataset.name);
    if (event.target.closest("#delete-collection")) deleteCollection(event.target.closest("#delete-collection"));
    const editFile = event.target.closest("[data-edit-file]");
    if (editFile) openEditor(editFile);
    const removeArtifact = event.target.closest("[data-delete-artifact]");
    if (removeArtifact) deleteArtifact(removeArtifact);
    const upstream = event.target.closest("[data-upstream]");
    if (upstream) upstreamAction(upstream);
    const removeRoot = event.target.closest("[data-remove-root]");
    if (removeRoot) removeSearchRoot(removeRoot);
  });
  document.body.addEventListener("change", async (event) => {
    const box = event.target;
    if (box.matches("[data-select-job]")) {
      if (box.checked) selectedJobs.add(box.dataset.selectJob); else selectedJobs.delete(box.dataset.selectJob);
      renderJobSelection();
    }
    if (box.id === "select-all-jobs") {
      document.querySelectorAll("[data-select-job]").forEach((b) => {
        if (box.checked) selectedJobs.add(b.dataset.selectJob); else selectedJobs.delete(b.dataset.selectJob);
      });
      renderJobSelection();
    }
    if (box.matches("[data-schedule]")) toggleSchedule(box);
    if (box.name === "from" && box.form && box.form.id === "add-artifact-form") syncAddForm(box.form);
    if (box.matches("[data-select]")) {
      if (box.checked) selected.add(box.dataset.select); else selected.delete(box.dataset.select);
      renderSelection();
    }
    if (box.matches("[data-group-toggle]")) {
      const group = box.dataset.groupToggle;
      const artifact = box.dataset.artifact;
      try {
        if (box.checked) await send("POST", "/api/v1/groups/" + group + "/artifacts", { artifact_ids: [artifact] });
        else await send("DELETE", "/api/v1/groups/" + group + "/artifacts/" + encodeURIComponent(artifact));
        groupsChanged(box.checked ? "Added to the group" : "Removed from the group");
      } catch (err) {
        box.checked = !box.checked;
        showToast("Could not change the groups: " + err.message, "error");
      }
    }
  });
  document.body.addEventListener("submit", async (event) => {
    const form = event.target;
    const handlers = {
      "collection-form": saveCollection, "add-root-form": addSearchRoot, "register-project-form": registerProject,
      "add-artifact-form": addArtifact, "file-editor": saveFile,
    };
    if (handlers[form.id]) { event.preventDefault(); handlers[form.id](form); return; }
    if (form.dataset.groupEdit) { event.preventDefault(); saveGroup(form); return; }
    if (form.dataset.groupCopy) { event.preventDefault(); copyGroup(form); return; }
    if (form.id !== "new-group-form") return;
    event.preventDefault();
    try {
      await send("POST", "/api/v1/groups", { collection_id: form.dataset.collection, name: form.elements.namedItem("name").value.trim() });
      groupsChanged("Group created");
    } catch (err) {
      showToast("Could not create the group: " + err.message, "error");
    }
  });
  document.body.addEventListener("pointerdown", startDrag);
  document.body.addEventListener("pointermove", moveDrag);
  document.body.addEventListener("pointerup", endDrag);
  document.body.addEventListener("pointercancel", endDrag);
  // Keep the keyboard focus on the moved group's button after the list is re-rendered.
  document.body.addEventListener("htmx:afterSettle", () => {
    if (!window.__focusAfterSwap) return;
    const target = document.querySelector(window.__focusAfterSwap);
    window.__focusAfterSwap = null;
    if (target && !target.disabled) target.focus();
  });
  // "Clear all" empties the search and the type chips; the view and sort stay as chosen.
  const clear = document.getElementById("clear-filters");
  if (clear) clear.addEventListener("click", () => {
    const filters = document.getElementById("filters");
    filters.elements.namedItem("search").value = "";
    filters.querySelectorAll("input[name=type]").forEach((box) => { box.checked = false; });
    htmx.trigger(filters, "change");
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
  if (deployForm) {
    deployForm.addEventListener("submit", (event) => { event.preventDefault(); deploy(deployForm); });
    // "Another folder…" shows the folder field; a known project hides it.
    const project = document.getElementById("deploy-project-id");
    project.addEventListener("change", () => {
      document.getElementById("deploy-folder-field").hidden = project.value !== "";
    });
  }
  renderRelativeTimes();
  setInterval(renderRelativeTimes, 60000);
  document.body.addEventListener("htmx:afterSettle", () => { renderRelativeTimes(); renderJobSelection(); });
  // A panel reloaded after an action taken in it comes back as the user left it.
  document.body.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    if (elt.tagName === "DETAILS" && elt.open) event.detail.parameters.open = "true";
  });
  // The collection switcher shows the chosen collection at once (no inline handler: the
  // page's Content-Security-Policy allows only this file's scripts).
  const switcher = document.getElementById("collection");
  if (switcher) switcher.addEventListener("change", () => switcher.form.submit());
  listenToEvents();
});
