// Account: who is signed in, change of password (which ends every session), one's API keys
// (a new key is shown once; revoke), sign-out.
import { get, request } from './api.js';
import { field, h, time } from './dom.js';
import { sortable } from './table.js';

export async function account(main, context) {
  const message = h('p', { role: 'alert' });
  const form = h('form', { class: 'stacked' },
    h('h2', {}, 'Change password'),
    h('p', {}, h('label', {}, 'Current password ',
      h('input', { name: 'current', type: 'password', autocomplete: 'current-password', required: true }))),
    h('p', {}, h('label', {}, 'New password ',
      h('input', { name: 'next', type: 'password', autocomplete: 'new-password', required: true, minlength: 12 }))),
    h('p', {}, h('button', { type: 'submit' }, 'Change password')), message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await request('POST', '/users/me/password',
        { json: { current_password: data.get('current'), new_password: data.get('next') } });
    } catch (error) {
      message.textContent = `The password was not changed: ${error.message}`;
      return;
    }
    // Every session of the account has ended, this one too.
    context.signedOut('Password changed. Sign in with the new password.');
  });
  const out = h('button', { type: 'button' }, 'Sign out');
  out.addEventListener('click', () => context.signOut());
  main.replaceChildren(h('h1', {}, 'Account'),
    h('dl', { class: 'fields' }, h('dt', {}, 'E-mail'), h('dd', {}, context.user.email),
      h('dt', {}, 'Role'), h('dd', {}, context.user.role)),
    form, await apiKeys(), h('h2', {}, 'Session'), h('p', {}, out));
}

/** The caller's API keys: create (the key is shown this once), revoke. */
async function apiKeys() {
  const section = h('section', {}, h('h2', {}, 'API keys'));
  const message = h('p', { role: 'status' });
  const draw = async (note) => {
    const keys = await get('/users/api-keys');
    const columns = [
      { label: 'Name', value: (k) => k.name, cell: (k) => k.name },
      { label: 'Starts with', value: (k) => k.prefix, cell: (k) => h('code', {}, k.prefix) },
      { label: 'Created', value: (k) => k.created_at, cell: (k) => time(k.created_at) },
      { label: 'Last used', value: (k) => k.last_used_at ?? 0, cell: (k) => (k.last_used_at ? time(k.last_used_at) : 'never') },
      { label: 'State', value: (k) => k.revoked_at ?? 0, cell: (k) => {
        if (k.revoked_at) return `revoked ${time(k.revoked_at)}`;
        const revoke = h('button', { type: 'button', 'aria-label': `Revoke ${k.name}` }, 'Revoke');
        revoke.addEventListener('click', async () => {
          await request('DELETE', `/users/api-keys/${k.id}`);
          await draw(`${k.name} is revoked.`);
        });
        return revoke;
      } },
    ];
    const create = h('form', { class: 'inline' },
      field('Name of a new key', h('input', { name: 'name', required: true, maxlength: 100 })),
      h('button', { type: 'submit' }, 'Create key'));
    create.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const created = await request('POST', '/users/api-keys', { json: { name: new FormData(create).get('name') } });
        await draw();
        message.replaceChildren('Copy the key now; it is not shown again: ',
          h('code', { class: 'secret' }, created.key));
      } catch (error) {
        message.textContent = `No key created: ${error.message}`;
      }
    });
    section.replaceChildren(h('h2', {}, 'API keys'),
      keys.length ? sortable(columns, keys, 'Keys act with your role (send them as X-API-Key)') : h('p', {}, 'None.'),
      create, message);
    if (note) message.textContent = note;
  };
  await draw();
  return section;
}
