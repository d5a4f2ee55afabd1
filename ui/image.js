// image.js - one image: a tab per platform for indexes; layers; config
// (entrypoint, cmd, env, labels, ports, user); history as a Dockerfile;
// referrers with their artifact type; the manifest as stored.

import {h, fill} from './dom.js';
import {get} from './api.js';
import {size, ago, exact, shortDigest, platform, historyStep}
	from './format.js';
import {copyButton, deleteItems, pullBox} from './actions.js';
import {pref} from './prefs.js';

function fact(label, ...value) {
	return [h('dt', {}, label), h('dd', {}, ...value)];
}

function list(values) {
	return values && values.length ?
		h('code', {}, values.map((v) => JSON.stringify(v)).join(' ')) :
		h('span', {class: 'subtle'}, 'none');
}

function prettyJSON(text) {
	try {
		return JSON.stringify(JSON.parse(text), null, 2);
	} catch (e) {
		return text;
	}
}

function rawSection(title, text) {
	return h('details', {class: 'raw-manifest'}, h('summary', {}, title),
		h('pre', {class: 'raw'}, prettyJSON(text)));
}

function configSection(img) {
	const rt = img.runtime;
	const labels = rt && rt.labels ? Object.entries(rt.labels) : [];

	if (!rt)
		return h('p', {class: 'subtle'}, 'No image configuration ' +
			'(an artifact, not a container image).');
	return h('section', {class: 'config'},
		h('h3', {}, 'Configuration'),
		h('dl', {class: 'facts'},
			fact('Entrypoint', list(rt.entrypoint)),
			fact('Command', list(rt.cmd)),
			fact('User', rt.user ? h('code', {}, rt.user) :
				h('span', {class: 'subtle'}, 'root (default)')),
			fact('Working directory', rt.workingDir ?
				h('code', {}, rt.workingDir) : '/'),
			fact('Exposed ports', rt.exposedPorts.length ?
				rt.exposedPorts.map((p) => h('span',
					{class: 'chip'}, p)) : h('span',
					{class: 'subtle'}, 'none')),
			rt.volumes.length ? fact('Volumes', rt.volumes.map((v) =>
				h('span', {class: 'chip'}, v))) : null,
			rt.stopSignal ? fact('Stop signal', rt.stopSignal) : null),
		h('h3', {}, 'Environment'),
		rt.env && rt.env.length ? h('ul', {class: 'plain env'},
			rt.env.map((e) => h('li', {}, h('code', {}, e)))) :
			h('p', {class: 'subtle'}, 'none'),
		h('h3', {}, 'Labels'),
		labels.length ? h('dl', {class: 'facts labels'},
			labels.map(([k, v]) => fact(h('code', {}, k), v))) :
			h('p', {class: 'subtle'}, 'none'));
}

function layersSection(img) {
	return h('section', {},
		h('h3', {}, 'Layers (' + img.layers.length + ')'),
		h('div', {class: 'table-wrap'}, h('table', {class: 'cards layers'},
			h('thead', {}, h('tr', {},
				h('th', {scope: 'col', class: 'num'}, '#'),
				h('th', {scope: 'col'}, 'Digest'),
				h('th', {scope: 'col'}, 'Media type'),
				h('th', {scope: 'col', class: 'num'}, 'Size'))),
			h('tbody', {}, img.layers.map((l, i) => h('tr', {},
				h('td', {class: 'num', 'data-label': '#'},
					String(i + 1)),
				h('td', {'data-label': 'Digest'}, h('code',
					{title: l.digest}, shortDigest(l.digest))),
				h('td', {'data-label': 'Media type'},
					h('code', {}, l.mediaType || '')),
				h('td', {class: 'num', 'data-label': 'Size'},
					size(l.size))))))));
}

function historySection(img) {
	if (!img.history || !img.history.length)
		return null;
	return h('section', {},
		h('h3', {}, 'History'),
		h('ol', {class: 'history', 'aria-label': 'Build steps'},
			img.history.map((step) => {
				const [kw, rest] = historyStep(step.createdBy ||
					step.comment || '');
				const layer = step.layer !== null ?
					img.layers[step.layer] : null;
				return h('li', {title: exact(step.created)},
					h('code', {class: 'step'},
						kw ? h('span', {class: 'kw'}, kw) :
							null, kw ? ' ' : '', rest),
					h('span', {class: 'size'}, layer ?
						size(layer.size) : ''));
			})));
}

function referrersSection(refs, app, repo) {
	if (!refs || !refs.length)
		return null;
	return h('section', {class: 'referrers'},
		h('h3', {}, 'Referrers (' + refs.length + ')'),
		h('p', {class: 'subtle'}, 'Signatures, SBOMs and attestations ' +
			'attached to this image.'),
		h('div', {class: 'table-wrap'}, h('table', {class: 'cards'},
			h('thead', {}, h('tr', {},
				h('th', {scope: 'col'}, 'Artifact type'),
				h('th', {scope: 'col'}, 'Digest'),
				h('th', {scope: 'col', class: 'num'}, 'Size'),
				h('th', {scope: 'col'}, 'Created'))),
			h('tbody', {}, refs.map((r) => {
				const created = r.annotations && r.annotations[
					'org.opencontainers.image.created'];
				return h('tr', {},
					h('td', {'data-label': 'Artifact type'},
						h('code', {}, r.artifactType ||
							r.mediaType)),
					h('td', {'data-label': 'Digest'},
						app.link('/r/' + repo + '@' +
							r.digest, shortDigest(
								r.digest))),
					h('td', {class: 'num', 'data-label':
						'Size'}, size(r.size)),
					h('td', {'data-label': 'Created',
						title: exact(created)},
						created ? ago(created) : '–'));
			})))));
}

