// Calls to the API. The access token lives in memory only; the refresh token is an
// HttpOnly cookie the page never reads, so a reload resumes the session by refreshing.

let token = null;
/** A mark (not a secret) that this browser signed in, so a first visit does not try a
 * refresh it cannot have. */
const MARK = 'dmarc-signed-in';

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
    this.signedOut = status === 401;
  }
}

async function failure(response) {
  const body = await response.json().catch(() => ({}));
  return new ApiError(body.error?.message ?? `HTTP ${response.status}`, response.status);
}

/** Signs in; throws an ApiError when refused. */
export async function signIn(email, password) {
  const response = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, cookie: true }),
  });
  if (!response.ok) throw await failure(response);
  token = (await response.json()).access_token;
  localStorage.setItem(MARK, '1');
}

/** A new access token from the refresh cookie; false when the session has ended. Tabs take
 * turns (the cookie rotates: two tabs presenting the same one would end the session). */
async function refresh() {
  const attempt = async () => {
    const response = await fetch('/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-requested-with': 'dmarc' },
      body: '{}',
    });
    token = response.ok ? (await response.json()).access_token : null;
    if (!token) localStorage.removeItem(MARK);
    return token !== null;
  };
  return navigator.locks ? navigator.locks.request('dmarc-refresh', attempt) : attempt();
}

let refreshing = null;
/** One refresh at a time in this tab, however many requests found their token expired. */
function refreshOnce() {
  refreshing ??= refresh().finally(() => { refreshing = null; });
  return refreshing;
}

/** Resumes this browser's session after a reload; true when signed in. */
export async function resume() {
  return localStorage.getItem(MARK) === '1' && refreshOnce();
}

/** Ends the session (its refresh cookie too). */
export async function signOut() {
  try {
    await request('POST', '/auth/logout');
  } finally {
    token = null;
    localStorage.removeItem(MARK);
  }
}

/** Requests in flight at most: the server computes at most 4 expensive answers at once per
 * user and refuses more (429), so a page asks for 3 at a time and waits for its turn. */
const MAX_IN_FLIGHT = 3;
let inFlight = 0;
const waiting = [];

async function turn() {
  if (inFlight >= MAX_IN_FLIGHT) await new Promise((resolve) => waiting.push(resolve));
  inFlight += 1;
}

function done() {
  inFlight -= 1;
  waiting.shift()?.();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `path` with `params` as its query (empty values left out). */
export function url(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [k, String(v)]));
  return query.size ? `${path}?${query}` : path;
}

/** A request with the access token; the JSON answer (null for 204), or the response itself
 * with `raw`. An expired token is refreshed once; a 429 (another tab of the same user is
 * busy) is retried a few times, later each time. Throws an ApiError. */
export async function request(method, path, { params, json, raw } = {}) {
  for (let attempt = 1, refreshed = false; ; attempt += 1) {
    await turn();
    let response;
    try {
      const headers = { authorization: `Bearer ${token}` };
      if (json !== undefined) headers['content-type'] = 'application/json';
      response = await fetch(url(path, params), {
        method, headers, body: json === undefined ? undefined : JSON.stringify(json),
      });
    } finally {
      done();
    }
    if (response.status === 401 && !refreshed) {
      refreshed = true;
      if (await refreshOnce()) continue;
    }
    if (response.status === 429 && attempt < 5) {
      await sleep(300 * attempt);
      continue;
    }
    if (!response.ok) throw await failure(response);
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }
}

export const get = (path, params) => request('GET', path, { params });

/** Saves the answer of `path` as a file (downloads need the access token, so a plain link
 * cannot fetch them). */
export async function download(path) {
  const response = await request('GET', path, { raw: true });
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1]
    ?? 'download';
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return name;
}

/** Uploads `files` in one request, calling `progress(bytesSent)` as they go; the answer
 * (one entry per file). */
export async function upload(files, progress) {
  const send = () => new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append('files', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.upload.addEventListener('progress', (e) => progress(e.loaded));
    xhr.addEventListener('load', () => resolve(xhr));
    xhr.addEventListener('error', () => reject(new ApiError('the upload was interrupted', 0)));
    xhr.send(form);
  });
  let xhr = await send();
  if (xhr.status === 401 && await refreshOnce()) xhr = await send();
  let body = {};
  try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
  if (xhr.status !== 200) throw new ApiError(body.error?.message ?? `HTTP ${xhr.status}`, xhr.status);
  return body;
}
