// login.js - the login form.  The password goes to /ui/api/login once;
// berth answers with a session cookie the page cannot read (HttpOnly)
// and a CSRF token it sends back with every change.

import {h, fill} from './dom.js';
import {post, session} from './api.js';

function message(err) {
	if (err.status === 401)
		return 'Wrong user name or password.';
	if (err.status === 429)
		return 'Too many failed attempts. Wait a little, then try again.';
	if (err.status === 0)
		return 'Cannot reach the registry. Check that berth is running.';
	return 'Logging in failed: ' + err.message;
}

// Only addresses inside the UI are followed after login.
function nextPath(params) {
	const next = params.get('next') || '/';

	return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function loginView(app, main, params) {
	const info = app.info;
	const error = h('p', {class: 'notice error', role: 'alert', hidden: true});
	const user = h('input', {id: 'login-user', type: 'text', name: 'user',
		autocomplete: 'username', required: true, autofocus: true});
	const pass = h('input', {id: 'login-password', type: 'password',
		name: 'password', autocomplete: 'current-password',
		required: true});
	const button = h('button', {type: 'submit', class: 'primary'}, 'Log in');

	document.title = 'Log in - ' + info.title;
	if (!info.auth)
		return fill(main, h('p', {class: 'notice'}, 'This registry has ' +
			'no logins: everyone may use it without one.'));
	if (info.user)
		return fill(main, h('p', {class: 'notice'}, 'You are logged in ' +
			'as ', h('strong', {}, info.user), '. ',
			app.link('/', 'Go to the repositories')));

	const submit = async (e) => {
		e.preventDefault();
		button.disabled = true;
		error.hidden = true;
		try {
			const res = await post('login', {user: user.value,
				password: pass.value});
			session.csrf = res.csrf;
			pass.value = '';
			await app.refreshAccount();
			app.toast('Logged in as ' + res.user);
			const [path, qs] = nextPath(params).split('?');
			await app.navigate(path, qs ? Object.fromEntries(
				new URLSearchParams(qs)) : null);
		} catch (err) {
			fill(error, message(err));
			error.hidden = false;
			pass.select();
		} finally {
			button.disabled = false;
		}
	};

	fill(main, h('form', {class: 'card', onsubmit: submit},
		h('h1', {}, 'Log in'),
		h('p', {class: 'subtle'}, 'to ' + info.title + ' with your ' +
			'registry account.'),
		error,
		h('label', {for: 'login-user'}, 'User name'), user,
		h('label', {for: 'login-password'}, 'Password'), pass,
		h('div', {class: 'actions'}, button)));
	user.focus();
}
