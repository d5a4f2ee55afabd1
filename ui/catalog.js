// catalog.js - every repository the user may pull, grouped by namespace
// (the first part of the name), with tag count, the bytes it holds in
// the store (and how many of them only it holds) and last push; for
// administrators the storage panel above.  Searching and paging happen
// on the server.

import {h, fill} from './dom.js';
import {get} from './api.js';
import {pref} from './prefs.js';
import {size, ago, exact} from './format.js';
import {pager} from './pager.js';
import {pullHost} from './actions.js';
import {storagePanel} from './storage.js';

// A big repository's size and last push may still be being worked out
// just after berth started; the page asks again shortly.
function pending(value) {
	return h('span', {class: 'subtle', title: 'being worked out'}, value);
}

// A usage cell: bytes in people's units, the exact count in the title
// and in data-bytes; "…" while berth is still counting after start.
function bytesCell(label, n, title) {
	if (n === null)
		return h('td', {class: 'num', 'data-label': label},
			pending('…'));
	return h('td', {class: 'num', 'data-label': label, 'data-bytes': n,
		title: n + ' bytes' + (title ? title : '')}, size(n));
}

function row(app, r) {
	const u = r.usage;

	return h('tr', {'data-repo': r.name},
		h('td', {'data-label': 'Repository'},
			app.link('/r/' + r.name, r.name)),
		h('td', {class: 'num', 'data-label': 'Tags'}, String(r.tags)),
		bytesCell('Stored', u ? u.bytes : null, u ? ', ' +
			u.sharedBytes + ' of them shared with other ' +
			'repositories' : ''),
		bytesCell('Only here', u ? u.exclusiveBytes : null,
			': deleting the repository would free these'),
		h('td', {'data-label': 'Last push', title: exact(r.lastPush)},
			r.pending ? pending('…') : ago(r.lastPush)));
}

function table(app, repos) {
	return h('div', {class: 'table-wrap'}, h('table', {class: 'cards'},
		h('thead', {}, h('tr', {},
			h('th', {scope: 'col'}, 'Repository'),
			h('th', {scope: 'col', class: 'num'}, 'Tags'),
			h('th', {scope: 'col', class: 'num',
				title: 'Bytes the repository holds in the ' +
				'store: its images\' layers, configs and ' +
				'manifests'}, 'Stored'),
			h('th', {scope: 'col', class: 'num',
				title: 'Bytes no other repository holds'},
			'Only here'),
			h('th', {scope: 'col'}, 'Last push'))),
		h('tbody', {}, repos.map((r) => row(app, r)))));
}

// "12 repositories · 1.2 GB in the store"; the store's total is there
// for those who may see every repository.
function summary(data, q) {
	const n = data.total + ' ' + (data.total === 1 ? 'repository' :
		'repositories') + (q ? ' matching “' + q + '”' : '');

	return h('p', {class: 'subtle', id: 'repo-count'}, n,
		data.storage ? [' · ', h('span', {id: 'store-total',
			'data-bytes': data.storage.bytes,
			title: data.storage.bytes + ' bytes'},
		size(data.storage.bytes)), ' in the store'] : null,
		data.usageUpdated ? null : ' · sizes are being worked out');
}

// Consecutive repositories of one namespace form a group.
function groups(app, repos) {
	const out = [];
	let current = null;

	for (const r of repos) {
		if (!current || current.ns !== r.namespace) {
			current = {ns: r.namespace, repos: []};
			out.push(current);
		}
		current.repos.push(r);
	}
	return out.map((g) => h('section', {class: 'group',
		'aria-label': g.ns ? 'Namespace ' + g.ns : 'No namespace'},
		h('h2', {}, g.ns ? g.ns + '/' : 'No namespace'),
		table(app, g.repos)));
}

function empty(app, q) {
	if (q)
		return h('p', {class: 'notice'}, 'No repository matches “' + q +
			'”.');
	return h('section', {class: 'notice'},
		h('h2', {}, 'No repositories yet'),
		h('p', {}, 'Push an image and it appears here:'),
		h('pre', {}, 'docker tag alpine ' + pullHost(app) +
			'/alpine:latest\ndocker push ' + pullHost(app) +
			'/alpine:latest'));
}

export async function catalogView(app, main, params) {
	const q = params.get('q') || '';
	const page = Math.max(1, Number(params.get('page')) || 1);
	const search = document.getElementById('search');
	const data = await get('repositories', {q, page,
		per_page: pref('perPage')});
	const panel = await storagePanel(app, data.storage);

	if (document.activeElement !== search)
		search.value = q;
	document.title = app.info.title;
	fill(main,
		h('h1', {}, 'Repositories'),
		summary(data, q),
		panel,
		data.total ? groups(app, data.repositories) : empty(app, q),
		pager(data.page, data.perPage, data.total, (p) =>
			app.navigate('/', {...(q ? {q} : {}), page: p})));
	if (!data.usageUpdated || data.repositories.some((r) => r.pending)) {
		const here = location.href;
		setTimeout(() => {
			if (location.href === here)
				app.rerender();
		}, 1500);
	}
}
