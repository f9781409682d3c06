// The IT admin's guided setup: register the app in Azure AD, tell Kutamo about it, test sign-in (the
// verification sign-in that pins the directory), share the login page. See docs/decisions/0007-setup-links.md.
import { Guidance } from "./guidance.js";
import { PopupSignIn } from "./popup.js";

const page = document.getElementById("page");
const usersApi = page.dataset.usersApi;
const $ = (id) => document.getElementById(id);
const status = $("status");
const say = (text) => { status.textContent = text; };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FIELDS = {
  invalid_application_id: "application-id", invalid_login_code: "login-code", reserved_login_code: "login-code",
  login_code_taken: "login-code", invalid_user_note: "user-note", invalid_directory_id: "directory-id",
};
let state = null;

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-Kutamo-CSRF"] = state ? state.csrf_token : "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw Object.assign(new Error((data && data.detail) || "Kutamo could not be reached."), { data, status: response.status });
  return data;
}

function linkProblem(error) {
  $("setup").hidden = true;
  $("link-problem-detail").textContent = error.message;
  $("link-problem").hidden = false;
  say("");
  $("link-problem").focus();
}

// --- steps -----------------------------------------------------------------------------------------
let shareTimer = null;

function show(step, { focus = true } = {}) {
  say("");
  window.clearInterval(shareTimer);
  // While the share step is open, the admin sees their people arriving without reloading.
  if (step === "share") shareTimer = window.setInterval(refreshShare, 10_000);
  for (const section of document.querySelectorAll(".step")) section.hidden = section.id !== `step-${step}`;
  for (const link of document.querySelectorAll("[data-step]")) {
    if (link.dataset.step === step) link.setAttribute("aria-current", "step");
    else link.removeAttribute("aria-current");
  }
  if (step === "share") refreshShare();
  if (focus) $(`step-${step}`).focus();
}

function resumeAt() {
  const connection = state.connection;
  if (!connection) return "register";
  if (connection.status === "pending_verification") return "test";
  return "share";
}

// --- step 1 ----------------------------------------------------------------------------------------
function flow() {
  const checked = document.querySelector('input[name="sign_in_flow"]:checked');
  return checked ? checked.value : "pkce";
}

function drawFlow() {
  const chosen = flow();
  $("value-platform").textContent = $("value-platform").dataset[chosen];
  for (const item of document.querySelectorAll(".implicit-only")) item.hidden = chosen !== "implicit";
  $("flow-summary").textContent = chosen === "pkce" ? "authorization code with PKCE" : "implicit flow";
}

async function copy(event) {
  const source = $(event.currentTarget.dataset.copy);
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    say(`Copied: ${source.textContent.trim()}`);
  } catch (denied) {
    window.getSelection().selectAllChildren(source);
    say("Selected. Press Ctrl+C (or ⌘C) to copy.");
  }
}

// --- step 2 ----------------------------------------------------------------------------------------
function fieldError(id, message) {
  $(`${id}-error`).textContent = message || "";
  if (message) $(id).setAttribute("aria-invalid", "true");
  else $(id).removeAttribute("aria-invalid");
}

function checkGuid(id, required) {
  const value = $(id).value.trim();
  if (!value && !required) return fieldError(id, "");
  if (!GUID.test(value)) {
    return fieldError(id, "This is not a GUID yet: 32 hexadecimal digits in groups of 8-4-4-4-12, with dashes.");
  }
  return fieldError(id, "");
}

let availabilityTimer = null;
function checkLoginCode() {
  window.clearTimeout(availabilityTimer);
  const code = $("login-code").value.trim();
  $("login-code-availability").textContent = "";
  if (!code) return fieldError("login-code", "");
  if (!/^[A-Za-z0-9]{3,32}$/.test(code)) {
    return fieldError("login-code", "3 to 32 letters or digits: no spaces, dashes or accents.");
  }
  fieldError("login-code", "");
  availabilityTimer = window.setTimeout(async () => {
    const answer = await api(`/setup/api/login-codes/${encodeURIComponent(code)}`).catch(() => null);
    if (!answer || $("login-code").value.trim() !== code) return;
    const words = {
      available: `Available: your people will sign in at ${answer.login_url}`,
      current: `Your current code: your people sign in at ${answer.login_url}`,
    };
    if (words[answer.availability]) $("login-code-availability").textContent = words[answer.availability];
    else fieldError("login-code", answer.detail);
    $("login-code").dataset.availability = answer.availability;
    drawGrace();
  }, 250);
  return undefined;
}

function drawGrace() {
  const old = state.connection && state.connection.login_code;
  const code = $("login-code").value.trim();
  const changing = old && code && code.toLowerCase() !== old.toLowerCase();
  $("login-code-grace").hidden = !changing;
  if (changing) {
    $("login-code-grace").textContent = `The old code ${old} keeps working for ${state.login_code_grace_days} days, `
      + "so links already shared still open your login page.";
  }
}

