// Calls to the API with the access token, which lives in memory only.
let token = null;

/** Shows the sign-in form in `root`; calls `next` once signed in. */
export function signIn(root, next) {
  token = null;
  const form = document.createElement('form');
  form.className = 'sign-in';
  form.innerHTML = `<h1>Sign in</h1>
    <p><label>E-mail <input name="email" type="email" autocomplete="username" required></label></p>
    <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
    <p><button type="submit">Sign in</button></p><p role="alert" class="error"></p>`;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const response = await fetch('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: data.get('email'), password: data.get('password') }),
    });
    if (!response.ok) {
      form.querySelector('.error').textContent = 'Sign-in failed: wrong e-mail or password.';
      return;
    }
    token = (await response.json()).access_token;
    next();
  });
  root.replaceChildren(form);
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

/** GET `path` with `params`; throws an Error (`signedOut` on a 401). A 429 (another tab
 * of the same user is busy) is retried a few times, later each time. */
export async function get(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const url = `${path}${query.size ? `?${query}` : ''}`;
  for (let attempt = 1; ; attempt += 1) {
    await turn();
    let response;
    try {
      response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    } finally {
      done();
    }
    if (response.status === 401) {
      const error = new Error('signed out');
      error.signedOut = true;
      throw error;
    }
    if (response.status === 429 && attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
      continue;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error?.message ?? `HTTP ${response.status}`);
    }
    return response.json();
  }
}
