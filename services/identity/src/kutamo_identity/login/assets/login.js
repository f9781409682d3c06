// The organisation's login page: "Sign in with Microsoft" in a popup (or, when the browser blocks it,
// in this window), and a clear way out of every failure. See docs/decisions/0006-login-page.md.
import { authorizeUrl, handOver, loginConfiguration, newAttempt, rememberRedirect, takeProblem } from "./signin.js";
import { Guidance } from "./guidance.js";
import { PopupSignIn } from "./popup.js";

const page = document.getElementById("page");
const loginCode = page.dataset.loginCode;
const appUrl = page.dataset.appUrl;
const button = document.getElementById("sign-in");
const status = document.getElementById("status");
const say = (text) => { status.textContent = text; };

// The IT admin's verification link carries a single-use code; keep it in memory, off the address bar.
const verificationCode = new URLSearchParams(window.location.search).get("verification_code");
if (verificationCode) window.history.replaceState(null, "", window.location.pathname);

function signIn() {
  guidance.clear();
  popup.start();
}

const guidance = new Guidance({ loginCode: () => loginCode, say, onRetry: signIn });
const popup = new PopupSignIn({
  loginCode,
  timeoutMs: Number(page.dataset.popupTimeout) * 1000,
  prepare: async () => ({ verificationCode }),
  onStatus: say,
  onBlocked: () => guidance.showBlocked({ offerRedirect: true }),
  onNoAnswer: () => guidance.showNoAnswer(),
  onProblem: (problem) => { guidance.clear(); guidance.showProblem(problem); },
  onSession: (session) => {
    guidance.clear();
    say("Signed in. Opening Kutamo…");
    handOver(appUrl, session);
  },
});

async function continueHere() {
  guidance.clear();
  say("Going to Microsoft…");
  try {
    const attempt = newAttempt(await loginConfiguration(loginCode), { verificationCode, appUrl });
    rememberRedirect(attempt);
    window.location.assign(await authorizeUrl(attempt));
  } catch (problem) {
    guidance.showProblem(problem);
  }
}

button.addEventListener("click", signIn);
document.getElementById("continue-here").addEventListener("click", continueHere);
const returned = takeProblem();
if (returned) guidance.showProblem(returned);
button.disabled = false;
