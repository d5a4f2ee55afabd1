// pager.js - "Previous / Page N of M / Next" under a list.

import {h} from './dom.js';

// go(page) is called with the page to show; nothing when one page.
export function pager(page, perPage, total, go) {
	const pages = Math.max(1, Math.ceil(total / perPage));

	if (pages <= 1)
		return null;
	return h('nav', {class: 'pager', 'aria-label': 'Pages'},
		h('button', {type: 'button', disabled: page <= 1,
			onclick: () => go(page - 1)}, '← Previous'),
		h('span', {}, 'Page ' + page + ' of ' + pages),
		h('button', {type: 'button', disabled: page >= pages,
			onclick: () => go(page + 1)}, 'Next →'));
}
