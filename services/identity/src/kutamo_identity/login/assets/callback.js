// Microsoft's redirect target. In a popup, Microsoft's Cross-Origin-Opener-Policy has cut this window
// from the login page (window.opener is null), so the result goes back over a same-origin
// BroadcastChannel; after "Continue in this window", this page finishes the sign-in itself.
import {
  CHANNEL, callbackResult, finish, handOver, rememberProblem, SignInProblem, takeRedirect,
} from "./signin.js";

const status = document.getElementById("status");
const result = callbackResult(window.location);
// Tokens and codes leave the address bar and the history at once.
window.history.replaceState(null, "", window.location.pathname);

async function completeHere(attempt) {
  try {
    handOver(attempt.appUrl, await finish(attempt, result));
  } catch (problem) {
    const shown = problem instanceof SignInProblem ? problem : new SignInProblem({
      title: "We could not sign you in", detail: "Something went wrong. Sign in again.", retry: true,
    });
    rememberProblem(shown);
    window.location.replace(`/login/${encodeURIComponent(attempt.loginCode)}`);
  }
}

const attempt = takeRedirect(result.state);
if (attempt) {
  completeHere(attempt);
} else if (!result.state) {
  status.textContent = "There is no sign-in in progress here. Open your organisation's login page to sign in.";
} else {
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage({ state: result.state, result });
  channel.close();
  status.textContent = "Signed in with Microsoft. Returning to Kutamo…";
  window.close();
  window.setTimeout(() => { document.getElementById("close-hint").hidden = false; }, 300);
}
