// The local stack's stand-in for the Kutamo app: takes the session from the URL fragment (then removes
// it), and shows the person as the provisioning worker stored them: name, email, title and picture.
const SESSION_KEY = "kutamo.session";
const $ = (id) => document.getElementById(id);
const usersApi = document.getElementById("page").dataset.usersApi;
const status = $("status");

const handed = new URLSearchParams(window.location.hash.replace(/^#/, ""));
if (handed.get("session_token")) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(Object.fromEntries(handed)));
  window.history.replaceState(null, "", window.location.pathname);
}
const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");

function show(user) {
  $("greeting").textContent = `Welcome, ${user.name || "there"}`;
  $("name").textContent = user.name || "—";
  $("email").textContent = user.email || "—";
  $("title").textContent = user.title || "—";
  if (user.avatar_url) {
    $("avatar").src = usersApi + user.avatar_url;
    $("avatar").alt = `Picture of ${user.name || "you"}`;
    $("avatar").hidden = false;
  }
  $("profile").hidden = false;
}

async function load(attempt) {
  const response = await fetch(`${usersApi}/v1/users/${encodeURIComponent(session.user_id)}`, {
    headers: { Authorization: `Bearer ${session.session_token}`, Accept: "application/json" },
  }).catch(() => null);
  if (response && response.ok) {
    const user = await response.json();
    show(user);
    if (user.profile && user.profile.refreshed) {
      status.textContent = "Signed in.";
      return;
    }
  }
  if (attempt >= 60) {
    status.textContent = "Signed in. Your profile is still being set up; reload the page in a moment.";
    return;
  }
  status.textContent = "Signed in. Setting up your profile…";
  window.setTimeout(() => load(attempt + 1), 500);
}

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(SESSION_KEY);
  window.location.reload();
});

if (!session) {
  status.textContent = "You are not signed in. Open your organisation's login page to sign in.";
  $("sign-out").hidden = true;
} else {
  $("user-id").textContent = session.user_id;
  $("expires").textContent = new Date(session.expires_at).toLocaleString();
  if (usersApi) load(0);
  else status.textContent = "Signed in.";
}