function drawNote() {
  const note = $("user-note").value;
  $("user-note-count").textContent = String(note.length);
  $("user-note-preview").textContent = note;
  $("user-note-preview").hidden = !note;
  fieldError("user-note", note.length > 500 ? `${note.length - 500} characters too many: at most 500.` : "");
}

async function save(event) {
  event.preventDefault();
  checkGuid("application-id", true);
  checkGuid("directory-id", false);
  drawNote();
  const invalid = document.querySelector("#connection-form [aria-invalid=true]");
  if (invalid) {
    invalid.focus();
    return;
  }
  $("form-error").textContent = "";
  const body = {
    application_id: $("application-id").value.trim(),
    login_code: $("login-code").value.trim(),
    user_note: $("user-note").value || null,
    sign_in_flow: flow(),
  };
  if ($("directory-id").value.trim()) body.directory_id = $("directory-id").value.trim();
  say("Saving…");
  try {
    state.connection = await api("/setup/api/connection", { method: "PUT", body });
    say("Saved.");
    show("test");
    drawTest();
  } catch (error) {
    say("");
    const field = error.data && FIELDS[error.data.code];
    if (field) {
      fieldError(field, error.message);
      $(field).focus();
    } else {
      $("form-error").textContent = error.message;
    }
  }
}

function fillForm() {
  const connection = state.connection;
  if (!connection) return;
  $("application-id").value = connection.application_id;
  $("login-code").value = connection.login_code;
  $("user-note").value = connection.user_note || "";
  $("directory-id").value = connection.directory_id || connection.proposed_directory_id || "";
  const radio = document.querySelector(`input[name="sign_in_flow"][value="${connection.sign_in_flow}"]`);
  if (radio) radio.checked = true;
}

// --- step 3 ----------------------------------------------------------------------------------------
function drawTest() {
  const connection = state.connection;
  const pending = connection && connection.verification_required;
  let purpose = "It checks that everything works before your people try it.";
  if (pending && connection.proposed_directory_id) {
    purpose = `This verification sign-in proves directory ${connection.proposed_directory_id} is yours: sign in with `
      + "one of its accounts. Until then nobody can sign in, and afterwards only its accounts can.";
  } else if (pending) {
    purpose = "This verification sign-in tells Kutamo which directory is yours: only its accounts can sign in afterwards.";
  }
  $("test-purpose").textContent = purpose;
}

async function showReceived(session) {
  state = { ...state, ...(await api("/setup/api/state")) };
  $("received-directory").textContent = state.connection.directory_id || "—";
  $("received-application").textContent = state.connection.application_id;
  $("received").hidden = false;
  say("Signed in. Waiting for the profile Kutamo stores…");
  if (!usersApi) return;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const response = await fetch(`${usersApi}/v1/users/${encodeURIComponent(session.user_id)}`, {
      headers: { Authorization: `Bearer ${session.session_token}`, Accept: "application/json" },
    }).catch(() => null);
    if (response && response.ok) {
      const user = await response.json();
      $("received-name").textContent = user.name || "—";
      $("received-email").textContent = user.email || "—";
      $("received-title-value").textContent = user.title || "—";
      if (user.avatar_url) {
        $("avatar").src = usersApi + user.avatar_url;
        $("avatar").alt = `Picture of ${user.name || "the account"} as Kutamo stores it`;
        $("avatar").hidden = false;
      }
      if (user.profile && user.profile.refreshed) {
        say("Sign-in works. This is what Kutamo received.");
        $("received").focus?.();
        return;
      }
    }
    await new Promise((resolve) => { window.setTimeout(resolve, 500); });
  }
  say("Sign-in works; the profile is still being read from Microsoft Graph.");
}

function testSignIn() {
  guidance.clear();
  $("received").hidden = true;
  popup.loginCode = state.connection.login_code;
  popup.start();
}

const guidance = new Guidance({
  loginCode: () => (state && state.connection ? state.connection.login_code : ""), say, onRetry: testSignIn,
});
const popup = new PopupSignIn({
  loginCode: "",
  timeoutMs: Number(page.dataset.popupTimeout) * 1000,
  prepare: async () => {
    // A directory is pinned only by a verification sign-in from it (decision 0008).
    if (!state.connection.verification_required) return {};
    const issued = await api("/setup/api/verification-code", { method: "POST" });
    return { verificationCode: issued.verification_code };
  },
  onStatus: say,
  onBlocked: () => guidance.showBlocked({ offerRedirect: false }),
  onNoAnswer: () => guidance.showNoAnswer(),
  onProblem: (problem) => { guidance.clear(); guidance.showProblem(problem); },
  onSession: (session) => { guidance.clear(); showReceived(session); },
});

