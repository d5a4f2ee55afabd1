// settings.js - choices kept in this browser: theme, pull commands, list
// sizes, and whether to offer deleting.  The title and whether deleting
// is possible at all are the server's (ui.title or REGISTRY_TITLE,
// storage.delete.enabled and ui.delete).

import {h, fill} from './dom.js';
import {pref, setPref} from './prefs.js';

function radio(name, value, label) {
	const id = name + '-' + value;

	return h('label', {class: 'inline', for: id},
		h('input', {type: 'radio', id, name, value,
			checked: pref(name) === value,
			onchange: () => saved(name, value)}), label);
}

function choice(id, label, key, options) {
	return [h('label', {for: id}, label), h('select', {id,
		onchange: (e) => saved(key, e.target.value)},
		options.map(([v, text]) => h('option', {value: v,
			selected: String(pref(key)) === String(v)}, text)))];
}

let savedApp = null;
function saved(key, value) {
	setPref(key, value);
	savedApp.toast('Saved');
}

export function settingsView(app, main) {
	const info = app.info;
	const host = h('input', {id: 'pull-host', type: 'text',
		value: pref('pullHost'), placeholder: info.pullHost,
		spellcheck: 'false',
		onchange: (e) => saved('pullHost', e.target.value.trim())});

	savedApp = app;
	document.title = 'Settings - ' + info.title;
	fill(main,
		h('h1', {}, 'Settings'),
		h('p', {class: 'subtle'}, 'Kept in this browser only.'),
		h('fieldset', {}, h('legend', {}, 'Theme'),
			radio('theme', 'auto', 'Follow the system'),
			radio('theme', 'light', 'Light'),
			radio('theme', 'dark', 'Dark')),
		h('fieldset', {}, h('legend', {}, 'Pull commands'),
			choice('pull-tool', 'Tool', 'tool', [['docker', 'docker'],
				['podman', 'podman'], ['skopeo', 'skopeo']]),
			h('label', {for: 'pull-host'}, 'Registry host'), host,
			h('p', {class: 'subtle'}, 'Leave empty to use ',
				h('code', {}, info.pullHost), ', the host berth ' +
				'is configured with (ui.pullhost, http.host) or ' +
				'was reached at.')),
		h('fieldset', {}, h('legend', {}, 'Lists'),
			choice('per-page', 'Rows per page', 'perPage',
				[[25, '25'], [50, '50'], [100, '100'],
					[250, '250'], [500, '500']]),
			choice('tag-sort', 'Sort tags by', 'tagSort',
				[['date', 'Date, newest first'],
					['version', 'Version, highest first'],
					['name', 'Name']])),
		h('fieldset', {}, h('legend', {}, 'Deleting'),
			info.deleteEnabled ? h('label', {class: 'inline',
				for: 'offer-delete'},
				h('input', {type: 'checkbox', id: 'offer-delete',
					checked: pref('offerDelete'),
					onchange: (e) => saved('offerDelete',
						e.target.checked)}),
				'Offer deleting tags and images') :
				h('p', {}, 'Deleting is off on this registry ' +
					'(storage.delete.enabled, ui.delete).')),
		h('p', {class: 'subtle'}, 'berth ' + info.version + '. The ' +
			'title comes from ui.title or REGISTRY_TITLE.'));
}
