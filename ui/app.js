// app.js - the web UI's entry point: loads who is asking and what the
// registry offers, draws the header, and routes addresses to views.
//
// Addresses mirror image references so they can be shared:
//   /                        the catalog (?q=search&page=N)
//   /r/<repository>          its tags (?sort=&order=&q=&page=)
//   /r/<repository>:<tag>    an image by tag
//   /r/<repository>@<digest> an image by digest (?platform=<digest>)
//   /login, /settings
// berth serves the same page at each of them, so reloading works.

import {h, fill} from './dom.js';
import {base, get, post, session, ApiError} from './api.js';
import {applyTheme} from './prefs.js';
import {catalogView} from './catalog.js';
import {repositoryView} from './repository.js';
import {imageView} from './image.js';
import {loginView} from './login.js';
import {settingsView} from './settings.js';

const main = document.getElementById('main');
const search = document.getElementById('search');
let renderCount = 0;

export const app = {
	info: null,

	// An address inside the UI, with base (http.prefix) in front.
	href(path, params) {
		const qs = params ? new URLSearchParams(params).toString() : '';
		return base + path.replace(/^\//, '') + (qs ? '?' + qs : '');
	},

	navigate(path, params, replace) {
		const url = this.href(path, params);

		if (replace)
			history.replaceState(null, '', url);
		else
			history.pushState(null, '', url);
		return render();
	},

	// Replaces the query of the current address without a new view.
	setParams(params) {
		const q = new URLSearchParams(params);

		for (const [k, v] of [...q.entries()])
			if (v === '' || v === null || v === undefined)
				q.delete(k);
		const qs = q.toString();
		history.replaceState(null, '', location.pathname +
			(qs ? '?' + qs : ''));
	},

	toast(message, isError) {
		const status = document.getElementById('status');
		const t = h('div', {class: 'toast' + (isError ? ' error' : '')},
			message);

		status.appendChild(t);
		setTimeout(() => t.remove(), isError ? 8000 : 3500);
	},

	// A notice explaining an error in words a person can act on.
	errorNotice(err) {
		return errorNotice(err);
	},

	link(path, text, params) {
		return h('a', {href: this.href(path, params), 'data-link': true},
			text);
	},

	refreshAccount: () => refreshInfo().then(drawAccount),

	// Draws the current address again, with fresh data.
	rerender: () => render(),
};

function loginLink() {
	const next = location.pathname.slice(base.length - 1) + location.search;
	return app.link('/login', 'Log in', next !== '/' ? {next} : null);
}

function errorNotice(err) {
	const status = err instanceof ApiError ? err.status : -1;
	const msg = err.message || String(err);
	const notice = (title, ...body) =>
		h('section', {class: 'notice error', role: 'alert'},
			h('h2', {}, title), ...body);

	if (status === 0)
		return notice('Cannot reach the registry',
			h('p', {}, 'berth did not answer at ' + location.origin +
				'. Check that it is running and that this ' +
				'network can reach it.'),
			h('button', {onclick: () => render()}, 'Try again'));
	if (status === 401)
		return notice('Log in needed',
			h('p', {}, 'This registry asks who you are before ' +
				'showing this.'),
			app.info && app.info.auth ? loginLink() : null);
	if (status === 403)
		return notice('Not allowed',
			h('p', {}, (app.info && app.info.user ?
				'Your account (' + app.info.user + ')' :
				'Your account') + ' may not see or do this. ' +
				'Ask the registry\'s administrator for access.'),
			h('p', {class: 'subtle'}, msg));
	if (status === 404)
		return notice('Not found',
			h('p', {}, 'There is nothing here: the repository, tag ' +
				'or image does not exist, or was deleted.'),
			h('p', {class: 'subtle'}, msg),
			app.link('/', 'Back to all repositories'));
	if (status === 429)
		return notice('Too many attempts', h('p', {}, msg));
	return notice('The registry failed',
		h('p', {}, (status > 0 ? 'Status ' + status + ': ' : '') + msg),
		h('button', {onclick: () => render()}, 'Try again'));
}

// Splits "/r/name:tag" or "/r/name@digest"; names have neither ':' nor
// '@', tags have no '/'.
function parseRepoPath(rest) {
	const at = rest.indexOf('@');

	if (at > 0)
		return {repo: rest.slice(0, at), ref: rest.slice(at + 1)};
	const colon = rest.lastIndexOf(':');
	if (colon > 0)
		return {repo: rest.slice(0, colon), ref: rest.slice(colon + 1)};
	return {repo: rest.replace(/\/+$/, ''), ref: null};
}

function viewFor(path, params) {
	if (path === '/' || path === '')
		return () => catalogView(app, main, params);
	if (path === '/login')
		return () => loginView(app, main, params);
	if (path === '/settings')
		return () => settingsView(app, main, params);
	if (path.startsWith('/r/') && path.length > 3) {
		const {repo, ref} = parseRepoPath(decodeURIComponent(
			path.slice(3)));
		if (ref)
			return () => imageView(app, main, repo, ref, params);
		return () => repositoryView(app, main, repo, params);
	}
	return () => {
		document.title = 'Not found - ' + app.info.title;
		fill(main, errorNotice(new ApiError(404, 'NOT_FOUND',
			'No page at this address.')));
	};
}

async function render() {
	const mine = ++renderCount;
	const path = '/' + location.pathname.slice(base.length);
	const params = new URLSearchParams(location.search);

	if (!app.info && !(await refreshInfo()))
		return;
	const view = viewFor(path, params);
	try {
		main.setAttribute('aria-busy', 'true');
		await view();
	} catch (err) {
		if (mine === renderCount)
			fill(main, errorNotice(err));
		if (!(err instanceof ApiError))
			console.error(err);
	} finally {
		if (mine === renderCount)
			main.removeAttribute('aria-busy');
	}
}

async function refreshInfo() {
	try {
		app.info = await get('info');
		session.csrf = app.info.csrf;
		document.getElementById('title').textContent = app.info.title;
		return true;
	} catch (err) {
		fill(main, errorNotice(err));
		return false;
	}
}

async function logout() {
	try {
		await post('logout');
	} catch (err) {
		app.toast('Logging out failed: ' + err.message, true);
		return;
	}
	session.csrf = null;
	await app.refreshAccount();
	app.toast('Logged out');
	app.navigate('/');
}

function drawAccount() {
	const nav = document.getElementById('account');
	const info = app.info;

	fill(nav,
		info && info.user ? [
			h('span', {class: 'user'}, 'Logged in as ',
				h('strong', {}, info.user)),
			h('button', {class: 'small', onclick: logout},
				'Log out'),
		] : null,
		info && info.auth && !info.user ? loginLink() : null,
		app.link('/settings', 'Settings'));
	fill(document.getElementById('footer'),
		'berth ' + (info ? info.version : ''), ' · registry API at ',
		h('code', {}, base + 'v2/'));
}

// Links marked data-link change the view without reloading the page.
function onClick(e) {
	const a = e.target.closest('a[data-link]');

	if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0)
		return;
	e.preventDefault();
	history.pushState(null, '', a.getAttribute('href'));
	render().then(() => main.focus({preventScroll: true}));
	window.scrollTo(0, 0);
}

function typing(target) {
	return target.closest('input, textarea, select, [contenteditable]');
}

function onKey(e) {
	if (e.key === '/' && !typing(e.target) && !e.ctrlKey && !e.metaKey &&
	    !e.altKey) {
		e.preventDefault();
		search.focus();
		search.select();
	} else if (e.key === 'Escape' && e.target === search) {
		search.blur();
	}
}

// The header's search filters the catalog as one types.
let searchTimer = null;
function onSearch() {
	clearTimeout(searchTimer);
	searchTimer = setTimeout(() => {
		const q = search.value.trim();
		const onCatalog = location.pathname === base;

		app.navigate('/', q ? {q} : null, onCatalog);
	}, 200);
}

function boot() {
	applyTheme();
	document.addEventListener('click', onClick);
	document.addEventListener('keydown', onKey);
	window.addEventListener('popstate', () => render());
	search.addEventListener('input', onSearch);
	document.getElementById('search-form').addEventListener('submit',
		(e) => {
			e.preventDefault();
			clearTimeout(searchTimer);
			const q = search.value.trim();
			app.navigate('/', q ? {q} : null);
		});
	render().then(drawAccount);
}

boot();
