// The dashboard: sign-in (the session survives a reload through the refresh cookie), the
// navigation, and the view the URL names.
import { account } from './account.js';
import { admin } from './admin.js';
import { anomalies } from './anomalies.js';
import { alerts } from './alerts.js';
import { get, resume, signIn, signOut } from './api.js';
import { h } from './dom.js';
import { filterBar } from './filters.js';
import { map } from './map.js';
import { overview } from './overview.js';
import { report, reports } from './reports.js';
import { sources } from './sources.js';
import { tasks } from './tasks.js';
import { current, href, router, withFilter } from './state.js';
import { uploadView } from './upload.js';

const app = document.getElementById('app');
const RANK = { viewer: 0, analyst: 1, admin: 2 };

/** The views: label in the navigation (none: reached by a link), lowest role, renderer. */
const VIEWS = {
  overview: { label: 'Overview', role: 'viewer', render: overview },
  sources: { label: 'Sources', role: 'viewer', render: sources },
  map: { label: 'Map', role: 'viewer', render: map },
  anomalies: { label: 'Anomalies', role: 'viewer', render: anomalies },
  reports: { label: 'Reports', role: 'viewer', render: reports },
  report: { role: 'viewer', render: report, under: 'reports' },
  upload: { label: 'Upload', role: 'analyst', render: uploadView },
  alerts: { label: 'Alerts', role: 'viewer', render: alerts },
  tasks: { label: 'Tasks', role: 'viewer', render: tasks },
  admin: { label: 'Admin', role: 'admin', render: admin },
  account: { label: 'Account', role: 'viewer', render: account },
};

let context = null;

function shell() {
  const nav = h('nav', { 'aria-label': 'Main' }, h('ul', {},
    Object.entries(VIEWS).filter(([, v]) => v.label && RANK[context.user.role] >= RANK[v.role])
      .map(([name, v]) => h('li', {}, h('a', { href: href(withFilter(name)), 'data-internal': true, 'data-view': name }, v.label)))));
  const main = h('main', { id: 'main', tabindex: '-1' });
  app.replaceChildren(h('a', { href: '#main', class: 'skip' }, 'Skip to the content'),
    h('header', {}, h('a', { href: '/', class: 'brand', 'data-internal': true }, 'dmarc'), nav,
      h('span', { class: 'who' }, context.user.email)), main);
  return main;
}

/** Shows the view of the URL. */
async function render() {
  if (!context) return;
  const name = VIEWS[current().view] ? current().view : 'overview';
  const view = VIEWS[name];
  const main = app.querySelector('main#main') ?? shell();
  for (const link of app.querySelectorAll('nav a[data-view]')) {
    // Each navigation link keeps the filter in force.
    link.href = href(withFilter(link.dataset.view));
    if (link.dataset.view === (view.under ?? name)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${view.label ?? 'Report'} · dmarc`;
  if (RANK[context.user.role] < RANK[view.role]) {
    main.replaceChildren(h('h1', {}, 'Not allowed'), h('p', {}, `This page needs the ${view.role} role.`));
    return;
  }
  // Each view draws into a container of its own: one left by a newer navigation is
  // detached, so what it still draws is never shown.
  const container = h('div', { class: 'view' });
  main.replaceChildren(container);
  try {
    await view.render(container, context);
  } catch (error) {
    if (!container.isConnected) return;
    if (error.signedOut) return signInForm('The session has ended. Sign in again.');
    container.append(h('p', { role: 'alert', class: 'error' }, `This page could not be loaded: ${error.message}`));
  }
}

function signInForm(notice = '') {
  context = null;
  const message = h('p', { role: 'alert', class: 'error' }, notice);
  const form = h('form', { class: 'sign-in stacked' }, h('h1', {}, 'Sign in'),
    h('p', {}, h('label', {}, 'E-mail ', h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true }))),
    h('p', {}, h('label', {}, 'Password ', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }))),
    h('p', {}, h('button', { type: 'submit' }, 'Sign in')), message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await signIn(data.get('email'), data.get('password'));
    } catch (error) {
      message.textContent = error.status === 429
        ? `Too many attempts: ${error.message}`
        : 'Sign-in failed: wrong e-mail or password.';
      return;
    }
    await enter();
  });
  app.replaceChildren(h('main', { class: 'narrow' }, form));
  form.querySelector('input').focus();
}

async function enter() {
  // The known domains are the filter's choices until the next sign-in or reload.
  const [user, domains] = await Promise.all([get('/users/me'), get('/api/domains').catch(() => [])]);
  context = {
    user,
    filters: (view) => filterBar(view, domains),
    signOut: async () => {
      await signOut().catch(() => {});
      signInForm('Signed out.');
    },
    signedOut: signInForm,
  };
  shell();
  await render();
}

router(render);
(async () => {
  if (await resume().catch(() => false)) {
    try {
      await enter();
      return;
    } catch {
      // fall through to the form
    }
  }
  signInForm();
})();
