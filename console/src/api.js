// Calls to the edge: every one carries the console's header (the edge refuses state changes
// without it, which a page on another site cannot add) and the session cookie. An answer is
// `{status, body}`; a 401 outside signing in ends the session for the whole console.

let signedOutHandler = () => {};

/// Thrown by `api` when the session has ended; the views let it pass.
export class SignedOut extends Error {
  constructor() {
    super("signed out");
  }
}

/// `handler(message)` brings the sign-in back when a call finds the session ended.
export function onSignedOut(handler) {
  signedOutHandler = handler;
}

export async function api(path, options = {}) {
  const response = await fetch(path, {
    method: options.method || "GET",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-rapport-console": "1" },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401 && path !== SESSION && path !== INVITE) {
    signedOutHandler("Your session has ended. Sign in again.");
    throw new SignedOut();
  }
  return { status: response.status, body };
}

/// What went wrong with an answer, in the edge's words, with the field at fault.
export function errorText(answer) {
  const error = answer.body?.error;
  if (!error) return `The edge answered ${answer.status}.`;
  return error.field ? `${error.message} (${error.field})` : error.message;
}

const SESSION = "/v1/console/session";
const INVITE = "/v1/console/invite";
const ROLES = ["viewer", "editor", "publisher", "owner"];

/// Who is signed in: their name and role, as the edge last said.
export const me = { name: null, role: null };

/// Whether the signed-in member's role is `role` or above. The page only hides what they may
/// not do; the edge refuses it whatever the page does.
export function may(role) {
  return ROLES.indexOf(me.role) >= ROLES.indexOf(role);
}

function remember(answer) {
  if (answer.status === 200 || answer.status === 201) {
    me.name = answer.body.name;
    me.role = answer.body.role;
  }
  return answer;
}

/// The session: whether there is one (and whose), signing in with a name and secret or the
/// admin token, joining by an invitation, signing out.
export const session = {
  active: async () => remember(await api(SESSION)).status === 200,
  start: async (body) => remember(await api(SESSION, { method: "POST", body })),
  invitation: (token) => api(INVITE, { method: "POST", body: { token } }),
  join: async (token, secret) => remember(await api(INVITE, { method: "PUT", body: { token, secret } })),
  end: () => api(SESSION, { method: "DELETE" }),
};
