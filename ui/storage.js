// storage.js - the administrators' storage panel above the catalog: what
// the store holds, what a garbage collection would free now, the last
// collection's report, and a button that starts one (POST /admin/gc)
// after a confirmation, then follows it until it is done.  berth decides
// who is an administrator; the panel is only drawn for them.

import {h, fill} from './dom.js';
import {admin} from './api.js';
import {ask} from './dialog.js';
import {size, ago, exact} from './format.js';

const POLL_MS = 1000;

function count(n, one, many) {
	return n + ' ' + (n === 1 ? one : many || one + 's');
}

// Bytes in people's units, the exact number in a title and data-bytes.
function bytes(id, n) {
	return h('strong', {id, 'data-bytes': n, title: n + ' bytes'},
		size(n));
}

// "2 blobs, 1 manifest, 1 tag"; "nothing" when a run found no garbage.
function deleted(d) {
	const parts = [['blobs', 'blob'], ['manifests', 'manifest'],
		['tags', 'tag'], ['repositories', 'repository', 'repositories']]
		.filter(([key]) => d && d[key])
		.map(([key, one, many]) => count(d[key], one, many));

	return parts.length ? parts.join(', ') : 'nothing';
}

function when(iso) {
	return h('time', {datetime: iso, title: exact(iso)}, ago(iso));
}

function lastRun(run) {
	if (!run)
		return 'none since berth started';
	if (run.status !== 'done')
		return ['did not run (', when(run.finished), '): ',
			run.error || run.status];
	return [when(run.finished), run.dry_run ? ', a dry run: would ' +
		'free ' : ', freed ', bytes('gc-freed', run.freed_bytes),
		' (' + deleted(run.deleted) + ')'];
}

function schedule(gc) {
	if (!gc.scheduled)
		return 'on request only (storage.maintenance.gc.enabled is off)';
	return ['next ', when(gc.next_run)];
}

// The panel's rows for state gc (GET /admin/gc) and the catalog's
// storage totals (null while not yet worked out).
function facts(gc, storage) {
	const known = storage !== null;

	return h('dl', {class: 'facts'},
		h('dt', {}, 'In the store'),
		h('dd', {}, known ? [bytes('store-bytes', storage.bytes),
			' in ' + count(storage.blobs, 'blob')] :
			'being worked out…'),
		h('dt', {}, 'A collection would free'),
		h('dd', {}, known ? [bytes('gc-reclaimable',
			gc.reclaimable_bytes), ' now'] : 'being worked out…'),
		h('dt', {}, 'Last collection'),
		h('dd', {id: 'gc-last'}, lastRun(gc.last_run)),
		h('dt', {}, 'Scheduled'),
		h('dd', {}, schedule(gc)));
}

function confirmCollect(gc) {
	return ask('Collect garbage now?', [
		h('p', {}, 'berth deletes the blobs and manifests nothing ' +
			'references any more: about ',
		h('strong', {}, size(gc.reclaimable_bytes)), ' now.'),
		h('p', {class: 'subtle'}, 'Tagged images stay, and so does ' +
			'anything pushed within the grace period (' +
			Math.round(gc.grace_period_seconds / 60) + ' minutes), ' +
			'so pushes may go on meanwhile.  What is deleted ' +
			'cannot be brought back.')],
	[{label: 'Collect garbage', value: true, class: 'danger solid'}]);
}

// Polls until the run that follows before (the last run when it was
// started) has finished; resolves to the new state, or null when the
// panel left the page.
async function follow(panel, before) {
	// Two runs may finish within one second: compare whole reports.
	const mark = JSON.stringify(before || null);

	for (;;) {
		await new Promise((r) => setTimeout(r, POLL_MS));
		if (!panel.isConnected)
			return null;
		const gc = await admin('GET', 'gc');
		if (!gc.running && gc.last_run &&
		    JSON.stringify(gc.last_run) !== mark)
			return gc;
	}
}

// Draws the panel into section with state gc; starting marks the run
// asked for but not yet begun.
function draw(app, section, gc, storage, starting) {
	const running = gc.running || starting;

	fill(section,
		h('h2', {id: 'storage-title'}, 'Storage'),
		facts(gc, storage),
		h('div', {class: 'storage-actions'},
			h('button', {type: 'button', id: 'gc-start',
				class: 'danger', disabled: running,
				onclick: () => collect(app, section, gc, storage)},
			'Collect garbage now'),
			h('span', {id: 'gc-state', role: 'status'},
				running ? 'A collection is running…' : '')));
}

// Waits for the run after last (the last report before it started),
// then draws the catalog again, whose numbers it changed.
async function watch(app, section, last) {
	let done;

	try {
		done = await follow(section, last);
	} catch (err) {
		app.toast('Cannot follow the collection: ' + err.message, true);
		return;
	}
	if (!done)
		return;
	await app.rerender();
	if (done.last_run.status === 'done')
		app.toast('Collection done: freed ' +
			size(done.last_run.freed_bytes));
	else
		app.toast('The collection did not run: ' +
			(done.last_run.error || done.last_run.status), true);
}

async function collect(app, section, gc, storage) {
	if (!(await confirmCollect(gc)))
		return;
	draw(app, section, gc, storage, true);
	try {
		await admin('POST', 'gc');
	} catch (err) {
		// 409: one is running already (a scheduled one); follow it.
		if (err.status !== 409) {
			app.toast('Collecting garbage failed: ' + err.message,
				true);
			draw(app, section, gc, storage, false);
			return;
		}
	}
	await watch(app, section, gc.last_run);
}

// The panel for the catalog, or null for anyone but an administrator.
// storage is the catalog's totals (null while not yet known).  A panel
// that cannot load says why instead of hiding the catalog.
export async function storagePanel(app, storage) {
	if (!app.info.admin)
		return null;
	const section = h('section', {class: 'storage', id: 'storage',
		'aria-labelledby': 'storage-title'});

	try {
		const gc = await admin('GET', 'gc');

		draw(app, section, gc, storage, false);
		if (gc.running)
			watch(app, section, gc.last_run);
	} catch (err) {
		fill(section, h('h2', {id: 'storage-title'}, 'Storage'),
			h('p', {}, 'Cannot read the collector\'s state: ' +
				err.message));
	}
	return section;
}
