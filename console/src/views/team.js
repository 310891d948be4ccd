// The team: who may do what in the console. Everyone sees it; the owner invites people by a
// one-time link, changes their roles and removes them. The edge enforces every role on every
// call; this page only leaves out what the signed-in member may not do.

import { api, errorText, may } from "../api.js";
import { el, errorLine, field, say, select, table } from "../dom.js";
import { timeText } from "../format.js";

const ROLES = [
  ["viewer", "Viewer: reads results and tries rules out, saves nothing"],
  ["editor", "Editor: also saves the draft and makes preview links"],
  ["publisher", "Publisher: also publishes and rolls back"],
  ["owner", "Owner: also manages the team and shoppers' data"],
];

export async function team(root) {
  const [answer, settings] = await Promise.all([api("/v1/admin/team"), api("/v1/admin/settings")]);
  if (answer.status !== 200) {
    root.replaceChildren(errorLine(answer));
    return;
  }
  const { members, invitations } = answer.body;
  const again = () => team(root);
  const owner = may("owner");
  root.replaceChildren(
    el(
      "dl",
      { class: "roles" },
      ...ROLES.flatMap(([role, text]) => [el("dt", { text: role }), el("dd", { text: text.split(": ")[1] })]),
    ),
    table(
      "Members",
      ["Name", "Role", "Invited by", "Joined"],
      members.map((m) => [m.name, m.role, m.invited_by, timeText(m.joined_ms)]),
      "Nobody but the owner (the admin token) yet.",
    ),
    owner ? changes(members, again) : "",
    table(
      "Open invitations",
      ["Name", "Role", "Invited by", "Link works until"],
      invitations.map((i) => [i.name, i.role, i.invited_by, timeText(i.expires_ms)]),
      "No invitation is waiting.",
    ),
    owner ? inviteForm(again) : el("p", { class: "muted", text: "The owner invites people and changes roles." }),
    settings.status === 200 ? approvals(settings.body.publish_approval, owner) : errorLine(settings),
  );
}

// Whether a publish waits for a second person's approval: the owner's to change.
function approvals(on, owner) {
  const box = el("input", {
    type: "checkbox",
    id: "publish-approval",
    checked: on ? "" : null,
    disabled: owner ? null : "",
  });
  box.addEventListener("change", async () => {
    const done = await api("/v1/admin/settings", { method: "PUT", body: { publish_approval: box.checked } });
    if (done.status === 200) {
      say(
        box.checked ? "Publishing now waits for a second person's approval" : "Publishing no longer waits for approval",
      );
    } else {
      box.checked = !box.checked;
      say(errorText(done));
    }
  });
  return el(
    "section",
    { "aria-labelledby": "workflow-title" },
    el("h3", { id: "workflow-title", text: "Publishing" }),
    el(
      "div",
      { class: "check-line" },
      box,
      el("label", {
        for: "publish-approval",
        text: "A publish waits until a second publisher approves it (rollbacks do not wait)",
      }),
    ),
  );
}

// The owner's form: a name and a role give a link to send to that person.
function inviteForm(again) {
  const name = el("input", { id: "invite-name", required: "", maxlength: "40" });
  const role = select("invite-role", ROLES, "editor");
  const out = el("div", { id: "invite-link", role: "status" });
  const form = el(
    "form",
    { class: "filters invite", "aria-labelledby": "invite-title" },
    field("invite-name", "Their name", name),
    field("invite-role", "Role", role),
    el("button", { type: "submit", text: "Make an invitation link" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await api("/v1/admin/team", { method: "POST", body: { name: name.value.trim(), role: role.value } });
    if (made.status !== 201) {
      out.replaceChildren(errorLine(made));
      return;
    }
    await again();
    const link = new URL(made.body.link, location.origin).href;
    const copy = el("button", {
      type: "button",
      text: "Copy the link",
      onclick: () => navigator.clipboard.writeText(link).then(() => say("Link copied")),
    });
    document.getElementById("invite-link").replaceChildren(
      el("p", {
        text: `Send this link to ${made.body.name} yourself; it works once, until ${timeText(made.body.expires_ms)}, and is not shown again:`,
      }),
      el("input", { id: "invite-url", readonly: "", value: link, "aria-label": "Invitation link" }),
      copy,
    );
  });
  return el("section", {}, el("h3", { id: "invite-title", text: "Invite someone" }), form, out);
}

// The owner's changes: a member's role, or their removal.
function changes(members, again) {
  if (members.length === 0) return "";
  const who = select(
    "member",
    members.map((m) => m.name),
    members[0].name,
  );
  const role = select("member-role", ROLES, members[0].role);
  who.addEventListener("change", () => {
    role.value = members.find((m) => m.name === who.value).role;
  });
  const out = el("p", { role: "status" });
  const call = async (method, body) => {
    const done = await api(`/v1/admin/team/${encodeURIComponent(who.value)}`, { method, body });
    if (done.status === 200) {
      say(method === "PUT" ? `${who.value} is now ${role.value}` : `${who.value} is off the team`);
      await again();
    } else out.textContent = errorText(done);
  };
  return el(
    "div",
    { class: "filters" },
    field("member", "Member", who),
    field("member-role", "Role", role),
    el("button", {
      type: "button",
      id: "change-role",
      text: "Change role",
      onclick: () => call("PUT", { role: role.value }),
    }),
    el("button", {
      type: "button",
      class: "quiet",
      id: "remove-member",
      text: "Remove",
      onclick: () => call("DELETE"),
    }),
    out,
  );
}
