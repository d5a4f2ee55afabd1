// dialog.js - a modal question with a few answers, for confirmations
// before anything that cannot be undone.  Escape and "Cancel" answer
// null; the focus starts on Cancel so that Enter never confirms by
// accident.

import {h, fill} from './dom.js';

// Shows title and body (nodes or strings) with a Cancel button and one
// button per choice: [{label, value, class}].  Resolves to the value of
// the button pressed, or null.
export function ask(title, body, choices) {
	const dialog = h('dialog', {class: 'confirm',
		'aria-labelledby': 'confirm-title'});

	return new Promise((resolve) => {
		const done = (v) => {
			dialog.close();
			dialog.remove();
			resolve(v);
		};
		fill(dialog,
			h('h2', {id: 'confirm-title'}, title),
			body,
			h('div', {class: 'actions'},
				h('button', {type: 'button', autofocus: true,
					onclick: () => done(null)}, 'Cancel'),
				choices.map((c) => h('button', {type: 'button',
					class: c.class, onclick: () => done(c.value)},
					c.label))));
		dialog.addEventListener('cancel', (e) => {
			e.preventDefault();
			done(null);
		});
		document.body.appendChild(dialog);
		dialog.showModal();
	});
}
