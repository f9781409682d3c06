// Microsoft sign-in for Kutamo's pages: the authorize request for the connection's flow (implicit, or
// authorization code with PKCE), the code redemption, and the hand-over of Microsoft's tokens to Kutamo.
// Shared by the login page (popup) and the callback page (redirect). No dependencies, no build step.

export const CHANNEL = "kutamo.microsoft-sign-in";
const REDIRECT_KEY = "kutamo.sign-in.redirect";
const PROBLEM_KEY = "kutamo.sign-in.problem";

/** Something a person must read: a title, a sentence for them, and one for their IT admin. */
export class SignInProblem extends Error {
  constructor({ title, detail, adminHint = null, retry = false, code = null }) {
    super(detail);
    Object.assign(this, { title, detail, adminHint, retry, code });
  }
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomValue(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function postJson(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
}

async function kutamoProblem(response) {
  const body = await response.json().catch(() => ({}));
  return new SignInProblem({
    title: "Kutamo could not sign you in",
    detail: body.detail || "Kutamo could not be reached. Check your connection and try again.",
    adminHint: body.admin_hint || null,
    retry: response.status >= 500,
    code: body.code || null,
  });
}

/** The login configuration of a login code, with a fresh single-use nonce. */
export async function loginConfiguration(loginCode) {
  const response = await fetch(`/v1/login/${encodeURIComponent(loginCode)}`, {
    headers: { Accept: "application/json" },
    cache: "no-store",
  });
  if (!response.ok) throw await kutamoProblem(response);
  return response.json();
}

/** One sign-in attempt: what must come back (state) and what proves it (nonce, PKCE verifier). */
export function newAttempt(config, extra) {
  const { client_id, authority, scopes, sign_in_flow, redirect_uri, nonce, login_code } = config;
  const attempt = { state: randomValue(), nonce, loginCode: login_code, ...extra };
  attempt.config = { client_id, authority, scopes, sign_in_flow, redirect_uri };
  if (sign_in_flow === "pkce") attempt.verifier = randomValue(32);
  return attempt;
}

/** Microsoft's authorize URL for an attempt; results come back in the fragment, never to a server. */
export async function authorizeUrl(attempt) {
  const { client_id, authority, scopes, sign_in_flow, redirect_uri } = attempt.config;
  const url = new URL(`${authority}/oauth2/v2.0/authorize`);
  const query = url.searchParams;
  query.set("client_id", client_id);
  query.set("redirect_uri", redirect_uri);
  query.set("scope", scopes.join(" "));
  query.set("state", attempt.state);
  query.set("nonce", attempt.nonce);
  query.set("response_mode", "fragment");
  query.set("prompt", "select_account");
  if (sign_in_flow === "pkce") {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(attempt.verifier));
    query.set("response_type", "code");
    query.set("code_challenge", base64url(digest));
    query.set("code_challenge_method", "S256");
  } else {
    query.set("response_type", "id_token token");
  }
  return url.toString();
}

/** What Microsoft put in the callback URL (fragment, or query for servers that ignore response_mode). */
export function callbackResult(location) {
  const text = location.hash.replace(/^#/, "") || location.search.replace(/^\?/, "");
  return Object.fromEntries(new URLSearchParams(text));
}

/** Plain guidance for an error Microsoft returned, from Kutamo's catalogue of AADSTS codes. */
export async function microsoftProblem(loginCode, result) {
  const report = { error: String(result.error || "unknown").slice(0, 200) };
  if (result.error_description) report.error_description = String(result.error_description).slice(0, 4000);
  if (Array.isArray(result.error_codes)) report.error_codes = result.error_codes.filter(Number.isInteger).slice(0, 10);
  try {
    const response = await postJson(`/v1/login/${encodeURIComponent(loginCode)}/microsoft-errors`, report);
    if (response.ok) {
      const guidance = await response.json();
      return new SignInProblem({
        title: "Microsoft could not sign you in",
        detail: guidance.detail,
        adminHint: guidance.admin_hint,
        retry: guidance.retry,
        code: guidance.code,
      });
    }
  } catch (ignored) {
    // Fall through to Microsoft's own words.
  }
  const firstLine = String(result.error_description || result.error).split(/\r?\n/)[0];
  return new SignInProblem({ title: "Microsoft could not sign you in", detail: firstLine, retry: true });
}

async function redeem(attempt, code) {
  const { client_id, authority, scopes, redirect_uri } = attempt.config;
  const form = new URLSearchParams({
    client_id, grant_type: "authorization_code", code, redirect_uri, code_verifier: attempt.verifier,
    scope: scopes.join(" "),
  });
  let response;
  try {
    response = await fetch(`${authority}/oauth2/v2.0/token`, { method: "POST", body: form });
  } catch (unreachable) {
    throw new SignInProblem({
      title: "Microsoft could not be reached",
      detail: "Your browser could not reach Microsoft to finish signing in. Check your connection and try again.",
      retry: true,
    });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.id_token) throw await microsoftProblem(attempt.loginCode, body);
  return body;
}

/** Turn what Microsoft returned into a Kutamo session; throws a SignInProblem to show. */
export async function finish(attempt, result) {
  if (result.error) throw await microsoftProblem(attempt.loginCode, result);
  const tokens = attempt.config.sign_in_flow === "pkce" && result.code ? await redeem(attempt, result.code) : result;
  if (!tokens.id_token) {
    throw new SignInProblem({
      title: "Microsoft did not finish signing you in",
      detail: "Microsoft returned no sign-in to this page. Sign in again.",
      retry: true,
    });
  }
  const body = { login_code: attempt.loginCode, id_token: tokens.id_token, nonce: attempt.nonce };
  if (tokens.access_token) {
    body.access_token = tokens.access_token;
    const expiresIn = Number(tokens.expires_in);
    if (expiresIn >= 1) body.access_token_expires_in = Math.min(Math.floor(expiresIn), 86400);
  }
  if (attempt.verificationCode) body.verification_code = attempt.verificationCode;
  const response = await postJson("/v1/sign-ins", body);
  if (!response.ok) throw await kutamoProblem(response);
  return response.json();
}

/** Open the Kutamo app with the session in the fragment: never sent to a server, never in a Referer. */
export function handOver(appUrl, session) {
  const fragment = new URLSearchParams({
    session_token: session.session_token,
    token_type: session.token_type,
    expires_at: session.expires_at,
    user_id: session.user_id,
    tenant_id: session.tenant_id,
  });
  window.location.replace(`${appUrl}#${fragment}`);
}

// A full-page redirect sign-in leaves this tab and comes back to the callback: the attempt waits in
// sessionStorage (this tab only), and a problem found there is shown by the login page on return.
export function rememberRedirect(attempt) {
  sessionStorage.setItem(REDIRECT_KEY, JSON.stringify(attempt));
}

export function takeRedirect(state) {
  const saved = JSON.parse(sessionStorage.getItem(REDIRECT_KEY) || "null");
  if (!saved || !state || saved.state !== state) return null;
  sessionStorage.removeItem(REDIRECT_KEY);
  return saved;
}

export function rememberProblem(problem) {
  const { title, detail, adminHint, retry, code } = problem;
  sessionStorage.setItem(PROBLEM_KEY, JSON.stringify({ title, detail, adminHint, retry, code }));
}

export function takeProblem() {
  const saved = JSON.parse(sessionStorage.getItem(PROBLEM_KEY) || "null");
  sessionStorage.removeItem(PROBLEM_KEY);
  return saved ? new SignInProblem(saved) : null;
}
