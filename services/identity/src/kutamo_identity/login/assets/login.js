// The organisation's login page: "Sign in with Microsoft" in a popup (or, when the browser blocks it,
// in this window), and a clear way out of every failure. See docs/decisions/0006-login-page.md.
import {
  CHANNEL, authorizeUrl, finish, handOver, loginConfiguration, microsoftProblem, newAttempt,
  rememberRedirect, SignInProblem, takeProblem,
} from "./signin.js";

const page = document.getElementById("page");
const loginCode = page.dataset.loginCode;
const appUrl = page.dataset.appUrl;
const timeoutMs = Number(page.dataset.popupTimeout) * 1000;
const $ = (id) => document.getElementById(id);
const button = $("sign-in");
const status = $("status");
const sections = { problem: $("problem"), blocked: $("popup-blocked"), noAnswer: $("no-answer") };

// The IT admin's verification link carries a single-use code; keep it in memory, off the address bar.
const verificationCode = new URLSearchParams(window.location.search).get("verification_code");
if (verificationCode) window.history.replaceState(null, "", window.location.pathname);

let pending = null; // the popup attempt whose answer we wait for
let timer = null;
let leftForPopup = false;

function say(text) {
  status.textContent = text;
}

function clear() {
  for (const section of Object.values(sections)) section.hidden = true;
  window.clearTimeout(timer);
}

function showProblem(problem) {
  const known = problem instanceof SignInProblem ? problem : new SignInProblem({
    title: "We could not sign you in", detail: "Something went wrong on this page. Sign in again.", retry: true,
  });
  $("problem-title").textContent = known.title;
  $("problem-detail").textContent = known.detail;
  $("admin").hidden = !known.adminHint;
  $("admin-hint").textContent = known.adminHint || "";
  $("retry").hidden = !known.retry;
  sections.problem.dataset.code = known.code || "";
  sections.problem.hidden = false;
  say("");
  sections.problem.focus();
}

function browserName() {
  const agent = navigator.userAgent;
  if (/Edg\//.test(agent)) return "edge";
  if (/Firefox\//.test(agent)) return "firefox";
  if (/(Chrome|Chromium)\//.test(agent)) return "chrome";
  if (/Safari\//.test(agent)) return "safari";
  return null;
}

function showBlocked() {
  const browser = browserName();
  for (const help of sections.blocked.querySelectorAll("[data-browser]")) {
    help.hidden = browser !== null && help.dataset.browser !== browser;
  }
  sections.blocked.hidden = false;
  say("Your browser blocked the Microsoft sign-in window.");
  sections.blocked.focus();
}

// Microsoft's pages send Cross-Origin-Opener-Policy: once the popup is there, this page can neither see
// it close nor hear from it except through the callback. No answer in time, or this window getting the
// focus back, means the person closed it or Microsoft showed an error there.
function noAnswer() {
  if (!pending) return;
  window.clearTimeout(timer);
  showProblem(new SignInProblem({
    title: "Sign-in was cancelled",
    detail: "The Microsoft window was closed, or is still open without having finished. "
      + "To try again, press Sign in with Microsoft.",
  }));
  sections.noAnswer.hidden = false;
  $("shown-by-microsoft").open = true;
}

function popupFeatures() {
  const width = 483;
  const height = 600;
  const left = Math.max(0, window.screenX + (window.outerWidth - width) / 2);
  const top = Math.max(0, window.screenY + (window.outerHeight - height) / 2);
  return `popup=yes,width=${width},height=${height},left=${Math.round(left)},top=${Math.round(top)}`;
}

async function startInPopup(popup) {
  say("Opening the Microsoft sign-in window…");
  try {
    const attempt = newAttempt(await loginConfiguration(loginCode), { verificationCode });
    const url = await authorizeUrl(attempt);
    if (popup.closed) {
      showProblem(new SignInProblem({ title: "Sign-in was cancelled", detail: "The Microsoft window was closed." }));
      return;
    }
    popup.location.href = url;
    pending = attempt;
    leftForPopup = false;
    say("Sign in in the Microsoft window. This page continues when you are done.");
    timer = window.setTimeout(noAnswer, timeoutMs);
  } catch (problem) {
    popup.close();
    showProblem(problem);
  }
}

// Synchronous up to window.open: browsers block popups opened after an await.
function signIn() {
  clear();
  const popup = window.open("", "kutamo-microsoft-sign-in", popupFeatures());
  if (!popup || popup.closed) {
    showBlocked();
    return;
  }
  startInPopup(popup);
}

async function continueHere() {
  clear();
  say("Going to Microsoft…");
  try {
    const attempt = newAttempt(await loginConfiguration(loginCode), { verificationCode, appUrl });
    rememberRedirect(attempt);
    window.location.assign(await authorizeUrl(attempt));
  } catch (problem) {
    showProblem(problem);
  }
}

async function answered(result) {
  const attempt = pending;
  pending = null;
  clear();
  say("Signing you in…");
  try {
    const session = await finish(attempt, result);
    say("Signed in. Opening Kutamo…");
    handOver(appUrl, session);
  } catch (problem) {
    showProblem(problem);
  }
}

async function explainCode(event) {
  event.preventDefault();
  const digits = /(\d{4,8})/.exec($("aadsts").value);
  if (!digits) {
    say("Type the code as Microsoft shows it, for example AADSTS700016.");
    $("aadsts").focus();
    return;
  }
  const problem = await microsoftProblem(loginCode, { error: "unknown", error_description: `AADSTS${digits[1]}` });
  showProblem(problem);
  sections.noAnswer.hidden = false;
  $("shown-by-microsoft").open = false;
}

async function copyForAdmin() {
  const text = `${$("problem-detail").textContent}\n\nFor the IT admin: ${$("admin-hint").textContent}\n`
    + `(Kutamo login code ${loginCode}${sections.problem.dataset.code ? `, ${sections.problem.dataset.code}` : ""})`;
  try {
    await navigator.clipboard.writeText(text);
    say("Copied. Paste it into a message to your IT admin.");
  } catch (denied) {
    window.getSelection().selectAllChildren($("admin"));
    say("Press Ctrl+C (or ⌘C) to copy the selected message for your IT admin.");
  }
}

const channel = new BroadcastChannel(CHANNEL);
channel.onmessage = ({ data }) => {
  if (pending && data && data.state === pending.state) answered(data.result);
};
window.addEventListener("blur", () => { if (pending) leftForPopup = true; });
window.addEventListener("focus", () => { if (pending && leftForPopup) noAnswer(); });
button.addEventListener("click", signIn);
$("retry").addEventListener("click", signIn);
$("continue-here").addEventListener("click", continueHere);
$("code-form").addEventListener("submit", explainCode);
$("copy-admin").addEventListener("click", copyForAdmin);

const returned = takeProblem();
if (returned) showProblem(returned);
button.disabled = false;