function imageDetails(app, repo, img) {
	return [
		h('dl', {class: 'facts'},
			fact('Platform', platform(img)),
			fact('Digest', h('code', {}, img.digest)),
			fact('Compressed size', size(img.size)),
			fact('Created', img.created ? [ago(img.created), ' ',
				h('span', {class: 'subtle'},
					'(' + exact(img.created) + ')')] : '–'),
			img.artifactType ? fact('Artifact type',
				h('code', {}, img.artifactType)) : null,
			img.author ? fact('Author', img.author) : null),
		configSection(img),
		layersSection(img),
		historySection(img),
		referrersSection(img.referrers, app, repo),
		img.raw ? rawSection('Image manifest JSON', img.raw) : null,
	];
}

function isAttestation(m) {
	const type = m.annotations &&
		m.annotations['vnd.docker.reference.type'];
	return type === 'attestation-manifest' ||
		(m.platform && m.platform.os === 'unknown');
}

// Tabs with arrow-key movement, as the ARIA tabs pattern has it.
function platformTabs(app, repo, data, children, chosen, onPick) {
	const panel = h('div', {role: 'tabpanel', id: 'platform-panel',
		tabindex: '0'});
	const tabs = children.map((m, i) => h('button', {type: 'button',
		role: 'tab', id: 'tab-' + i, 'aria-controls': 'platform-panel',
		'aria-selected': String(i === chosen),
		tabindex: i === chosen ? '0' : '-1',
		onclick: () => pick(i),
		onkeydown: (e) => {
			const d = e.key === 'ArrowRight' ? 1 :
				e.key === 'ArrowLeft' ? -1 : 0;
			if (d) {
				const j = (i + d + tabs.length) % tabs.length;
				pick(j);
				tabs[j].focus();
			}
		}}, platform(m.platform || (m.image || {}))));
	const pick = (i) => {
		tabs.forEach((t, j) => {
			t.setAttribute('aria-selected', String(i === j));
			t.tabIndex = i === j ? 0 : -1;
		});
		panel.setAttribute('aria-labelledby', 'tab-' + i);
		const m = children[i];
		fill(panel, pullBox(app, repo, data.ref, m.platform),
			m.image ? imageDetails(app, repo, m.image) :
				h('p', {class: 'notice'}, 'This platform\'s ' +
					'manifest is not in the repository.'));
		onPick(m);
	};

	const el = h('div', {}, h('div', {role: 'tablist',
		'aria-label': 'Platforms'}, tabs), panel);
	pick(chosen);
	return el;
}

function header(app, repo, ref, data) {
	const title = ref.includes(':') ? repo + '@' + shortDigest(ref) :
		repo + ':' + ref;

	return [
		h('p', {class: 'crumbs'}, app.link('/', 'Repositories'), ' / ',
			app.link('/r/' + repo, repo)),
		h('h1', {}, title),
		h('dl', {class: 'facts'},
			fact('Digest', h('code', {class: 'digest'}, data.digest),
				' ', copyButton(app, data.digest, 'Copy digest')),
			fact('Kind', data.kind === 'index' ?
				'Multi-platform index' : 'Image'),
			fact('Media type', h('code', {}, data.mediaType)),
			fact('Tags', data.tags.length ? data.tags.map((t) =>
				h('span', {class: 'chip'}, app.link('/r/' + repo +
					':' + t, t))) : h('span',
					{class: 'subtle'}, 'untagged'))),
	];
}

function actions(app, repo, ref, data) {
	if (!(app.info.deleteEnabled && data.permissions.delete &&
	      pref('offerDelete')))
		return null;
	const isTag = !ref.includes(':');
	const remove = async () => {
		if (await deleteItems(app, repo, [{tag: isTag ? ref : null,
			digest: data.digest}]))
			app.navigate('/r/' + repo);
	};
	return h('div', {class: 'toolbar'}, h('button', {type: 'button',
		class: 'danger', onclick: remove},
		isTag ? 'Delete…' : 'Delete image…'));
}

export async function imageView(app, main, repo, ref, params) {
	const data = await get('image', {repo, ref});
	const pullSlot = pullBox(app, repo, ref, null);
	const children = data.kind === 'index' ?
		data.manifests.filter((m) => !isAttestation(m)) : [];
	const attestations = data.kind === 'index' ?
		data.manifests.filter(isAttestation) : [];
	let body;

	document.title = repo + ':' + ref + ' - ' + app.info.title;
	if (data.kind === 'index' && children.length) {
		const want = params.get('platform');
		const chosen = Math.max(0, children.findIndex((m) =>
			m.digest === want));
		data.ref = ref;
		body = platformTabs(app, repo, data, children, chosen, (m) =>
			app.setParams(m === children[0] ? {} :
				{platform: m.digest}));
	} else {
		body = data.image ? imageDetails(app, repo, data.image) : null;
	}

	fill(main,
		header(app, repo, ref, data),
		pullSlot,
		actions(app, repo, ref, data),
		data.kind === 'index' ? h('h2', {}, 'Platforms (' +
			children.length + ')') : h('h2', {}, 'Image'),
		body,
		attestations.length ? h('section', {},
			h('h2', {}, 'Build attestations'),
			h('ul', {class: 'plain'}, attestations.map((m) =>
				h('li', {}, h('code', {}, shortDigest(m.digest)),
					' for ', m.annotations && m.annotations[
						'vnd.docker.reference.digest'] ?
						h('code', {}, shortDigest(
							m.annotations[
							'vnd.docker.reference.digest'])) :
						'the index')))) : null,
		data.kind === 'index' ? referrersSection(data.referrers, app,
			repo) : null,
		rawSection(data.kind === 'index' ? 'Index JSON' :
			'Manifest JSON', data.raw));
}