// --- step 4 ----------------------------------------------------------------------------------------
async function refreshShare() {
  const connection = state.connection;
  if (!connection) return;
  $("connection-status").textContent = connection.status.replace("_", " ");
  $("login-url").textContent = connection.login_url;
  $("share-note").textContent = connection.user_note || "";
  $("share-note").hidden = !connection.user_note;
  $("share-note-hint").hidden = !connection.user_note;
  $("toggle-enabled").textContent = connection.status === "disabled" ? "Turn sign-in back on" : "Turn sign-in off";
  refreshScim();
  const [signIns, audit] = await Promise.all([
    api("/setup/api/sign-ins?limit=10").catch(() => ({ sign_ins: [] })),
    api("/setup/api/audit-log?limit=20").catch(() => ({ entries: [] })),
  ]);
  const rows = signIns.sign_ins.map((entry) => {
    const row = document.createElement("tr");
    for (const text of [new Date(entry.at).toLocaleString(), entry.name || "—", entry.result === "ok" ? "signed in" : `refused: ${entry.result}`]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  });
  document.querySelector("#sign-ins tbody").replaceChildren(...rows);
  $("no-sign-ins").hidden = rows.length > 0;
  $("audit-entries").replaceChildren(...audit.entries.map((entry) => {
    const item = document.createElement("li");
    item.textContent = `${new Date(entry.at).toLocaleString()} — ${entry.action} by ${entry.actor}`;
    return item;
  }));
}

// Provisioning from Entra (SCIM): a token is shown once, when created; the list shows what each was.
async function refreshScim() {
  const tokens = await api("/setup/api/scim-tokens").catch(() => []);
  const rows = tokens.map((token) => {
    const row = document.createElement("tr");
    const used = token.last_used_at ? new Date(token.last_used_at).toLocaleString() : "never";
    for (const text of [`${token.name} (${token.prefix}…)`, new Date(token.created_at).toLocaleString(), used]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const state = document.createElement("td");
    if (token.revoked_at) {
      state.textContent = "revoked";
    } else {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "secondary";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke the token ${token.prefix}…`);
      revoke.addEventListener("click", () => revokeScim(token.id));
      state.append(revoke);
    }
    row.append(state);
    return row;
  });
  document.querySelector("#scim-tokens tbody").replaceChildren(...rows);
  $("scim-tokens").hidden = rows.length === 0;
}

async function createScimToken() {
  try {
    const created = await api("/setup/api/scim-tokens", { method: "POST", body: { name: "Entra provisioning" } });
    $("scim-token").textContent = created.token;
    $("scim-token-created").hidden = false;
    say("Secret token created. Copy it into Entra now: Kutamo does not show it again.");
    refreshScim();
  } catch (error) {
    say(error.message);
  }
}

async function revokeScim(id) {
  try {
    await api(`/setup/api/scim-tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
    say("Token revoked: Entra can no longer provision with it.");
    refreshScim();
  } catch (error) {
    say(error.message);
  }
}

async function toggleEnabled() {
  const action = state.connection.status === "disabled" ? "enable" : "disable";
  try {
    state.connection = await api(`/setup/api/connection/${action}`, { method: "POST" });
    say(action === "enable" ? "Sign-in is on again." : "Sign-in is off: the login page now says the code is unknown.");
    refreshShare();
  } catch (error) {
    say(error.message);
  }
}

// --- start -----------------------------------------------------------------------------------------
async function start() {
  const link = new URLSearchParams(window.location.hash.replace(/^#/, "")).get("link");
  // The link's secret leaves the address bar and the history at once; a cookie carries the session.
  if (link) window.history.replaceState(null, "", window.location.pathname);
  try {
    if (link) await api("/setup/session", { method: "POST", body: { link } });
    state = await api("/setup/api/state");
  } catch (error) {
    linkProblem(error);
    return;
  }
  $("tenant-name").textContent = ` for ${state.tenant.display_name}`;
  fillForm();
  drawFlow();
  drawNote();
  drawTest();
  $("setup").hidden = false;
  say("");
  show(resumeAt(), { focus: false });
}

for (const radio of document.querySelectorAll('input[name="sign_in_flow"]')) radio.addEventListener("change", drawFlow);
for (const button of document.querySelectorAll("[data-copy]")) button.addEventListener("click", copy);
for (const button of document.querySelectorAll("[data-go]")) button.addEventListener("click", () => show(button.dataset.go));
for (const link of document.querySelectorAll("[data-step]")) {
  link.addEventListener("click", (event) => { event.preventDefault(); show(link.dataset.step); });
}
$("application-id").addEventListener("input", () => checkGuid("application-id", true));
$("directory-id").addEventListener("input", () => checkGuid("directory-id", false));
$("login-code").addEventListener("input", () => { checkLoginCode(); drawGrace(); });
$("user-note").addEventListener("input", drawNote);
$("connection-form").addEventListener("submit", save);
$("sign-in").addEventListener("click", testSignIn);
$("toggle-enabled").addEventListener("click", toggleEnabled);
$("create-scim-token").addEventListener("click", createScimToken);
document.querySelector('input[name="sign_in_flow"][value="pkce"]').checked = true;
start();
