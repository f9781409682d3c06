// What a person sees when sign-in goes wrong: the problem with what to tell the IT admin, how to allow
// a blocked popup, and the errors Microsoft shows only in its own window. The login page and the setup
// page's test sign-in share this markup (templates/guidance.html) and this code.
import { microsoftProblem, SignInProblem } from "./signin.js";

const $ = (id) => document.getElementById(id);

function browserName() {
  const agent = navigator.userAgent;
  if (/Edg\//.test(agent)) return "edge";
  if (/Firefox\//.test(agent)) return "firefox";
  if (/(Chrome|Chromium)\//.test(agent)) return "chrome";
  if (/Safari\//.test(agent)) return "safari";
  return null;
}

export class Guidance {
  /** `loginCode()` names the connection whose guidance applies; `say(text)` writes the status line. */
  constructor({ loginCode, say, onRetry }) {
    Object.assign(this, { loginCode, say });
    this.sections = { problem: $("problem"), blocked: $("popup-blocked"), noAnswer: $("no-answer") };
    $("retry").addEventListener("click", onRetry);
    $("code-form").addEventListener("submit", (event) => this.explainCode(event));
    $("copy-admin").addEventListener("click", () => this.copyForAdmin());
  }

  clear() {
    for (const section of Object.values(this.sections)) section.hidden = true;
  }

  showProblem(problem) {
    const known = problem instanceof SignInProblem ? problem : new SignInProblem({
      title: "We could not sign you in", detail: "Something went wrong on this page. Sign in again.", retry: true,
    });
    $("problem-title").textContent = known.title;
    $("problem-detail").textContent = known.detail;
    $("admin").hidden = !known.adminHint;
    $("admin-hint").textContent = known.adminHint || "";
    $("retry").hidden = !known.retry;
    this.sections.problem.dataset.code = known.code || "";
    this.sections.problem.hidden = false;
    this.say("");
    this.sections.problem.focus();
  }

  showBlocked({ offerRedirect }) {
    const browser = browserName();
    for (const help of this.sections.blocked.querySelectorAll("[data-browser]")) {
      help.hidden = browser !== null && help.dataset.browser !== browser;
    }
    $("continue-elsewhere").hidden = !offerRedirect;
    this.sections.blocked.hidden = false;
    this.say("Your browser blocked the Microsoft sign-in window.");
    this.sections.blocked.focus();
  }

  showNoAnswer() {
    this.showProblem(new SignInProblem({
      title: "Sign-in was cancelled",
      detail: "The Microsoft window was closed, or is still open without having finished. "
        + "To try again, press Sign in with Microsoft.",
    }));
    this.sections.noAnswer.hidden = false;
    $("shown-by-microsoft").open = true;
  }

  async explainCode(event) {
    event.preventDefault();
    const digits = /(\d{4,8})/.exec($("aadsts").value);
    if (!digits) {
      this.say("Type the code as Microsoft shows it, for example AADSTS700016.");
      $("aadsts").focus();
      return;
    }
    const report = { error: "unknown", error_description: `AADSTS${digits[1]}` };
    this.showProblem(await microsoftProblem(this.loginCode(), report));
    this.sections.noAnswer.hidden = false;
    $("shown-by-microsoft").open = false;
  }

  async copyForAdmin() {
    const code = this.sections.problem.dataset.code;
    const text = `${$("problem-detail").textContent}\n\nFor the IT admin: ${$("admin-hint").textContent}\n`
      + `(Kutamo login code ${this.loginCode()}${code ? `, ${code}` : ""})`;
    try {
      await navigator.clipboard.writeText(text);
      this.say("Copied. Paste it into a message to your IT admin.");
    } catch (denied) {
      window.getSelection().selectAllChildren($("admin"));
      this.say("Press Ctrl+C (or ⌘C) to copy the selected message for your IT admin.");
    }
  }
}
