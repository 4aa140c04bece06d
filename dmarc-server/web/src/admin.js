// Admin: users (create, change role, disable or enable, set a password, delete) and the
// audit log.
import { get, request } from './api.js';
import { field, h, options, status, time } from './dom.js';
import { pager, sortable } from './table.js';
import { current } from './state.js';

const ROLES = ['viewer', 'analyst', 'admin'];
const AUDIT_PAGE = 50;

const roleSelect = (name, value) => h('select', { name }, options(ROLES.map((role) => [role, role]), value));

export async function admin(main, context) {
  const wait = status();
  const message = h('p', { role: 'alert' });
  main.replaceChildren(h('h1', {}, 'Admin'), message, wait);
  const [users, audit] = await Promise.all([
    get('/users'),
    get('/audit', { limit: AUDIT_PAGE, offset: current().offset }),
  ]);
  wait.remove();
  const redraw = () => admin(main, context);
  /** Runs a change; shows its outcome and, when done, the page again. */
  const change = async (what, method, path, json) => {
    try {
      await request(method, path, { json });
    } catch (error) {
      message.textContent = `${what}: not done: ${error.message}`;
      return;
    }
    await redraw();
    main.querySelector('[role=alert]').textContent = `${what}: done.`;
  };
  const userColumns = [
    { label: 'E-mail', value: (u) => u.email, cell: (u) => u.email },
    { label: 'Role', value: (u) => u.role, cell: (u) => {
      const select = roleSelect('role', u.role);
      select.setAttribute('aria-label', `Role of ${u.email}`);
      select.addEventListener('change', () => change(`Role of ${u.email}`, 'PATCH', `/users/${u.id}`, { role: select.value }));
      return select;
    } },
    { label: 'State', value: (u) => u.disabled, cell: (u) => (u.disabled ? 'disabled' : 'enabled') },
    { label: 'Last sign-in', value: (u) => u.last_login_at ?? 0, cell: (u) => (u.last_login_at ? time(u.last_login_at) : 'never') },
    { label: 'Actions', cell: (u) => {
      const named = (text, action, extra = {}) =>
        h('button', { type: 'button', 'aria-label': `${action} ${u.email}`, ...extra }, text);
      const toggle = named(u.disabled ? 'Enable' : 'Disable', u.disabled ? 'Enable' : 'Disable');
      toggle.addEventListener('click', () => change(`${u.disabled ? 'Enable' : 'Disable'} ${u.email}`, 'PATCH',
        `/users/${u.id}`, { disabled: !u.disabled }));
      const password = h('input', { type: 'password', autocomplete: 'new-password', minlength: 12, required: true,
        'aria-label': `New password for ${u.email}`, placeholder: 'new password' });
      const reset = h('form', { class: 'row-actions' }, password,
        h('button', { type: 'submit', 'aria-label': `Set password of ${u.email}` }, 'Set password'));
      reset.addEventListener('submit', (event) => {
        event.preventDefault();
        change(`Password of ${u.email}`, 'PATCH', `/users/${u.id}`, { password: password.value });
      });
      const remove = named('Delete', 'Delete', { class: 'danger' });
      remove.addEventListener('click', () => {
        if (confirm(`Delete ${u.email}? Their sessions and API keys end.`)) {
          change(`Delete ${u.email}`, 'DELETE', `/users/${u.id}`);
        }
      });
      return h('span', { class: 'row-actions' }, toggle, reset, remove);
    } },
  ];
  const create = h('form', { class: 'inline' },
    field('E-mail', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' })),
    field('Role', roleSelect('role', 'viewer')),
    field('Password', h('input', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' })),
    h('button', { type: 'submit' }, 'Create user'));
  create.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(create);
    change(`Create ${data.get('email')}`, 'POST', '/users',
      { email: data.get('email'), role: data.get('role'), password: data.get('password') });
  });
  const auditColumns = [
    { label: 'When', value: (e) => e.at, cell: (e) => time(e.at) },
    { label: 'Who', value: (e) => e.actor, cell: (e) => e.actor },
    { label: 'Action', value: (e) => e.action, cell: (e) => e.action },
    { label: 'Target', value: (e) => e.target ?? '', cell: (e) => e.target ?? '–' },
    { label: 'From', value: (e) => e.ip ?? '', cell: (e) => e.ip ?? '–' },
    { label: 'Detail', value: (e) => JSON.stringify(e.detail), cell: (e) => h('code', {}, JSON.stringify(e.detail)) },
  ];
  main.append(
    h('section', {}, h('h2', {}, 'Users'), sortable(userColumns, users, 'Accounts (no self-registration)'),
      h('h3', {}, 'New user'), create),
    h('section', {}, h('h2', {}, 'Audit log'), sortable(auditColumns, audit.items, 'Newest first'), pager(audit)));
}
