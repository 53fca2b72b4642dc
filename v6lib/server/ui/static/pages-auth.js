// Logging in (with two-factor enrolment), and account recovery by mail.

import qrcode from "./qrcode.mjs";
import { h, field, replace, message, busy, setFieldError } from "./dom.js";
import { app, startSession } from "./app.js";

function qrImage(uri) {
  const code = qrcode(0, "M");
  code.addData(uri);
  code.make();
  return h("img", { class: "qr", src: code.createDataURL(5, 2),
    alt: "QR code for your authenticator app; the same key is written out below" });
}

export function loginPage(view) {
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const code = h("input", { name: "mfa_code", inputmode: "numeric", autocomplete: "one-time-code",
    pattern: "[0-9]{6}", maxlength: 6 });
  const result = h("div");
  const enrol = h("div");
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "card", novalidate: true }, 
    field("Username", username),
    field("Password", password),
    field("Two-factor code", code, "The 6 digits of your authenticator app, if your account has one."),
    enrol, result,
    h("div", { class: "actions" }, submit,
      h("a", { href: "#/forgot" }, "Forgot your password?"),
      h("a", { href: "#/reset" }, "I have a reset token")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFieldError(username, username.value ? "" : "Enter your username.");
    setFieldError(password, password.value ? "" : "Enter your password.");
    if (!username.value || !password.value) {
      (username.value ? password : username).focus();
      return;
    }
    await busy(submit, result, async () => {
      try {
        await app.api.login(username.value, password.value, code.value.trim());
        sessionStorage.setItem("v6lib.username", username.value);
      } catch (err) {
        if (err.code === "mfa_required" && err.details.otp_secret) {
          showEnrolment(enrol, err.details, code);
          return;
        }
        throw err;
      }
      await startSession();
      const next = sessionStorage.getItem("v6lib.after-login") || "#/";
      sessionStorage.removeItem("v6lib.after-login");
      app.go(next === "#/login" ? "#/" : next);
    });
  });
  replace(view, h("div", { class: "narrow" }, h("h1", {}, "Log in"), form));
  username.focus();
}

function showEnrolment(slot, details, codeInput) {
  replace(slot, h("section", { class: "notice", "aria-labelledby": "enrol-title" },
    h("h2", { id: "enrol-title" }, "Set up two-factor authentication"),
    h("p", {}, "This server requires a second factor. Scan the code with an authenticator "
      + "app (or type the key into it), then enter the 6-digit code it shows and log in again."),
    qrImage(details.provisioning_uri),
    h("p", {}, "Key: ", h("span", { class: "secret", id: "otp-secret" }, details.otp_secret))));
  codeInput.focus();
}

export function forgotPage(view) {
  const who = h("input", { name: "account", autocomplete: "username", required: true });
  const result = h("div");
  const submit = h("button", { type: "submit" }, "Send me a reset token");
  const form = h("form", { class: "card", novalidate: true },
    field("Username or e-mail address", who),
    result, h("div", { class: "actions" }, submit, h("a", { href: "#/login" }, "Back to log in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = who.value.trim();
    setFieldError(who, value ? "" : "Enter your username or e-mail address.");
    if (!value) return;
    await busy(submit, result, async () => {
      const body = value.includes("@") ? { email: value } : { username: value };
      const answer = await app.api.anonymous("/recover/lost", body);
      replace(result, message("success", answer.msg),
        h("p", {}, h("a", { href: "#/reset" }, "Enter the token from the mail")));
    });
  });
  replace(view, h("div", { class: "narrow" }, h("h1", {}, "Forgot your password"),
    h("p", {}, "The server mails a one-time token to the address of your account."), form));
  who.focus();
}

export function resetPage(view, { query }) {
  const token = h("input", { name: "reset_token", autocomplete: "off", required: true,
    value: query.get("token") || "" });
  const password = h("input", { name: "password", type: "password",
    autocomplete: "new-password", required: true });
  const again = h("input", { name: "password_again", type: "password",
    autocomplete: "new-password", required: true });
  const result = h("div");
  const submit = h("button", { type: "submit" }, "Set new password");
  const form = h("form", { class: "card", novalidate: true },
    field("Reset token", token, "From the recovery mail."),
    field("New password", password),
    field("New password again", again),
    result, h("div", { class: "actions" }, submit, h("a", { href: "#/login" }, "Back to log in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFieldError(token, token.value.trim() ? "" : "Paste the token from the mail.");
    setFieldError(password, password.value ? "" : "Choose a new password.");
    setFieldError(again, again.value === password.value ? "" : "The two passwords differ.");
    if (!token.value.trim() || !password.value || again.value !== password.value) return;
    await busy(submit, result, async () => {
      await app.api.anonymous("/recover/reset",
        { reset_token: token.value.trim(), password: password.value });
      app.flash("success", "Your password is set; log in with it.");
      app.go("#/login");
    });
  });
  replace(view, h("div", { class: "narrow" }, h("h1", {}, "Reset your password"), form));
  (token.value ? password : token).focus();
}
