// The dashboard: signs in, then shows the headline figures (its charts, filters and other
// pages are being built; see README).
const app = document.getElementById('app');
let token = null;

function signIn() {
  app.replaceChildren();
  const form = document.createElement('form');
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
    overview();
  });
  app.append(form);
}

async function overview() {
  const response = await fetch('/api/rollup/summary', { headers: { authorization: `Bearer ${token}` } });
  if (response.status === 401) return signIn();
  const summary = await response.json();
  app.replaceChildren();
  const h1 = document.createElement('h1');
  h1.textContent = 'Overview';
  const list = document.createElement('dl');
  for (const [label, value] of [['Messages', summary.messages], ['Reports', summary.reports],
    ['Domains', summary.domains], ['Reporters', summary.organizations]]) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = String(value);
    list.append(dt, dd);
  }
  app.append(h1, list);
}

signIn();
