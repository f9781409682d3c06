// Microsoft sign-in in a popup, knowing Microsoft's pages send Cross-Origin-Opener-Policy: the answer
// comes back only through the callback page's BroadcastChannel, and the popup cannot be seen closing.
// Used by the login page and by the IT admin's test sign-in on the setup page; they only draw.
import { CHANNEL, authorizeUrl, finish, loginConfiguration, newAttempt, SignInProblem } from "./signin.js";

function popupFeatures() {
  const width = 483;
  const height = 600;
  const left = Math.max(0, window.screenX + (window.outerWidth - width) / 2);
  const top = Math.max(0, window.screenY + (window.outerHeight - height) / 2);
  return `popup=yes,width=${width},height=${height},left=${Math.round(left)},top=${Math.round(top)}`;
}

/**
 * One popup sign-in at a time for a login code. `prepare()` (async, after the window is open) returns
 * extra attempt fields such as the verification code; the `on*` callbacks draw the page:
 * onStatus(text), onBlocked(), onNoAnswer(), onProblem(problem), onSession(session).
 */
export class PopupSignIn {
  constructor({ loginCode, timeoutMs, prepare = async () => ({}), ...draw }) {
    Object.assign(this, { loginCode, timeoutMs, prepare, draw, pending: null, timer: null, left: false });
    const channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = ({ data }) => {
      if (this.pending && data && data.state === this.pending.state) this.answered(data.result);
    };
    window.addEventListener("blur", () => { if (this.pending) this.left = true; });
    window.addEventListener("focus", () => { if (this.pending && this.left) this.noAnswer(); });
  }

  // Synchronous up to window.open: browsers block popups opened after an await.
  start() {
    window.clearTimeout(this.timer);
    const popup = window.open("", "kutamo-microsoft-sign-in", popupFeatures());
    if (!popup || popup.closed) {
      this.draw.onBlocked();
      return;
    }
    this.navigate(popup);
  }

  async navigate(popup) {
    this.draw.onStatus("Opening the Microsoft sign-in window…");
    try {
      const extra = await this.prepare();
      const attempt = newAttempt(await loginConfiguration(this.loginCode), extra);
      const url = await authorizeUrl(attempt);
      if (popup.closed) {
        this.draw.onProblem(new SignInProblem({ title: "Sign-in was cancelled", detail: "The Microsoft window was closed." }));
        return;
      }
      popup.location.href = url;
      this.pending = attempt;
      this.left = false;
      this.draw.onStatus("Sign in in the Microsoft window. This page continues when you are done.");
      this.timer = window.setTimeout(() => this.noAnswer(), this.timeoutMs);
    } catch (problem) {
      popup.close();
      this.draw.onProblem(problem);
    }
  }

  // No answer in time, or this window getting the focus back: the person closed the popup, or
  // Microsoft showed an error on its own page. A late answer for the same attempt is still taken.
  noAnswer() {
    if (!this.pending) return;
    window.clearTimeout(this.timer);
    this.draw.onNoAnswer();
  }

  async answered(result) {
    const attempt = this.pending;
    this.pending = null;
    window.clearTimeout(this.timer);
    this.draw.onStatus("Signing you in…");
    try {
      this.draw.onSession(await finish(attempt, result));
    } catch (problem) {
      this.draw.onProblem(problem);
    }
  }
}
