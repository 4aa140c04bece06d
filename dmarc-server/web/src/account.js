// Account: who is signed in, change of password (which ends every session), sign-out.
import { request } from './api.js';
import { h } from './dom.js';

export function account(main, context) {
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
    form, h('h2', {}, 'Session'), h('p', {}, out));
}
