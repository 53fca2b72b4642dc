// The UI's only way to the server: the JSON API with bearer tokens, like the Python client.
//
// Tokens: the access token lives in memory only; the refresh token in this tab's
// sessionStorage, so a reload keeps the session but closing the tab ends it and other
// sites can never send it (no cookies are used, so there is nothing to forge across sites).
// A 401 trades the refresh token for new tokens once and repeats the request; when that
// fails too, the session has expired and ``onExpired`` is called.

const REFRESH_KEY = "v6lib.refresh";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.code = (body && body.code) || "error";
    this.details = (body && body.details) || {};
  }
}

export class Api {
  constructor(basePath) {
    this.base = basePath.replace(/\/$/, "");
    this.access = null;
    this.onExpired = () => {};
  }

  get hasSession() {
    return Boolean(this.access || sessionStorage.getItem(REFRESH_KEY));
  }

  url(path, params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") query.set(key, value);
    }
    const text = query.toString();
    return `${this.base}${path}${text ? `?${text}` : ""}`;
  }

  async raw(method, path, { json, params, token, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    const bearer = token === undefined ? this.access : token;
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let response;
    try {
      response = await fetch(this.url(path, params), {
        method, headers, signal, credentials: "omit", cache: "no-store",
        body: json === undefined ? undefined : JSON.stringify(json),
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, { code: "server_unavailable",
        message: "the server cannot be reached; check your connection and try again" });
    }
    return response;
  }

  async request(method, path, options = {}) {
    const authenticated = options.token === undefined && this.hasSession;
    let response = await this.raw(method, path, options);
    if (response.status === 401 && authenticated) {
      if (await this.refresh()) {
        response = await this.raw(method, path, options);
      } else {
        this.forget();
        this.onExpired();
      }
    }
    return this.decode(response, options.binary);
  }

  async decode(response, binary) {
    if (response.ok && binary) return response.blob();
    let body = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) body = await response.json();
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  get(path, params, extra = {}) { return this.request("GET", path, { params, ...extra }); }
  post(path, json) { return this.request("POST", path, { json: json ?? {} }); }
  patch(path, json) { return this.request("PATCH", path, { json }); }
  delete(path) { return this.request("DELETE", path); }

  // Every item of a paged list (the API pages at most 1000 per request).
  async all(path, params = {}) {
    const items = [];
    for (let page = 1; ; page += 1) {
      const body = await this.get(path, { ...params, page, per_page: 500 });
      items.push(...body.data);
      if (items.length >= body.total || !body.data.length) return items;
    }
  }

  async login(username, password, mfaCode) {
    const json = { username, password };
    if (mfaCode) json.mfa_code = mfaCode;
    const body = await this.decode(
      await this.raw("POST", "/token/user", { json, token: null }));
    if (!body.access_token && body.otp_secret) {
      // enrolment (answered as vantage6 does, 200 without a token): show the secret
      throw new ApiError(200, { code: "mfa_required", message: body.msg, details: body });
    }
    this.keep(body.access_token, body.refresh_token);
    return body;
  }

  keep(access, refresh) {
    this.access = access;
    sessionStorage.setItem(REFRESH_KEY, refresh);
  }

  async refresh() {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    if (!refresh) return false;
    const response = await this.raw("POST", "/token/refresh", { token: refresh });
    if (!response.ok) {
      this.forget();
      return false;
    }
    const body = await response.json();
    this.keep(body.access_token, body.refresh_token);
    return true;
  }

  forget() {
    this.access = null;
    sessionStorage.removeItem(REFRESH_KEY);
  }

  // Calls that need no session: account recovery.
  anonymous(path, json) {
    return this.raw("POST", path, { json, token: null }).then((r) => this.decode(r));
  }
}
