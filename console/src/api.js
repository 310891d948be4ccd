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
  if (response.status === 401 && path !== SESSION) {
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

/// The session: whether there is one, signing in with the admin token, signing out.
export const session = {
  active: async () => (await api(SESSION)).status === 200,
  start: (token) => api(SESSION, { method: "POST", body: { token } }),
  end: () => api(SESSION, { method: "DELETE" }),
};
