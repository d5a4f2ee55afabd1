// dom.js - building elements without innerHTML, so that names, labels
// and history text coming from images can never become markup.

// h('a', {href: '/x', onclick: fn}, 'text', child...) makes an element.
// Attributes whose value is false, null or undefined are left out;
// children may be strings, numbers, nodes, arrays or null.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);

	for (const [key, value] of Object.entries(attrs || {})) {
		if (value === false || value === null || value === undefined)
			continue;
		if (key.startsWith('on') && typeof value === 'function')
			el.addEventListener(key.slice(2), value);
		else if (key === 'class')
			el.className = value;
		else if (value === true)
			el.setAttribute(key, '');
		else
			el.setAttribute(key, String(value));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const child of children) {
		if (child === null || child === undefined || child === false)
			continue;
		if (Array.isArray(child))
			append(el, child);
		else if (child instanceof Node)
			el.appendChild(child);
		else
			el.appendChild(document.createTextNode(String(child)));
	}
}

// Replaces everything inside el with children.
export function fill(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}
