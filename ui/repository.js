// repository.js - one repository's tags: digest, size per platform,
// creation time, OS/architecture; sorted by name, version or date across
// all tags on the server; copy, delete and multi-select delete.

import {h, fill} from './dom.js';
import {get} from './api.js';
import {pref} from './prefs.js';
import {size, ago, exact, shortDigest, platform} from './format.js';
import {pager} from './pager.js';
import {copyText, deleteItems, pullCommand} from './actions.js';

const sorts = [['date', 'Date'], ['version', 'Version'], ['name', 'Name']];

function crumbs(app, repo) {
	const parts = repo.split('/');

	return h('p', {class: 'crumbs'}, app.link('/', 'Repositories'),
		parts.length > 1 ? [' / ', app.link('/', parts[0],
			{q: parts[0] + '/'})] : null);
}

function chips(t) {
	return t.platforms.map((p) => h('span', {class: 'chip',
		title: 'compressed size of ' + platform(p)},
		platform(p) + (t.platforms.length > 1 ? ' · ' + size(p.size) :
			'')));
}

function when(t) {
	const title = (t.created ? 'created ' + exact(t.created) + '\n' : '') +
		'pushed ' + exact(t.pushed);

	return h('td', {'data-label': t.created ? 'Created' : 'Pushed', title},
		ago(t.created || t.pushed),
		t.created ? null : h('span', {class: 'subtle'}, ' (pushed)'));
}

function tagRow(app, repo, t, state) {
	const box = state.canDelete ? h('input', {type: 'checkbox',
		'aria-label': 'Select ' + t.name,
		onchange: (e) => state.select(t, e.target.checked)}) : null;

	return h('tr', {'data-tag': t.name},
		state.canDelete ? h('td', {}, box) : null,
		h('td', {'data-label': 'Tag'},
			app.link('/r/' + repo + ':' + t.name, t.name),
			t.artifactType ? h('div', {class: 'subtle'},
				t.artifactType) : null),
		h('td', {'data-label': 'Digest'}, h('code', {title: t.digest},
			shortDigest(t.digest))),
		h('td', {class: 'num', 'data-label': 'Size'}, size(t.size)),
		when(t),
		h('td', {'data-label': 'Platforms'}, chips(t)),
		h('td', {class: 'row-actions'},
			h('button', {type: 'button', class: 'small',
				'aria-label': 'Copy pull command for ' + t.name,
				onclick: () => copyText(app, pullCommand(app,
					pref('tool'), repo, t.name))},
				'Copy pull'),
			state.canDelete ? [' ', h('button', {type: 'button',
				class: 'small danger',
				'aria-label': 'Delete ' + t.name,
				onclick: () => state.remove([t])}, 'Delete')] :
				null));
}

function tagTable(app, repo, tags, state) {
	return h('div', {class: 'table-wrap'}, h('table', {class: 'cards tags'},
		h('thead', {}, h('tr', {},
			state.canDelete ? h('th', {scope: 'col'},
				h('span', {class: 'visually-hidden'},
					'Select')) : null,
			h('th', {scope: 'col'}, 'Tag'),
			h('th', {scope: 'col'}, 'Digest'),
			h('th', {scope: 'col', class: 'num'}, 'Size'),
			h('th', {scope: 'col'}, 'Created'),
			h('th', {scope: 'col'}, 'Platforms'),
			h('th', {scope: 'col'},
				h('span', {class: 'visually-hidden'},
					'Actions')))),
		h('tbody', {}, tags.map((t) => tagRow(app, repo, t, state)))));
}

function select(label, value, options, onchange) {
	return h('label', {}, label, h('select', {onchange}, options.map(
		([v, text]) => h('option', {value: v, selected: v === value},
			text))));
}

function toolbar(app, repo, p, state) {
	let timer = null;
	const filter = h('input', {type: 'search', value: p.q,
		placeholder: 'Filter tags', 'aria-label': 'Filter tags',
		oninput: (e) => {
			clearTimeout(timer);
			timer = setTimeout(() => state.go({q: e.target.value,
				page: 1}, true), 200);
		}});

	return h('div', {class: 'toolbar'},
		h('label', {class: 'grow'}, 'Filter', filter),
		select('Sort by', p.sort, sorts, (e) => state.go({
			sort: e.target.value, page: 1})),
		select('Order', p.order, [['desc', p.sort === 'name' ?
			'Z → A' : p.sort === 'date' ? 'Newest first' :
			'Highest first'], ['asc', p.sort === 'name' ? 'A → Z' :
			p.sort === 'date' ? 'Oldest first' : 'Lowest first']],
		(e) => state.go({order: e.target.value, page: 1})),
		state.canDelete ? state.deleteSelected : null);
}

function params(p) {
	return {sort: p.sort, order: p.order, q: p.q,
		page: p.page > 1 ? p.page : ''};
}

export async function repositoryView(app, main, repo, query) {
	const sort = query.get('sort') || pref('tagSort');
	const p = {
		sort,
		order: query.get('order') || (sort === 'name' ? 'asc' : 'desc'),
		q: query.get('q') || '',
		page: Math.max(1, Number(query.get('page')) || 1),
	};
	const data = await get('tags', {repo, sort: p.sort, order: p.order,
		q: p.q, page: p.page, per_page: pref('perPage')});
	const selected = new Map();
	const state = {
		canDelete: app.info.deleteEnabled && data.permissions.delete &&
			pref('offerDelete'),
		deleteSelected: h('button', {type: 'button', class: 'danger',
			disabled: true, onclick: () =>
				state.remove([...selected.values()])},
			'Delete selected'),
		select(t, on) {
			if (on)
				selected.set(t.name, t);
			else
				selected.delete(t.name);
			this.deleteSelected.disabled = selected.size === 0;
			this.deleteSelected.textContent = selected.size ?
				'Delete selected (' + selected.size + ')' :
				'Delete selected';
		},
		async remove(tags) {
			if (await deleteItems(app, repo, tags.map((t) =>
				({tag: t.name, digest: t.digest}))))
				await app.navigate('/r/' + repo, params(p), true);
		},
		go(change, keepFocus) {
			Object.assign(p, change);
			if (keepFocus) {
				app.setParams(params(p));
				return refresh();
			}
			return app.navigate('/r/' + repo, params(p), true);
		},
	};
	const list = h('div', {id: 'tag-list'});
	const refresh = async () => {
		const d = await get('tags', {repo, sort: p.sort,
			order: p.order, q: p.q, page: p.page,
			per_page: pref('perPage')});
		drawList(d);
	};
	const drawList = (d) => {
		selected.clear();
		state.select({}, false);
		fill(list,
			h('p', {class: 'subtle', id: 'tag-count'}, d.total + ' ' +
				(d.total === 1 ? 'tag' : 'tags') +
				(p.q ? ' matching “' + p.q + '”' : '')),
			d.total ? tagTable(app, repo, d.tags, state) :
				h('p', {class: 'notice'}, p.q ?
					'No tag matches “' + p.q + '”.' :
					'This repository has no tags.'),
			pager(d.page, d.perPage, d.total, (n) =>
				state.go({page: n})));
	};

	document.title = repo + ' - ' + app.info.title;
	drawList(data);
	fill(main, crumbs(app, repo), h('h1', {}, repo),
		toolbar(app, repo, p, state), list);
}
