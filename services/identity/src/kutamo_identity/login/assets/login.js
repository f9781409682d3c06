// The organisation's login page: "Sign in with Microsoft" in a popup (or, when the browser blocks it,
// in this window), and a clear way out of every failure. See docs/decisions/0006-login-page.md.
import {
  authorizeUrl, handOver, loginConfiguration, microsoftProblem, newAttempt, rememberRedirect, SignInProblem,
  takeProblem,
} from "./signin.js";
import { PopupSignIn } from "./popup.js";

const page = document.getElementById("page");
const loginCode = page.dataset.loginCode;
const appUrl = page.dataset.appUrl;
const $ = (id) => document.getElementById(id);
const button = $("sign-in");
const status = $("status");
const sections = { problem: $("problem"), blocked: $("popup-blocked"), noAnswer: $("no-answer") };

// The IT admin's verification link carries a single-use code; keep it in memory, off the address bar.
const verificationCode = new URLSearchParams(window.location.search).get("verification_code");
if (verificationCode) window.history.replaceState(null, "", window.location.pathname);

function say(text) {
  status.textContent = text;
}

function clear() {
  for (const section of Object.values(sections)) section.hidden = true;
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

function showNoAnswer() {
  showProblem(new SignInProblem({
    title: "Sign-in was cancelled",
    detail: "The Microsoft window was closed, or is still open without having finished. "
      + "To try again, press Sign in with Microsoft.",
  }));
  sections.noAnswer.hidden = false;
  $("shown-by-microsoft").open = true;
}

const popup = new PopupSignIn({
  loginCode,
  timeoutMs: Number(page.dataset.popupTimeout) * 1000,
  prepare: async () => ({ verificationCode }),
  onStatus: say,
  onBlocked: showBlocked,
  onNoAnswer: showNoAnswer,
  onProblem: (problem) => { clear(); showProblem(problem); },
  onSession: (session) => {
    clear();
    say("Signed in. Opening Kutamo…");
    handOver(appUrl, session);
  },
});

function signIn() {
  clear();
  popup.start();
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

async function explainCode(event) {
  event.preventDefault();
  const digits = /(\d{4,8})/.exec($("aadsts").value);
  if (!digits) {
    say("Type the code as Microsoft shows it, for example AADSTS700016.");
    $("aadsts").focus();
    return;
  }
  showProblem(await microsoftProblem(loginCode, { error: "unknown", error_description: `AADSTS${digits[1]}` }));
  sections.noAnswer.hidden = false;
  $("shown-by-microsoft").open = false;
}

async function copyForAdmin() {
  const code = sections.problem.dataset.code;
  const text = `${$("problem-detail").textContent}\n\nFor the IT admin: ${$("admin-hint").textContent}\n`
    + `(Kutamo login code ${loginCode}${code ? `, ${code}` : ""})`;
  try {
    await navigator.clipboard.writeText(text);
    say("Copied. Paste it into a message to your IT admin.");
  } catch (denied) {
    window.getSelection().selectAllChildren($("admin"));
    say("Press Ctrl+C (or ⌘C) to copy the selected message for your IT admin.");
  }
}

button.addEventListener("click", signIn);
$("retry").addEventListener("click", signIn);
$("continue-here").addEventListener("click", continueHere);
$("code-form").addEventListener("submit", explainCode);
$("copy-admin").addEventListener("click", copyForAdmin);

const returned = takeProblem();
if (returned) showProblem(returned);
button.disabled = false;
