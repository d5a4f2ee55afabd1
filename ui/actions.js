// actions.js - what a person does to images: copy a pull command, and
// delete tags or images after a confirmation that names every tag the
// deletion takes along.

import {h, fill} from './dom.js';
import {ask} from './dialog.js';
import {get, deleteManifest} from './api.js';
import {pref, setPref} from './prefs.js';
import {shortDigest} from './format.js';

export function pullHost(app) {
	return pref('pullHost') || app.info.pullHost;
}

// The pull command for one tool.  ref is "tag" or "sha256:..."; plat
// ({os, architecture, variant}) pins one platform of an index.
export function pullCommand(app, tool, repo, ref, plat) {
	const host = pullHost(app);
	const name = host + '/' + repo + (ref.includes(':') ? '@' : ':') + ref;
	const insecure = !app.info.tls;
	const p = plat && plat.os ? plat.os + '/' + plat.architecture +
		(plat.variant ? '/' + plat.variant : '') : null;

	if (tool === 'podman')
		return ['podman pull', insecure ? '--tls-verify=false' : null,
			p ? '--platform ' + p : null, name]
			.filter(Boolean).join(' ');
	if (tool === 'skopeo')
		return ['skopeo copy',
			insecure ? '--src-tls-verify=false' : null,
			p ? '--override-os ' + plat.os + ' --override-arch ' +
				plat.architecture : null,
			p && plat.variant ? '--override-variant ' +
				plat.variant : null,
			'docker://' + name, 'containers-storage:' + name]
			.filter(Boolean).join(' ');
	return ['docker pull', p ? '--platform ' + p : null, name]
		.filter(Boolean).join(' ');
}

// Copies text; navigator.clipboard needs a secure context (https or
// localhost), so plain-http registries on a LAN fall back to a selection.
export async function copyText(app, text) {
	let ok = false;

	if (navigator.clipboard && window.isSecureContext) {
		try {
			await navigator.clipboard.writeText(text);
			ok = true;
		} catch (e) {
			ok = false;
		}
	}
	if (!ok) {
		const ta = h('textarea', {class: 'visually-hidden',
			'aria-hidden': 'true'});
		ta.value = text;
		document.body.appendChild(ta);
		ta.select();
		try {
			ok = document.execCommand('copy');
		} catch (e) {
			ok = false;
		}
		ta.remove();
	}
	app.toast(ok ? 'Copied: ' + text : 'Copying failed; select the ' +
		'command and copy it by hand', !ok);
	return ok;
}

export function copyButton(app, text, label) {
	return h('button', {class: 'small', type: 'button',
		'aria-label': label || 'Copy ' + text,
		onclick: () => copyText(app, typeof text === 'function' ?
			text() : text)}, 'Copy');
}

const tools = ['docker', 'podman', 'skopeo'];

// The box with docker / podman / skopeo buttons and the command.
export function pullBox(app, repo, ref, plat) {
	const code = h('code', {class: 'pull-command'});
	const box = h('section', {class: 'pull', 'aria-label': 'Pull command'});
	const buttons = tools.map((tool) => h('button', {type: 'button',
		class: 'small', 'aria-pressed': String(tool === pref('tool')),
		onclick: () => {
			setPref('tool', tool);
			for (const b of buttons)
				b.setAttribute('aria-pressed',
					String(b.textContent === tool));
			draw();
		}}, tool));
	const draw = () => {
		code.textContent = pullCommand(app, pref('tool'), repo, ref,
			plat);
	};

	draw();
	return fill(box, h('div', {class: 'tools', role: 'group',
		'aria-label': 'Pull with'}, buttons),
		h('div', {class: 'command'}, code,
			copyButton(app, () => code.textContent,
				'Copy pull command')));
}

// Every tag of repo pointing at each digest: {digest: [tags]}.
async function tagsSharing(repo, digests) {
	const out = {};

	for (const d of digests) {
		const page = await get('tags', {repo, digest: d,
			per_page: 500, sort: 'name'});
		out[d] = page.tags.map((t) => t.name);
	}
	return out;
}

function digestBlock(digest, chosen, all) {
	const others = all.filter((t) => !chosen.includes(t));

	return h('li', {},
		h('code', {title: digest}, shortDigest(digest)), ' ',
		chosen.length ? ['tag', chosen.length > 1 ? 's ' : ' ',
			h('strong', {}, chosen.join(', '))] : null,
		h('div', {class: 'subtle shared'}, others.length ?
			['Also tagged ', h('strong', {}, others.join(', ')),
				': deleting the image removes these too.'] :
			'No other tag points to this image.'));
}

// Asks which deletion to do.  items: [{tag (or null), digest}].  Resolves
// to 'tags', 'images' or null (cancelled).
function askDelete(repo, items, shared) {
	const digests = [...new Set(items.map((i) => i.digest))];
	const tagged = items.filter((i) => i.tag);
	const choices = [{label: digests.length > 1 ? 'Delete ' +
		digests.length + ' images' : 'Delete image', value: 'images',
		class: 'danger solid'}];

	if (tagged.length)
		choices.unshift({label: tagged.length > 1 ? 'Delete ' +
			tagged.length + ' tags' : 'Delete tag', value: 'tags',
			class: 'danger'});
	return ask('Delete from ' + repo + '?', [
		h('ul', {class: 'plain'}, digests.map((d) => digestBlock(d,
			items.filter((i) => i.digest === d && i.tag)
				.map((i) => i.tag), shared[d] || []))),
		h('p', {class: 'subtle'}, 'Deleting a tag leaves the image ' +
			'for its other tags.  Deleting an image removes ' +
			'its manifest and every tag listed.  Disk space ' +
			'is freed by garbage collection.')], choices);
}

// Confirms and deletes; resolves to true when something was deleted.
export async function deleteItems(app, repo, items) {
	const digests = [...new Set(items.map((i) => i.digest))];
	let shared, choice, done = 0;

	try {
		shared = await tagsSharing(repo, digests);
	} catch (err) {
		app.toast('Cannot list the tags to delete: ' + err.message, true);
		return false;
	}
	choice = await askDelete(repo, items, shared);
	if (!choice)
		return false;

	const refs = choice === 'tags' ?
		items.filter((i) => i.tag).map((i) => i.tag) : digests;
	for (const ref of refs) {
		try {
			await deleteManifest(repo, ref);
			done++;
		} catch (err) {
			app.toast('Deleting ' + (ref.includes(':') ?
				shortDigest(ref) : ref) + ' failed: ' +
				err.message, true);
		}
	}
	if (done)
		app.toast('Deleted ' + done + (choice === 'tags' ? ' tag' :
			' image') + (done > 1 ? 's' : '') + ' from ' + repo);
	return done > 0;
}
